package settings

import (
	"io/fs"
	"strings"
	"testing"
)

func baseEnv(extra ...string) []string {
	return append([]string{EnvVaultAddr + "=http://127.0.0.1:8200", EnvRole + "=app"}, extra...)
}

func TestParseFiles(t *testing.T) {
	t.Parallel()
	files := EncodeFiles([]FileSpec{
		{Path: "/vault/secrets/tls.crt", Content: ">>vault:pki/issue/web#certificate#{\"common_name\":\"web.example\"}"},
		{Path: "/vault/secrets/conf/app.ini", Mode: 0o440, Content: "user = ${vault:secret/app#user}\npassword = ${vault:secret/app#password}\n"},
	})
	s, err := ParseSettings(baseEnv(EnvFilesDir+"=/vault/secrets", EnvFiles+"="+files))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Files) != 2 || s.FilesDir != "/vault/secrets" {
		t.Fatalf("files = %+v, dir %q", s.Files, s.FilesDir)
	}
	if f := s.Files[0]; f.Mode != DefaultFileMode || len(f.Content.Refs) != 1 || f.Path != "/vault/secrets/tls.crt" {
		t.Errorf("first file = %+v", f)
	}
	if f := s.Files[1]; f.Mode != 0o440 || len(f.Content.Refs) != 2 {
		t.Errorf("second file = %+v", f)
	}
}

func TestParseFilesRefusals(t *testing.T) {
	t.Parallel()
	one := func(path, mode, content string) string {
		return `[{"path":` + quote(path) + `,"mode":` + quote(mode) + `,"content":` + quote(content) + `}]`
	}
	many := make([]FileSpec, MaxFiles+1)
	for i := range many {
		many[i] = FileSpec{Path: "/d/f" + strings.Repeat("x", i), Content: "x"}
	}
	tests := map[string]struct {
		dir, files, want string
	}{
		"traversal":            {"/d", one("/d/../etc/passwd", "", "x"), `path "/d/../etc/passwd" is not clean`},
		"outside":              {"/d", one("/etc/passwd", "", "x"), "is not below the files directory /d"},
		"the directory itself": {"/d", one("/d", "", "x"), "is not below"},
		"relative":             {"/d", one("d/x", "", "x"), "is not absolute"},
		"double slash":         {"/d", one("/d//x", "", "x"), "is not clean"},
		"no directory":         {"", one("/d/x", "", "x"), EnvFilesDir + ": is required with " + EnvFiles},
		"root directory":       {"/", one("/x", "", "x"), `"/" cannot be the files directory`},
		"world readable":       {"/d", one("/d/x", "0644", "x"), "allows more than 0750"},
		"setuid":               {"/d", one("/d/x", "4700", "x"), "allows more than 0750"},
		"owner cannot read":    {"/d", one("/d/x", "0200", "x"), "does not let the owner read"},
		"not octal":            {"/d", one("/d/x", "rw", "x"), "is not an octal number"},
		"malformed reference":  {"/d", one("/d/x", "", "vault:secret/app"), `file "/d/x"`},
		"content too large":    {"/d", one("/d/x", "", strings.Repeat("a", MaxFileContent+1)), "at most 16384"},
		"too many":             {"/d", EncodeFiles(many), "65 files, at most 64"},
		"twice":                {"/d", `[{"path":"/d/x","content":"a"},{"path":"/d/x","content":"b"}]`, "named twice"},
		"unknown field":        {"/d", `[{"path":"/d/x","content":"a","owner":0}]`, "not a JSON list"},
		"not json":             {"/d", `/d/x`, "not a JSON list"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := baseEnv(EnvFiles + "=" + tt.files)
			if tt.dir != "" {
				env = append(env, EnvFilesDir+"="+tt.dir)
			}
			_, err := ParseSettings(env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func TestParseFileModeBounds(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]fs.FileMode{"": 0o400, "0400": 0o400, "440": 0o440, "0750": 0o750, "0700": 0o700} {
		if got, err := ParseFileMode(v); err != nil || got != want {
			t.Errorf("ParseFileMode(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"0777", "0604", "1400", "0", "0o400", "-400", "99999999999"} {
		if _, err := ParseFileMode(v); err == nil {
			t.Errorf("ParseFileMode(%q) accepted", v)
		}
	}
}
