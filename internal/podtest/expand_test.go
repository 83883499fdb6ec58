package podtest

import "testing"

func TestExpand(t *testing.T) {
	t.Parallel()
	env := map[string]string{"A": "x", "EMPTY": ""}
	lookup := func(n string) (string, bool) { v, ok := env[n]; return v, ok }
	// Cases follow the kubelet's third_party/forked/golang/expansion behaviour.
	cases := map[string]struct{ in, want string }{
		"plain":                {"echo hi", "echo hi"},
		"known":                {"$(A)-$(A)", "x-x"},
		"empty value":          {"[$(EMPTY)]", "[]"},
		"unknown kept":         {"$(B)", "$(B)"},
		"escaped dollar":       {"$$", "$"},
		"shell pid":            {"echo $$$$", "echo $$"},
		"escaped reference":    {"$$(A)", "$(A)"},
		"shell variable":       {"$HOME ${X}", "$HOME ${X}"},
		"trailing dollar":      {"a$", "a$"},
		"unterminated":         {"$(A $$", "$(A $"},
		"empty name":           {"$()", "$()"},
		"command substitution": {"$$(date)", "$(date)"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := Expand(c.in, lookup); got != c.want {
				t.Errorf("Expand(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}
