package config

import (
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/resource"
)

// InitContainer is what the platform and a pod may choose of the injected init container:
// its resources and user. The injector writes exactly these, so the init container stays a
// pure function of the settings and is recognised on reinvocation.
type InitContainer struct {
	// CPURequest is the CPU the init container requests.
	CPURequest resource.Quantity `json:"cpuRequest"`
	// MemoryRequest is the memory the init container requests.
	MemoryRequest resource.Quantity `json:"memoryRequest"`
	// CPULimit is its CPU limit; zero means none.
	CPULimit resource.Quantity `json:"cpuLimit"`
	// MemoryLimit is its memory limit.
	MemoryLimit resource.Quantity `json:"memoryLimit"`
	// RunAsUser is its user; nil leaves runAsUser unset, for platforms that assign one
	// (OpenShift's restricted SCCs). runAsNonRoot stays true either way.
	RunAsUser *int64 `json:"runAsUser,omitempty"`
	// RunAsGroup is its primary group; nil leaves runAsGroup unset.
	RunAsGroup *int64 `json:"runAsGroup,omitempty"`
}

// InitMaxima bound what a pod's annotations may ask for the init container.
type InitMaxima struct {
	// CPU bounds the CPU request and limit.
	CPU resource.Quantity
	// Memory bounds the memory request and limit.
	Memory resource.Quantity
}

// Unset is the flag value that leaves the init container's user or group unset.
const Unset = "unset"

// setQuantity reads a positive resource quantity; empty is accepted only when optional,
// and then means none (the zero Quantity).
func setQuantity(dst *resource.Quantity, v string, optional bool) error {
	if v == "" && optional {
		*dst = resource.Quantity{}
		return nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return fmt.Errorf("%q is not a resource quantity (e.g. 10m, 0.5, 64Mi): %w", v, err)
	}
	if q.Sign() <= 0 {
		return fmt.Errorf("%q is not above zero", v)
	}
	*dst = q
	return nil
}

// setID reads a user or group ID: "unset" or empty leaves it to the platform (nil). A user
// must not be root: with runAsNonRoot the kubelet would refuse to start the container.
func setID(dst **int64, v string, minID int64) error {
	if v == "" || v == Unset {
		*dst = nil
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < minID || n > 2147483647 {
		return fmt.Errorf("%q is not %q or an ID between %d and 2147483647", v, Unset, minID)
	}
	*dst = &n
	return nil
}

// initResource names one bounded resource of the init container: the name of its flag and
// of its annotation, and where it lives in the settings.
type initResource struct {
	name, what, example string
	// limit is the name of the limit a request must stay within; empty for limits.
	limit   string
	maxFlag string
	get     func(*InitContainer) *resource.Quantity
	max     func(*InitMaxima) resource.Quantity
}

func cpuMax(m *InitMaxima) resource.Quantity    { return m.CPU }
func memoryMax(m *InitMaxima) resource.Quantity { return m.Memory }

// initResources is the table of the four resources; their annotations and the checks of
// their relations derive from it.
var initResources = []initResource{
	{
		"init-cpu-request", "CPU request", "`50m`, `0.5`", "init-cpu-limit", "init-max-cpu",
		func(c *InitContainer) *resource.Quantity { return &c.CPURequest }, cpuMax,
	},
	{
		"init-memory-request", "memory request", "`32Mi`", "init-memory-limit", "init-max-memory",
		func(c *InitContainer) *resource.Quantity { return &c.MemoryRequest }, memoryMax,
	},
	{
		"init-cpu-limit", "CPU limit", "`100m`, `1`", "", "init-max-cpu",
		func(c *InitContainer) *resource.Quantity { return &c.CPULimit }, cpuMax,
	},
	{
		"init-memory-limit", "memory limit", "`128Mi`", "", "init-max-memory",
		func(c *InitContainer) *resource.Quantity { return &c.MemoryLimit }, memoryMax,
	},
}

// findInitResource returns the entry of the resource called name.
func findInitResource(name string) initResource {
	for _, r := range initResources {
		if r.name == name {
			return r
		}
	}
	panic("config: no init resource " + name)
}

// validateInit checks the webhook's defaults for the init container: each request within
// its limit, and every default within the maxima pods are held to.
func (w *Webhook) validateInit() []error {
	var errs []error
	for _, r := range initResources {
		q := r.get(&w.Defaults.Init)
		if q.IsZero() {
			continue
		}
		if m := r.max(&w.InitMax); q.Cmp(m) > 0 {
			errs = append(errs, fmt.Errorf("--%s (%s) must not be above --%s (%s)", r.name, q, r.maxFlag, &m))
		}
		if r.limit == "" {
			continue
		}
		if l := findInitResource(r.limit).get(&w.Defaults.Init); !l.IsZero() && q.Cmp(*l) > 0 {
			errs = append(errs, fmt.Errorf("--%s (%s) must not be above --%s (%s)", r.name, q, r.limit, l))
		}
	}
	return errs
}

// initAnnotation declares the pod annotation that overrides one resource of the init
// container, within the maximum the platform set.
func initAnnotation(name string) Annotation {
	r := findInitResource(name)
	doc := "The " + r.what + " of the injected init container, at most the webhook's --" + r.maxFlag + "."
	if r.limit != "" {
		doc += " It may not exceed the limit (`" + AnnotationPrefix + r.limit + "` or the webhook's --" + r.limit + ")."
	}
	return Annotation{
		Name: r.name, Type: "quantity (e.g. " + r.example + ")", Default: "the webhook's --" + r.name + " (" + flagDefault(r.name) + ")", Doc: doc,
		set: func(p *Pod, v string, w *Webhook) error {
			var q resource.Quantity
			if err := setQuantity(&q, v, false); err != nil {
				return err
			}
			if m := r.max(&w.InitMax); q.Cmp(m) > 0 {
				return fmt.Errorf("%q is above the platform's maximum %s for the %s (--%s)", v, &m, r.what, r.maxFlag)
			}
			*r.get(&p.Init) = q
			return nil
		},
	}
}

// initRelationErrors denies a request above its limit once all annotations are applied,
// naming the annotation that made it so.
func initRelationErrors(p *Pod, annotations map[string]string) []error {
	var errs []error
	for _, r := range initResources {
		if r.limit == "" {
			continue
		}
		req, lim := r.get(&p.Init), findInitResource(r.limit).get(&p.Init)
		if lim.IsZero() || req.Cmp(*lim) <= 0 {
			continue
		}
		key := AnnotationPrefix + r.name
		if _, ok := annotations[key]; !ok {
			key = AnnotationPrefix + r.limit
		}
		errs = append(errs, fmt.Errorf("annotation %q: the %s %s would be above the limit %s; set %s%s and %s%s together",
			key, r.what, req, lim, AnnotationPrefix, r.name, AnnotationPrefix, r.limit))
	}
	return errs
}

// flagDefault is a webhook flag's default as the docs show it.
func flagDefault(name string) string {
	for _, f := range webhookFlags {
		if f.name == name && f.def != "" {
			return "`" + f.def + "`"
		}
	}
	return "none"
}
