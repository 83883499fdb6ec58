package config_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/envexec/settings"
)

const fileSecret = "s3cr3t-file-canary"

func TestParsePodFiles(t *testing.T) {
	t.Parallel()
	w, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := config.ParsePod(map[string]string{
		"vault-injector.io/files-dir":    "/etc/app",
		"vault-injector.io/file.tls-crt": `{"container":"web","path":"tls/tls.crt","content":"vault:pki/issue/web#certificate"}`,
		"vault-injector.io/file.conf":    `{"container":"web","path":"/etc/app/app.ini","mode":"0440","content":"pw = ${vault:secret/app#pw}"}`,
		"vault-injector.io/file.worker":  `{"container":"worker","path":"app.ini","content":"plain"}`,
	}, "app", w)
	if err != nil {
		t.Fatal(err)
	}
	if p.Dir() != "/etc/app" || len(p.Files) != 3 {
		t.Fatalf("dir %q, files %+v", p.Dir(), p.Files)
	}
	web := p.FilesOf("web")
	want := []settings.FileSpec{
		{Path: "/etc/app/app.ini", Mode: 0o440, Content: "pw = ${vault:secret/app#pw}"},
		{Path: "/etc/app/tls/tls.crt", Mode: 0o400, Content: "vault:pki/issue/web#certificate"},
	}
	if fmt.Sprint(web) != fmt.Sprint(want) {
		t.Errorf("files of web = %+v, want %+v (key order)", web, want)
	}
	if got := p.FileContainers(); fmt.Sprint(got) != "[web worker]" {
		t.Errorf("containers = %v", got)
	}
}

func TestParsePodFilesErrors(t *testing.T) {
	t.Parallel()
	w, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	file := func(path, mode, content string) string {
		return fmt.Sprintf(`{"container":"app","path":%q,"mode":%q,"content":%q}`, path, mode, content)
	}
	key := "vault-injector.io/file.x"
	cases := map[string]struct {
		ann  map[string]string
		want string
	}{
		"traversal":           {map[string]string{key: file("../../etc/passwd", "", "x")}, `"/vault/secrets/../../etc/passwd" is not clean`},
		"absolute elsewhere":  {map[string]string{key: file("/etc/passwd", "", "x")}, "is not below the files directory /vault/secrets"},
		"the directory":       {map[string]string{key: file("/vault/secrets", "", "x")}, "is not below"},
		"no path":             {map[string]string{key: file("", "", "x")}, "is not absolute"},
		"mode for others":     {map[string]string{key: file("a", "0444", "x")}, "allows more than 0750"},
		"mode setuid":         {map[string]string{key: file("a", "4500", "x")}, "allows more than 0750"},
		"malformed reference": {map[string]string{key: file("a", "", "vault:secret/app")}, "content:"},
		"content too large":   {map[string]string{key: file("a", "", strings.Repeat("x", settings.MaxFileContent+1))}, "at most 16384"},
		"no container":        {map[string]string{key: `{"path":"a","content":"x"}`}, `"container" must name the container`},
		"unknown field":       {map[string]string{key: `{"container":"app","path":"a","content":"x","uid":0}`}, "is not a JSON object"},
		"not json":            {map[string]string{key: "/vault/secrets/a"}, "is not a JSON object"},
		"trailing data":       {map[string]string{key: file("a", "", "x") + "{}"}, "is not a JSON object"},
		"bad name":            {map[string]string{"vault-injector.io/file.": file("a", "", "x")}, "is not a file name"},
		"same path twice":     {map[string]string{key: file("a", "", "x"), "vault-injector.io/file.y": file("/vault/secrets/a", "", "y")}, `is also written by annotation "vault-injector.io/file.x"`},
		"NUL in content":      {map[string]string{key: `{"container":"app","path":"a","content":"x\u0000y"}`}, "content holds a NUL byte"},
		"envexec's temp name": {map[string]string{key: file(".envexec-tmp-b", "", "x")}, "which envexec uses for files being written"},
		"a file below a file": {
			map[string]string{key: file("a", "", "x"), "vault-injector.io/file.y": file("a/b", "", "y")},
			`files of container "app": path /vault/secrets/a/b is below /vault/secrets/a, another file`,
		},
		"files-dir relative":    {map[string]string{"vault-injector.io/files-dir": "etc/app"}, "is not a clean absolute path"},
		"files-dir root":        {map[string]string{"vault-injector.io/files-dir": "/"}, `"/" cannot be the files directory`},
		"files-dir not cleaned": {map[string]string{"vault-injector.io/files-dir": "/etc/app/../.."}, "is not a clean absolute path"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, _, err := config.ParsePod(tc.ann, "app", w)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), fileSecret) {
				t.Errorf("the error quotes the content: %v", err)
			}
		})
	}
}

// TestParsePodFilesNeverQuoteContent: content is a template, but a pod author may paste
// a secret by mistake; no message repeats it.
func TestParsePodFilesNeverQuoteContent(t *testing.T) {
	t.Parallel()
	w, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, content := range []string{"vault:" + fileSecret, fileSecret + "${vault:broken", strings.Repeat(fileSecret, 2000)} {
		_, _, err := config.ParsePod(map[string]string{"vault-injector.io/file.x": fmt.Sprintf(`{"container":"app","path":"a","content":%q}`, content)}, "app", w)
		if err == nil {
			t.Fatalf("content %.20q accepted", content)
		}
		if strings.Contains(err.Error(), fileSecret) {
			t.Errorf("the error quotes the content: %v", err)
		}
	}
}

func TestParsePodTooManyFiles(t *testing.T) {
	t.Parallel()
	w, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ann := map[string]string{}
	for i := range settings.MaxFiles + 1 {
		ann[fmt.Sprintf("vault-injector.io/file.f%03d", i)] = fmt.Sprintf(`{"container":"app","path":"f%d","content":"x"}`, i)
	}
	_, _, err = config.ParsePod(ann, "app", w)
	if err == nil || !strings.Contains(err.Error(), `container "app" would get more than 64 files`) {
		t.Errorf("err = %v", err)
	}
}

func TestParsePodWatchInterval(t *testing.T) {
	t.Parallel()
	w, err := parse(t, []string{"--envexec-watch-interval=2m"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range map[string]string{"": "2m0s", "2m": "2m0s", "1h": "1h0m0s", "0s": "0s"} {
		ann := map[string]string{}
		if v != "" {
			ann["vault-injector.io/watch-interval"] = v
		}
		p, _, err := config.ParsePod(ann, "app", w)
		if err != nil || p.WatchInterval.String() != want {
			t.Errorf("watch-interval %q: %v, %v; want %s", v, p.WatchInterval, err, want)
		}
	}
	for v, want := range map[string]string{"1m": "shorter than 2m0s", "-1m": "shorter than", "often": "not a duration"} {
		_, _, err := config.ParsePod(map[string]string{"vault-injector.io/watch-interval": v}, "app", w)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("watch-interval %q: err = %v, want %q", v, err, want)
		}
	}
	if _, err := parse(t, []string{"--envexec-watch-interval=500ms"}, nil); err == nil || !strings.Contains(err.Error(), "shorter than 1s") {
		t.Errorf("--envexec-watch-interval=500ms: err = %v", err)
	}
}
