package podtest

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Typical is the benchmark's typical pod, as a Deployment's ReplicaSet creates it and the
// apiserver hands it to admission after defaulting: one init container and two containers
// (the app and a proxy sidecar), 40 env variables of which 19 are references to seven
// secrets. Every container sets its command, so no image lookup is needed. opts apply last.
func Typical(opts ...Option) *corev1.Pod {
	shop := func(path, key string) string { return Ref("secret/data/shop/"+path, key) }
	migrate := Container("migrate", "registry.example/shop/api:1.42.0",
		WithCommand("/app/migrate"), WithArgs("--to", "latest"),
		WithEnv(
			Env("LOG_LEVEL", "info"), Env("DB_HOST", "postgres.shop.svc"), Env("DB_NAME", "shop"),
			Env("DB_USER", shop("db", "user")), Env("DB_PASSWORD", shop("db", "password")),
			Env("MIGRATION_LOCK_KEY", shop("db", "lock-key")),
		),
		withResources("100m", "64Mi", "256Mi"),
	)
	app := Container("api", "registry.example/shop/api:1.42.0",
		WithCommand("/app/api"), WithArgs("serve", "--port=8080"),
		WithEnv(
			Env("LOG_LEVEL", "info"), Env("LOG_FORMAT", "json"), Env("PORT", "8080"), Env("METRICS_PORT", "9090"),
			Env("DB_HOST", "postgres.shop.svc"), Env("DB_PORT", "5432"), Env("DB_NAME", "shop"),
			Env("DB_USER", shop("db", "user")), Env("DB_PASSWORD", shop("db", "password")),
			Env("REDIS_ADDR", "redis.shop.svc:6379"), Env("REDIS_PASSWORD", shop("redis", "password")),
			Env("STRIPE_API_KEY", shop("stripe", "api-key")), Env("STRIPE_WEBHOOK_SECRET", shop("stripe", "webhook-secret")),
			Env("STRIPE_PUBLISHABLE_KEY", shop("stripe", "publishable-key")), Env("SESSION_SECRET", shop("app", "session-secret")),
			Env("JWT_SIGNING_KEY", shop("app", "jwt-signing-key#3")), Env("CSRF_KEY", shop("app", "csrf-key")),
			Env("SMTP_HOST", "smtp.example.com"), Env("SMTP_USER", shop("smtp", "user")),
			Env("SMTP_PASSWORD", shop("smtp", "password")), Env("S3_BUCKET", "shop-assets"),
			Env("S3_ACCESS_KEY_ID", shop("s3", "access-key-id")), Env("S3_SECRET_ACCESS_KEY", shop("s3", "secret-access-key")),
			Env("FEATURE_FLAGS", "checkout-v2,search-v3"), Env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel.observability.svc:4317"),
			Env("SENTRY_DSN", shop("app", "sentry-dsn")),
		),
		withResources("500m", "256Mi", "1Gi"), withPorts(8080, 9090), withProbes(8080),
	)
	proxy := Container("proxy", "registry.example/envoy:1.31.0",
		WithCommand("envoy"), WithArgs("-c", "/etc/envoy/envoy.yaml", "--log-level", "warn"),
		WithEnv(
			Env("ENVOY_UID", "0"), Env("ADMIN_PORT", "9901"), Env("UPSTREAM", "127.0.0.1:8080"),
			Env("TLS_CERT_PATH", "/etc/envoy/tls.crt"), Env("TLS_KEY_PATH", "/etc/envoy/tls.key"),
			Env("CONCURRENCY", "2"), Env("TLS_KEY_PASSWORD", shop("proxy", "tls-key-password")),
			Env("ADMIN_TOKEN", shop("proxy", "admin-token")),
		),
		withResources("100m", "64Mi", "128Mi"), withPorts(8443),
	)
	all := []Option{
		WithNamespace("shop"), WithServiceAccount("api"),
		WithLabels(map[string]string{"app.kubernetes.io/name": "api", "app.kubernetes.io/part-of": "shop", "pod-template-hash": "7d9f8c6b5d"}),
		WithAnnotations(map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-08-01T10:00:00Z", "prometheus.io/scrape": "true"}),
		WithInitContainers(migrate), WithContainers(app, proxy), WithAPIServerDefaults("api-7d9f8c6b5d"),
	}
	return New("", append(all, opts...)...)
}

// Large is the benchmark's large pod: ten containers of 50 env variables each (500 in
// all), every fifth a reference (100), as a batch job or a monolith with many sidecars.
// opts apply last.
func Large(opts ...Option) *corev1.Pod {
	var cs []corev1.Container
	for i := range 10 {
		name := fmt.Sprintf("worker%d", i)
		cs = append(cs, Container(name, "registry.example/batch/worker:2.0.1",
			WithCommand("/bin/worker"), WithArgs("--shard", fmt.Sprint(i)),
			WithVars(fmt.Sprintf("W%d", i), 50, 5, 4), withResources("250m", "128Mi", "512Mi"), withPorts(int32(8000+i)),
		))
	}
	all := []Option{
		WithNamespace("batch"), WithServiceAccount("worker"),
		WithLabels(map[string]string{"app.kubernetes.io/name": "worker", "pod-template-hash": "5c6d7e8f9a"}),
		WithContainers(cs...), WithAPIServerDefaults("worker-5c6d7e8f9a"),
	}
	return New("", append(all, opts...)...)
}

// WithAPIServerDefaults gives the pod what its ReplicaSet and the apiserver's defaulting
// set before admission webhooks see it: a generated name, an owner, scheduling defaults,
// the service account token volume and per-container defaults. Real admission bodies carry
// all of this, so it counts in decode and diff costs. Apply it after the containers.
func WithAPIServerDefaults(owner string) Option {
	return func(p *corev1.Pod) {
		p.Name, p.GenerateName = "", owner+"-"
		p.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "ReplicaSet", Name: owner, UID: "0d8f6a3e-5b8c-4c1e-9a3f-2d7b6e1c4a90",
			Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
		}}
		s := &p.Spec
		s.RestartPolicy, s.DNSPolicy, s.SchedulerName = corev1.RestartPolicyAlways, corev1.DNSClusterFirst, corev1.DefaultSchedulerName
		s.TerminationGracePeriodSeconds, s.EnableServiceLinks = ptr.To[int64](30), ptr.To(true)
		s.SecurityContext, s.Priority = &corev1.PodSecurityContext{}, ptr.To[int32](0)
		s.PreemptionPolicy = ptr.To(corev1.PreemptLowerPriority)
		s.DeprecatedServiceAccount = s.ServiceAccountName
		s.Tolerations = []corev1.Toleration{notReady("not-ready"), notReady("unreachable")}
		s.Volumes = append(s.Volumes, tokenVolume())
		for _, cs := range [][]corev1.Container{s.InitContainers, s.Containers} {
			for i := range cs {
				c := &cs[i]
				c.TerminationMessagePath, c.TerminationMessagePolicy = corev1.TerminationMessagePathDefault, corev1.TerminationMessageReadFile
				c.ImagePullPolicy = corev1.PullIfNotPresent
				c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{
					Name: "kube-api-access-x7k2p", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true,
				})
			}
		}
	}
}

func notReady(condition string) corev1.Toleration {
	return corev1.Toleration{
		Key: "node.kubernetes.io/" + condition, Operator: corev1.TolerationOpExists,
		Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300),
	}
}

// tokenVolume is the projected kube-api-access volume the ServiceAccount admission plugin adds.
func tokenVolume() corev1.Volume {
	return corev1.Volume{Name: "kube-api-access-x7k2p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](0o644),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr.To[int64](3607), Path: "token"}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
			}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
				Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
			}}}},
		},
	}}}
}

func withResources(cpu, memory, memoryLimit string) ContainerOption {
	return func(c *corev1.Container) {
		c.Resources = corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory)},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memoryLimit)},
		}
	}
}

func withPorts(ports ...int32) ContainerOption {
	return func(c *corev1.Container) {
		for _, p := range ports {
			c.Ports = append(c.Ports, corev1.ContainerPort{Name: fmt.Sprintf("p%d", p), ContainerPort: p, Protocol: corev1.ProtocolTCP})
		}
	}
}

func withProbes(port int32) ContainerOption {
	return func(c *corev1.Container) {
		probe := func(path string) *corev1.Probe {
			return &corev1.Probe{
				ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
					Path: path, Port: intstr.FromInt32(port), Scheme: corev1.URISchemeHTTP,
				}},
				PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3,
			}
		}
		c.LivenessProbe, c.ReadinessProbe = probe("/healthz"), probe("/readyz")
	}
}
