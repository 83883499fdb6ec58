package framework

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestPrivileges(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		pod          *corev1.PodSecurityContext
		container    *corev1.SecurityContext
		want         []string
		readOnlyRoot bool
		wantErr      bool
	}{
		"root by default": {},
		"pod user": {
			pod:  &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), SupplementalGroups: []int64{5, 6}},
			want: []string{"setpriv", "--reuid=1000", "--regid=0", "--groups=5,6", "--"},
		},
		"container wins, locked down": {
			pod: &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000)},
			container: &corev1.SecurityContext{
				RunAsUser: ptr.To[int64](65532), RunAsGroup: ptr.To[int64](65532), ReadOnlyRootFilesystem: ptr.To(true),
				AllowPrivilegeEscalation: ptr.To(false), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
			want: []string{
				"setpriv", "--reuid=65532", "--regid=65532", "--clear-groups", "--no-new-privs",
				"--bounding-set=-all", "--inh-caps=-all", "--",
			},
			readOnlyRoot: true,
		},
		"runAsNonRoot as root": {
			pod: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)}, wantErr: true,
		},
		"added capability": {
			container: &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}}},
			wantErr:   true,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pod := &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: c.pod}}
			got, ro, err := privileges("setpriv", pod, &corev1.Container{Name: "c", SecurityContext: c.container})
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if !slices.Equal(got, c.want) || ro != c.readOnlyRoot {
				t.Errorf("privileges = %q, %v; want %q, %v", got, ro, c.want, c.readOnlyRoot)
			}
		})
	}
}
