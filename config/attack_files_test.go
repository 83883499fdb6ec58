package config_test

import (
	"testing"

	"github.com/vault-injector/vault-injector/config"
)

// TestAttackParentAndChildPathsAdmitted: two files of one container where one path is a
// directory of the other are admitted; envexec cannot write both and the container never
// starts (envexec TestAttackParentAndChildPathsFailAtStart).
func TestAttackParentAndChildPathsAdmitted(t *testing.T) {
	t.Parallel()
	w, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = config.ParsePod(map[string]string{
		"vault-injector.io/file.a": `{"container":"app","path":"a","content":"x"}`,
		"vault-injector.io/file.b": `{"container":"app","path":"a/b","content":"y"}`,
	}, "app", w)
	if err == nil {
		t.Errorf("files a and a/b of one container admitted")
	}
}

// TestAttackTempNamePathAdmitted: a path whose base name is envexec's temporary prefix
// plus another file's name is admitted; writing the other file deletes it (envexec
// TestAttackTempNameDeletesAnotherFile).
func TestAttackTempNamePathAdmitted(t *testing.T) {
	t.Parallel()
	w, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = config.ParsePod(map[string]string{
		"vault-injector.io/file.a": `{"container":"app","path":".envexec-tmp-x","content":"x"}`,
		"vault-injector.io/file.b": `{"container":"app","path":"x","content":"y"}`,
	}, "app", w)
	if err == nil {
		t.Errorf("a file named like envexec's temporary file of another is admitted")
	}
}

// TestAttackNULInFileContentAdmitted: a NUL in a file's content passes config (vaultref
// scans it as text). Written into ENVEXEC_FILES it makes the container's environment
// unusable (exec refuses a NUL), so the pod is admitted and can never start.
func TestAttackNULInFileContentAdmitted(t *testing.T) {
	t.Parallel()
	w, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = config.ParsePod(map[string]string{
		"vault-injector.io/file.a": `{"container":"app","path":"a","content":"x\u0000y"}`,
	}, "app", w)
	if err == nil {
		t.Errorf("content with a NUL admitted")
	}
}
