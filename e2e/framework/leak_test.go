package framework

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
)

func TestFindLeaks(t *testing.T) {
	t.Parallel()
	const canary = "s3cr3t-canary"
	places := map[string][]byte{
		"clean":   []byte("nothing to see"),
		"raw":     []byte(`{"value":"s3cr3t-canary"}`),
		"base64":  []byte(base64.StdEncoding.EncodeToString([]byte(canary))),
		"empty":   nil,
		"partial": []byte("s3cr3t-"),
	}
	if got, want := FindLeaks(canary, places), []string{"base64", "raw"}; !slices.Equal(got, want) {
		t.Errorf("FindLeaks = %q, want %q", got, want)
	}
	err := CheckNoLeak(canary, places)
	if err == nil || strings.Contains(err.Error(), canary) || !strings.Contains(err.Error(), "base64, raw") {
		t.Errorf("CheckNoLeak = %v, want the places named and the value not", err)
	}
	if err := CheckNoLeak(canary, map[string][]byte{"clean": []byte("x")}); err != nil {
		t.Errorf("CheckNoLeak on clean input: %v", err)
	}
}
