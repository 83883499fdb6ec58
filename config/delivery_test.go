package config_test

import (
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/config"
)

// TestEnvexecDelivery: a pod gets the platform's delivery, may choose another only among
// --allowed-envexec-deliveries, and image-volume needs envexec's file to be called envexec.
func TestEnvexecDelivery(t *testing.T) {
	t.Parallel()
	const ann = config.AnnotationPrefix + "envexec-delivery"
	cases := map[string]struct {
		flags       []string
		annotation  string
		imageVolume bool
		err         string
	}{
		"default is init-copy":         {},
		"platform default image":       {flags: []string{"--envexec-delivery=image-volume"}, imageVolume: true},
		"pod chooses an allowed one":   {flags: []string{"--allowed-envexec-deliveries=image-volume"}, annotation: "image-volume", imageVolume: true},
		"pod chooses the default":      {annotation: "init-copy"},
		"pod chooses a disallowed one": {annotation: "image-volume", err: `annotation "vault-injector.io/envexec-delivery": image-volume is not allowed by the platform`},
		"pod goes back to init-copy":   {flags: []string{"--envexec-delivery=image-volume", "--allowed-envexec-deliveries=init-copy"}, annotation: "init-copy"},
		"unknown delivery":             {annotation: "hostpath", err: `"hostpath" is not init-copy or image-volume`},
		"image volume, odd file name":  {flags: []string{"--envexec-delivery=image-volume", "--envexec-path=/bin/env-exec"}, err: `needs --envexec-path to name a file called envexec, not "/bin/env-exec"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w, err := parse(t, append([]string{"--vault-addr=https://vault.example:8200"}, tc.flags...), nil)
			if err != nil {
				t.Fatal(err)
			}
			var annotations map[string]string
			if tc.annotation != "" {
				annotations = map[string]string{ann: tc.annotation}
			}
			p, _, err := config.ParsePod(annotations, "", w)
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("err = %v, want %q", err, tc.err)
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case tc.err == "" && p.ImageVolume != tc.imageVolume:
				t.Errorf("image volume = %v, want %v", p.ImageVolume, tc.imageVolume)
			}
		})
	}
}
