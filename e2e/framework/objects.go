package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
)

// NamespaceObjects returns every object stored in namespace, of every namespaced
// resource the apiserver can list (pods, events, configmaps, secrets, serviceaccounts,
// leases and whatever else is served), as JSON keyed by "resource.group name". Objects
// labelled CanaryHolderLabel are left out. It is where a leak through any object the
// webhook, a controller or the apiserver wrote would show.
func (c *Cluster) NamespaceObjects(ctx context.Context, namespace string) (map[string][]byte, error) {
	cfg := c.Endpoint.RESTConfig()
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	lists, err := disco.ServerPreferredNamespacedResources()
	if err != nil {
		return nil, fmt.Errorf("discover namespaced resources: %w", err)
	}
	out := map[string][]byte{}
	for _, gvr := range listable(lists) {
		items, err := dyn.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list %s in %s: %w", gvr.String(), namespace, err)
		}
		for i := range items.Items {
			item := &items.Items[i]
			if _, skip := item.GetLabels()[CanaryHolderLabel]; skip {
				continue
			}
			data, err := json.Marshal(item)
			if err != nil {
				return nil, fmt.Errorf("encode %s %s: %w", gvr.Resource, item.GetName(), err)
			}
			out[gvr.GroupResource().String()+" "+item.GetName()] = data
		}
	}
	return out, nil
}

// listable picks the resources that support list, subresources excluded.
func listable(lists []*metav1.APIResourceList) []schema.GroupVersionResource {
	var out []schema.GroupVersionResource
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue // the apiserver's own data; a malformed entry is not ours to judge
		}
		for _, r := range l.APIResources {
			if slices.Contains(r.Verbs, "list") {
				out = append(out, gv.WithResource(r.Name))
			}
		}
	}
	return out
}
