package injector

import (
	"errors"
	"maps"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/config"
)

// Plan is what a pod needs from the injector, decided once from the pod and its settings
// before any I/O: whether there is work at all, the problems already known, and the images
// whose configs must be read first. Env sources need nothing: the webhook reads no Secret
// or ConfigMap, envexec resolves what they hold at start. Callers gather Lookups into
// Facts, then call Inject; neither the webhook nor `mutate -f` decides any of this itself.
type Plan struct {
	pod        *corev1.Pod
	cfg        config.Pod
	own        ownership
	ownErrs    []error
	candidates []candidate
	err        error
	// Lookups are the images whose config Inject needs, in pod order without repeats:
	// those of containers envexec wraps that set no command. Empty when Err is not nil.
	Lookups []ImageLookup
}

// ImageLookup is one image to read the config of, and the containers that need it, so a
// failed lookup can name them.
type ImageLookup struct {
	// Image is the reference exactly as the pod writes it, the key of Facts.Images.
	Image string
	// Containers are the names of the containers without a command that run Image.
	Containers []string
}

// candidate is one container that holds references or is called for by the pod's
// settings, with what is already known to be wrong with it.
type candidate struct {
	target
	// refErrs are its malformed references; nameErrs its uses of our reserved names.
	refErrs, nameErrs []error
	// needsImage: it sets no command, so its image's config says what envexec starts.
	needsImage bool
}

func (c *candidate) ok() bool { return len(c.refErrs) == 0 && len(c.nameErrs) == 0 }

// target points at one container to wrap, by position, so the copy can be edited.
type target struct {
	init  bool
	index int
	refs  found
}

func (t target) in(p *corev1.Pod) *corev1.Container {
	if t.init {
		return &p.Spec.InitContainers[t.index]
	}
	return &p.Spec.Containers[t.index]
}

// path is the JSON pointer of the target's container in the pod Inject was given.
func (t target) path() string {
	if t.init {
		return "/spec/initContainers/" + strconv.Itoa(t.index)
	}
	return "/spec/containers/" + strconv.Itoa(t.index)
}

// NewPlan reads what pod needs under cfg. It does no I/O and never modifies pod.
func NewPlan(pod *corev1.Pod, cfg config.Pod) *Plan {
	p := &Plan{pod: pod, cfg: cfg}
	if !cfg.Inject {
		return p
	}
	p.own, p.ownErrs = ownParts(pod, cfg)
	p.ownErrs = append(p.ownErrs, fileProblems(pod, cfg)...)
	visit := func(init bool, cs []corev1.Container) {
		for i := range cs {
			c := &cs[i]
			if p.own.skips(init, i) {
				continue
			}
			cand := examine(pod, c, need{fromPath: !init && cfg.FromPath(), envSources: cfg.EnvSources, files: filesPaths(cfg, c.Name)},
				checks{warnMalformed: cfg.MalformedWarn, allowLogin: cfg.AllowLogin()})
			if cand.refs.empty() && cand.ok() {
				continue
			}
			cand.init, cand.index = init, i
			if p.candidates == nil { // once, for every container that may follow
				p.candidates = make([]candidate, 0, len(pod.Spec.InitContainers)+len(pod.Spec.Containers))
			}
			p.candidates = append(p.candidates, cand)
		}
	}
	visit(true, pod.Spec.InitContainers)
	visit(false, pod.Spec.Containers)
	if p.err = p.problems(); p.err == nil {
		p.Lookups = p.lookups()
	}
	return p
}

// lookups lists the images of the containers that need their image's config.
func (p *Plan) lookups() []ImageLookup {
	var out []ImageLookup
	for i := range p.candidates {
		if !p.candidates[i].needsImage {
			continue
		}
		c := p.candidates[i].in(p.pod)
		j := slices.IndexFunc(out, func(l ImageLookup) bool { return l.Image == c.Image })
		if j < 0 {
			out = append(out, ImageLookup{Image: c.Image})
			j = len(out) - 1
		}
		out[j].Containers = append(out[j].Containers, c.Name)
	}
	return out
}

// Skipped says why Inject will return the pod unchanged, or SkipNone when there is work:
// a mutation, or a denial for the problems Err and Inject report.
func (p *Plan) Skipped() SkipReason {
	switch {
	case !p.cfg.Inject:
		return SkipOptedOut
	case p.Err() != nil || slices.ContainsFunc(p.candidates, func(c candidate) bool { return !c.refs.empty() }):
		return SkipNone
	case p.own.injected:
		return SkipAlreadyInjected
	}
	return SkipNoReferences
}

// Err reports every problem known without facts: the pod will be denied whatever its
// images say, so no lookup is worth making.
func (p *Plan) Err() error { return p.err }

func (p *Plan) problems() error {
	errs := slices.Clone(p.ownErrs)
	wraps := p.own.injected
	for _, c := range p.candidates {
		errs = append(append(errs, c.refErrs...), c.nameErrs...)
		wraps = wraps || (c.ok() && !c.refs.empty())
	}
	if wraps {
		errs = append(errs, vaultHostProblems(p.pod, p.cfg)...)
	}
	return errors.Join(errs...)
}

// Inject returns the pod with envexec in front of every container that holds a reference,
// and in its report the exact fields it wrote. The plan's pod is never modified; when
// nothing needs doing the same pointer is returned. The result shares the parts it does not
// change with the input (see copyForWrite), so treat both as read-only.
// Every problem in the pod is reported at once, as FieldErrors joined into one error.
func (p *Plan) Inject(facts Facts) (*corev1.Pod, Report, error) {
	return p.inject(facts, false)
}

// InjectInPlace is Inject writing into the plan's pod itself instead of a copy, for a
// caller that owns the pod and needs only the report: the webhook decodes a pod for one
// admission and builds its patch from Report.Changes, so copying what Inject writes was a
// sixth of the bytes an admission allocated. Spare capacity in the pod's lists (see
// EnvRoom) is written into. The pod holds Inject's result once it returns without error;
// it is left as it was when it returns one, or when the report says the pod is skipped.
func (p *Plan) InjectInPlace(facts Facts) (Report, error) {
	_, report, err := p.inject(facts, true)
	return report, err
}

func (p *Plan) inject(facts Facts, inPlace bool) (*corev1.Pod, Report, error) {
	if skip := p.Skipped(); skip != SkipNone {
		return p.pod, Report{Skipped: skip}, nil
	}
	errs := slices.Clone(p.ownErrs)
	wrap := make([]target, 0, len(p.candidates))
	for _, c := range p.candidates {
		own := slices.Clone(c.refErrs)
		if c.needsImage {
			if reason := entrypointProblem(c.in(p.pod), facts); reason != "" {
				own = append(own, &FieldError{Pod: PodName(p.pod), Container: c.in(p.pod).Name, Reason: reason})
			}
		}
		own = append(own, c.nameErrs...)
		if len(own) == 0 && !c.refs.empty() {
			wrap = append(wrap, c.target)
		}
		errs = append(errs, own...)
	}
	if len(wrap) > 0 || p.own.injected {
		// Checked on every pass: a pod submitted as our own output is no exception.
		errs = append(errs, vaultHostProblems(p.pod, p.cfg)...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, Report{}, err
	}
	if len(wrap) == 0 {
		return p.pod, Report{Skipped: SkipNoReferences}, nil // unreachable: Skipped said so
	}
	return p.apply(wrap, facts, inPlace)
}

// Inject plans pod under cfg and injects it with facts in one call, for callers that
// have their facts already (tests, benchmarks).
func Inject(pod *corev1.Pod, cfg config.Pod, facts Facts) (*corev1.Pod, Report, error) {
	return NewPlan(pod, cfg).Inject(facts)
}

// apply writes envexec into a copy of the plan's pod, or into the pod itself, for the wrap
// targets, recording each field it writes.
func (p *Plan) apply(wrap []target, facts Facts, inPlace bool) (*corev1.Pod, Report, error) {
	out := p.pod
	if !inPlace {
		out = copyForWrite(p.pod, wrap)
	}
	var ch changes
	report := Report{Containers: make([]ContainerReport, 0, len(wrap))}
	vols := ourVolumes(p.cfg)
	mounts := sharedMounts(p.cfg, vols)
	for _, t := range wrap {
		c := t.in(out)
		wrapContainer(c, p.cfg, facts, mounts, &ch, t.path())
		report.Warnings = append(report.Warnings, t.refs.warnings...)
		report.Containers = append(report.Containers, ContainerReport{
			Name: c.Name, Init: t.init, Variables: t.refs.variables, Arguments: t.refs.arguments, Files: t.refs.files,
		})
	}
	if !p.own.injected {
		// After the containers' changes, whose paths name the user's init containers by
		// their index before ours shifts them.
		had := len(out.Spec.Volumes)
		out.Spec.Volumes = append(out.Spec.Volumes, vols...)
		appended(&ch, "/spec/volumes", had, out.Spec.Volumes)
		if !p.cfg.ImageVolume { // an image volume needs no copy
			out.Spec.InitContainers = slices.Insert(out.Spec.InitContainers, 0, initContainer(p.cfg))
			if len(out.Spec.InitContainers) == 1 {
				ch.add("/spec/initContainers", out.Spec.InitContainers)
			} else {
				ch.add("/spec/initContainers/0", &out.Spec.InitContainers[0])
			}
		}
	}
	switch {
	case len(out.Annotations) == 0:
		out.Annotations = map[string]string{config.StatusAnnotation: "injected"}
		ch.add("/metadata/annotations", out.Annotations)
	case out.Annotations[config.StatusAnnotation] != "injected":
		out.Annotations[config.StatusAnnotation] = "injected"
		ch.add("/metadata/annotations/"+escapePointer(config.StatusAnnotation), "injected")
	}
	report.Changes = ch.list
	return out, report, nil
}

// copyForWrite copies what Inject writes and shares the rest: the pod, its spec, its
// annotations, volume and container lists, and of each wrapped container its env, volume
// mounts and exec probes. A deep copy of the whole pod was a tenth of the admission
// path's allocations, and most of a pod (resources, other containers) is never touched.
func copyForWrite(pod *corev1.Pod, wrap []target) *corev1.Pod {
	out := *pod
	out.Annotations = maps.Clone(pod.Annotations)
	out.Spec.Volumes = slices.Clip(pod.Spec.Volumes)
	if pod.Spec.InitContainers != nil {
		// Room for our init container at the front, so inserting it moves the copy in place.
		out.Spec.InitContainers = append(make([]corev1.Container, 0, len(pod.Spec.InitContainers)+1), pod.Spec.InitContainers...)
	}
	out.Spec.Containers = slices.Clone(pod.Spec.Containers)
	for _, t := range wrap {
		c := t.in(&out)
		// Clipped, so appending allocates instead of writing into the input's spare capacity.
		c.Env, c.VolumeMounts = slices.Clip(c.Env), slices.Clip(c.VolumeMounts)
		for _, p := range []**corev1.Probe{&c.LivenessProbe, &c.ReadinessProbe, &c.StartupProbe} {
			if *p != nil && (*p).Exec != nil {
				probe, exec := **p, *(*p).Exec
				probe.Exec = &exec
				*p = &probe
			}
		}
	}
	return &out
}
