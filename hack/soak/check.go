package main

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vault-injector/vault-injector/injector"
)

// storedPods is what the apiserver holds at the end: with failurePolicy Fail, every pod
// must carry its injection (the init container, and envexec in front of the command).
type storedPods struct {
	total int
	// uninjected names the pods stored without their injection: must be none.
	uninjected []string
}

func checkPods(ctx context.Context, c client.Client, namespace string) (storedPods, error) {
	var out storedPods
	var list corev1.PodList
	opts := []client.ListOption{client.InNamespace(namespace), client.Limit(500)}
	for {
		if err := c.List(ctx, &list, opts...); err != nil {
			return out, fmt.Errorf("list pods: %w", err)
		}
		for i := range list.Items {
			out.total++
			if !injected(&list.Items[i]) {
				out.uninjected = append(out.uninjected, list.Items[i].Name)
			}
		}
		if list.Continue == "" {
			return out, nil
		}
		opts = []client.ListOption{client.InNamespace(namespace), client.Limit(500), client.Continue(list.Continue)}
	}
}

// injected reports whether the pod has the envexec init container and every container
// starts through envexec.
func injected(pod *corev1.Pod) bool {
	hasInit := false
	for _, c := range pod.Spec.InitContainers {
		hasInit = hasInit || c.Name == injector.InitContainerName
	}
	for _, c := range pod.Spec.Containers {
		if len(c.Command) == 0 || c.Command[0] != injector.EnvexecInPod {
			return false
		}
	}
	return hasInit
}
