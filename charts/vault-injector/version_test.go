package chart_test

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
)

// releaseTag is how make release tags images: vMAJOR.MINOR.PATCH[-PRE].
var releaseTag = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

// TestDefaultImageIsAppVersion: the chart deploys the image tagged with its appVersion,
// which is a release tag, in the webhook and as the injected init container; a tag or a
// digest given at install replaces it.
func TestDefaultImageIsAppVersion(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("Chart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var chart struct {
		AppVersion string `yaml:"appVersion"`
	}
	if err := yaml.Unmarshal(raw, &chart); err != nil {
		t.Fatal(err)
	}
	if !releaseTag.MatchString(chart.AppVersion) {
		t.Fatalf("appVersion %q is not a release tag vX.Y.Z, so no released image has it", chart.AppVersion)
	}
	const repo = "ghcr.io/vault-injector/vault-injector"
	digest := "sha256:" + string(slices.Repeat([]byte("ab"), 32))
	h := newHelm(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, repo + ":" + chart.AppVersion},
		{[]string{"--set", "image.tag=v9.8.7"}, repo + ":v9.8.7"},
		{[]string{"--set", "image.digest=" + digest}, repo + "@" + digest},
	} {
		var d appsv1.Deployment
		convert(t, find(t, parseObjects(t, h.template(t, goldenRelease, goldenNamespace, tc.args...)), "Deployment"), &d)
		c := d.Spec.Template.Spec.Containers[0]
		if c.Image != tc.want || !slices.Contains(c.Args, "--injector-image="+tc.want) {
			t.Errorf("with %v: image %q, args %q; want %s in both", tc.args, c.Image, c.Args, tc.want)
		}
	}
}
