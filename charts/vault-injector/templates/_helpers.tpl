{{/* Chart name, shortened to fit label values. */}}
{{- define "vault-injector.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects: the release name, plus the chart name unless the release
name already contains it. Kept to 52 characters so suffixed names ("-certs", "-ca") stay valid.
*/}}
{{- define "vault-injector.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Chart label value: name and version. */}}
{{- define "vault-injector.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Standard labels of every object. */}}
{{- define "vault-injector.labels" -}}
helm.sh/chart: {{ include "vault-injector.chart" . }}
{{ include "vault-injector.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: webhook
app.kubernetes.io/part-of: vault-injector
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the webhook pods; they must never change between releases. */}}
{{- define "vault-injector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vault-injector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Name of the ServiceAccount the webhook runs as. */}}
{{- define "vault-injector.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vault-injector.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The webhook's image reference: digest wins over tag, tag defaults to appVersion. */}}
{{- define "vault-injector.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* Image of the injected init container: the webhook's own unless overridden. */}}
{{- define "vault-injector.injectorImage" -}}
{{- .Values.injector.image | default (include "vault-injector.image" .) }}
{{- end }}

{{/*
A user or group ID of the injected init container: null (Helm drops the key) means "unset",
which leaves it to the platform (OpenShift assigns one).
*/}}
{{- define "vault-injector.initID" -}}
{{- if kindIs "invalid" . }}unset{{ else }}{{ int64 . }}{{ end }}
{{- end }}

{{/* Secret holding the serving certificate (self-managed: written by the webhook). */}}
{{- define "vault-injector.certSecret" -}}
{{- if eq .Values.certificates.mode "provided" }}
{{- required "certificates.provided.secretName is required in provided mode" .Values.certificates.provided.secretName }}
{{- else }}
{{- printf "%s-certs" (include "vault-injector.fullname" .) }}
{{- end }}
{{- end }}

{{/* Where the container finds tls.crt and tls.key. */}}
{{- define "vault-injector.certDir" -}}
/etc/vault-injector/certs
{{- end }}

{{/* Where the registry CA bundle is mounted. */}}
{{- define "vault-injector.registryCADir" -}}
/etc/vault-injector/registry-ca
{{- end }}

{{/* Where the CA bundle for Vault is mounted. */}}
{{/*
vault-injector.vaultCA is "true" when the platform gives a Vault CA bundle: inline (caBundle)
or from an existing ConfigMap or Secret (caBundleFrom), never two of them.
*/}}
{{- define "vault-injector.vaultCA" -}}
{{- $from := .Values.vault.caBundleFrom -}}
{{- $n := 0 -}}
{{- range (list .Values.vault.caBundle $from.configMap $from.secret) }}{{ if . }}{{ $n = add1 $n }}{{ end }}{{ end -}}
{{- if gt $n 1 -}}
{{- fail "vault: set one of caBundle, caBundleFrom.configMap and caBundleFrom.secret" -}}
{{- end -}}
{{- if $n }}true{{ end -}}
{{- end -}}

{{- define "vault-injector.vaultCADir" -}}
/etc/vault-injector/vault-ca
{{- end }}

{{/* Where the CA bundle of the apiserver's client certificate is mounted. */}}
{{- define "vault-injector.clientCADir" -}}
/etc/vault-injector/client-ca
{{- end }}

{{/* The Service's DNS name, which the serving certificate must cover. */}}
{{- define "vault-injector.serviceDNS" -}}
{{- printf "%s.%s.svc" (include "vault-injector.fullname" .) .Release.Namespace }}
{{- end }}

{{/* Bind address of the metrics endpoint; "0" turns it off. */}}
{{- define "vault-injector.metricsAddr" -}}
{{- if eq (int .Values.server.metricsPort) 0 }}0{{ else }}:{{ .Values.server.metricsPort }}{{ end }}
{{- end }}

{{/*
The webhook's flags. Every setting is passed explicitly, so the rendered Deployment shows the
whole configuration and an unknown flag stops the binary instead of being ignored.
*/}}
{{- define "vault-injector.args" -}}
{{- $v := .Values -}}
- {{ printf "--webhook-host=%s" $v.server.host | quote }}
- {{ printf "--webhook-port=%d" (int $v.server.port) | quote }}
- {{ printf "--cert-dir=%s" (include "vault-injector.certDir" .) | quote }}
{{- if $v.server.clientCABundle }}
- {{ printf "--client-ca-file=%s/ca.crt" (include "vault-injector.clientCADir" .) | quote }}
{{- end }}
- {{ printf "--metrics-bind-address=%s" (include "vault-injector.metricsAddr" .) | quote }}
- {{ printf "--health-probe-bind-address=:%d" (int $v.server.probePort) | quote }}
- {{ printf "--shutdown-delay=%s" $v.server.shutdownDelay | quote }}
- {{ printf "--injector-image=%s" (include "vault-injector.injectorImage" .) | quote }}
- {{ printf "--envexec-path=%s" $v.injector.envexecPath | quote }}
- {{ printf "--init-cpu-request=%s" (toString $v.injector.resources.requests.cpu) | quote }}
- {{ printf "--init-memory-request=%s" (toString $v.injector.resources.requests.memory) | quote }}
- {{ printf "--init-cpu-limit=%s" (toString ($v.injector.resources.limits.cpu | default "")) | quote }}
- {{ printf "--init-memory-limit=%s" (toString $v.injector.resources.limits.memory) | quote }}
- {{ printf "--init-run-as-user=%s" (include "vault-injector.initID" $v.injector.runAsUser) | quote }}
- {{ printf "--init-run-as-group=%s" (include "vault-injector.initID" $v.injector.runAsGroup) | quote }}
- {{ printf "--init-max-cpu=%s" (toString $v.injector.maxResources.cpu) | quote }}
- {{ printf "--init-max-memory=%s" (toString $v.injector.maxResources.memory) | quote }}
- {{ printf "--vault-addr=%s" $v.vault.addr | quote }}
- {{ printf "--vault-auth-path=%s" $v.vault.authPath | quote }}
- {{ printf "--allowed-vault-addrs=%s" (join "," $v.vault.allowedAddrs) | quote }}
{{- if include "vault-injector.vaultCA" . }}
- {{ printf "--vault-ca-file=%s/ca.crt" (include "vault-injector.vaultCADir" .) | quote }}
{{- end }}
- {{ printf "--envexec-timeout=%s" $v.envexec.timeout | quote }}
- {{ printf "--envexec-log-level=%s" $v.envexec.logLevel | quote }}
- {{ printf "--envexec-watch-interval=%s" $v.envexec.watchInterval | quote }}
- {{ printf "--token-audience=%s" $v.envexec.tokenAudience | quote }}
- {{ printf "--allowed-token-audiences=%s" (join "," $v.envexec.allowedTokenAudiences) | quote }}
- {{ printf "--token-expiration=%s" $v.envexec.tokenExpiration | quote }}
- {{ printf "--envexec-delivery=%s" $v.envexec.delivery | quote }}
- {{ printf "--allowed-envexec-deliveries=%s" (join "," $v.envexec.allowedDeliveries) | quote }}
- {{ printf "--bank-vaults-annotations=%t" $v.bankVaultsAnnotations | quote }}
- {{ printf "--allow-tls-skip-verify=%t" $v.allowTLSSkipVerify | quote }}
- {{ printf "--malformed-references=%s" $v.malformedReferences | quote }}
- {{ printf "--registry-timeout=%s" $v.registry.timeout | quote }}
- {{ printf "--default-platform=%s" $v.registry.defaultPlatform | quote }}
- {{ printf "--insecure-registries=%s" (join "," $v.registry.insecure) | quote }}
- {{ printf "--private-registries=%s" (join "," $v.registry.private) | quote }}
{{- $mirrors := list }}{{ range $from, $to := $v.registry.mirrors }}{{ $mirrors = append $mirrors (printf "%s=%s" $from $to) }}{{ end }}
- {{ printf "--registry-mirrors=%s" (join "," $mirrors) | quote }}
{{- if $v.registry.caBundle }}
- {{ printf "--registry-ca-file=%s/ca.crt" (include "vault-injector.registryCADir" .) | quote }}
{{- end }}
- {{ printf "--image-cache-size=%d" (int $v.registry.cacheSize) | quote }}
- {{ printf "--image-cache-ttl=%s" $v.registry.cacheTTL | quote }}
{{- if and $v.registry.defaultPullSecret (not $v.registry.defaultPullSecretRegistries) }}
{{- fail "registry.defaultPullSecret needs registry.defaultPullSecretRegistries: the registries its credentials may be sent to" }}
{{- end }}
- {{ printf "--default-pull-secret=%s" $v.registry.defaultPullSecret | quote }}
- {{ printf "--default-pull-secret-registries=%s" (join "," $v.registry.defaultPullSecretRegistries) | quote }}
- {{ printf "--zap-log-level=%s" $v.logging.level | quote }}
- {{ printf "--zap-encoder=%s" $v.logging.encoder | quote }}
{{- if eq $v.certificates.mode "self-managed" }}
- "--cert-mode=self-managed"
- {{ printf "--cert-secret=%s" (include "vault-injector.certSecret" .) | quote }}
- {{ printf "--webhook-config-name=%s" (include "vault-injector.fullname" .) | quote }}
- {{ printf "--service-name=%s" (include "vault-injector.fullname" .) | quote }}
- {{ printf "--ca-validity=%s" $v.certificates.selfManaged.caValidity | quote }}
- {{ printf "--cert-validity=%s" $v.certificates.selfManaged.certValidity | quote }}
- {{ printf "--cert-check-interval=%s" $v.certificates.selfManaged.checkInterval | quote }}
- {{ printf "--cert-extra-sans=%s" (join "," $v.certificates.selfManaged.extraSANs) | quote }}
{{- else }}
- "--cert-mode=files"
{{- end }}
{{- range $v.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/*
The spellings every reference contains (vaultref.Schemes; TestMatchConditionMarkers keeps
them in agreement), as a CEL test of the string a.
*/}}
{{- define "vault-injector.markerTest" -}}
{{- $tests := list -}}
{{- range (list "vault:" "bao:") -}}{{- $tests = append $tests (printf "%s.contains('%s')" $.var .) -}}{{- end -}}
({{ join " || " $tests }})
{{- end -}}

{{/*
A CEL test of container c: does an env value, a command or an args entry hold a marker?
*/}}
{{- define "vault-injector.containerHasMarker" -}}
(has(c.env) && c.env.exists(e, has(e.value) && {{ include "vault-injector.markerTest" (dict "var" "e.value") }})) || (has(c.command) && c.command.exists(a, {{ include "vault-injector.markerTest" (dict "var" "a") }})) || (has(c.args) && c.args.exists(a, {{ include "vault-injector.markerTest" (dict "var" "a") }}))
{{- end -}}

{{/* The service every webhook of the configuration calls, and its CA in provided mode. */}}
{{- define "vault-injector.webhookClient" -}}
clientConfig:
  service:
    name: {{ include "vault-injector.fullname" . }}
    namespace: {{ .Release.Namespace }}
    path: /mutate-pods
    port: 443
  {{- if eq .Values.certificates.mode "provided" }}
  caBundle: {{ required "certificates.provided.caBundle is required in provided mode" .Values.certificates.provided.caBundle | b64enc }}
  {{- end }}
  {{- /* self-managed: the webhook writes caBundle itself; helm upgrades leave it alone. */}}
{{- end }}

{{/* The namespaces every webhook of the configuration leaves alone. */}}
{{- define "vault-injector.namespaceSelector" -}}
namespaceSelector:
  matchExpressions:
    # Never the webhook's own namespace nor kube-system: with failurePolicy Fail, the webhook
    # must not be needed to start itself or the cluster's system pods.
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        {{- range (concat (list "kube-system" .Release.Namespace) .Values.webhook.excludeNamespaces | uniq) }}
        - {{ . | quote }}
        {{- end }}
    {{- if .Values.webhook.optIn }}
    - key: vault-injector.io/enabled
      operator: In
      values: ["true"]
    {{- end }}
{{- end }}
