{{/*
Helpers of the mcptrail chart. The public one is "mcptrail.sidecar" (with
"mcptrail.sidecarVolumes", "mcptrail.sidecarPodLabels" and
"mcptrail.sidecarPodAnnotations"): the sidecar container exactly as the injector adds
it, for users who add the container to their pod template themselves (docs/kubernetes.md).
Every helper takes a context with .Values (this chart's values), .Release and .Chart.
*/}}

{{- define "mcptrail.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mcptrail.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Common labels; call with (dict "ctx" $ "component" "injector"). */}}
{{- define "mcptrail.labels" -}}
app.kubernetes.io/name: {{ include "mcptrail.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/component: {{ .component }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "mcptrail.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mcptrail.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Image of a component; call with (dict "ctx" $ "image" .Values.injector.image). */}}
{{- define "mcptrail.image" -}}
{{- $tag := default .ctx.Chart.AppVersion .ctx.Values.image.tag -}}
{{- printf "%s/%s:%s" .ctx.Values.image.registry .image.repository $tag -}}
{{- end -}}

{{/* Namespaces that run mcptrail containers (the release namespace first). */}}
{{- define "mcptrail.sidecarNamespaces" -}}
{{- $all := list .Release.Namespace -}}
{{- range .Values.sidecar.namespaces -}}
{{- $all = append $all . -}}
{{- end -}}
{{- $all | uniq | toJson -}}
{{- end -}}

{{- define "mcptrail.hmacSecretName" -}}
{{- default (printf "%s-sidecar-keys" (include "mcptrail.fullname" .)) .Values.sidecar.hmacKey.existingSecret -}}
{{- end -}}

{{/*
Kafka settings of one component (call with (dict "ctx" $ "component" "sidecar")): the
kafka.* keys of its configuration file as a JSON object. Each component has its own
principal (docs/kafka-security.md); the SASL password is never in a config file or an
environment variable: it is a mounted Secret file (kafka.sasl_password_file).
*/}}
{{- define "mcptrail.kafkaConfig" -}}
{{- $k := .ctx.Values.kafka -}}
{{- $p := dict -}}
{{- if and $k.tls.enabled $k.sasl.enabled -}}
{{- $_ := set $p "security.protocol" "SASL_SSL" -}}
{{- else if $k.tls.enabled -}}
{{- $_ := set $p "security.protocol" "SSL" -}}
{{- else if $k.sasl.enabled -}}
{{- $_ := set $p "security.protocol" "SASL_PLAINTEXT" -}}
{{- end -}}
{{- if $k.tls.enabled -}}
{{- $_ := set $p "ssl.ca.location" "/etc/mcptrail/kafka-tls/ca.crt" -}}
{{- if $k.tls.clientAuth -}}
{{- $_ := set $p "ssl.certificate.location" "/etc/mcptrail/kafka-tls/tls.crt" -}}
{{- $_ := set $p "ssl.key.location" "/etc/mcptrail/kafka-tls/tls.key" -}}
{{- end -}}
{{- end -}}
{{- $c := dict "kafka.brokers" $k.brokers "kafka.client_id" (printf "mcptrail-%s" .component) -}}
{{- if $k.sasl.enabled -}}
{{- $u := index $k.sasl.users .component -}}
{{- $_ := set $p "sasl.mechanism" $k.sasl.mechanism -}}
{{- $_ := set $p "sasl.username" $u.username -}}
{{- $_ := set $c "kafka.sasl_password_file" "/etc/mcptrail/kafka-sasl/password" -}}
{{- end -}}
{{- range $key, $v := $k.properties -}}
{{- $_ := set $p $key (toString $v) -}}
{{- end -}}
{{- if $p }}{{- $_ := set $c "kafka.properties" $p -}}{{- end -}}
{{- $c | toJson -}}
{{- end -}}

{{/* Secret with the component's SASL password (key "password"). */}}
{{- define "mcptrail.kafkaSaslSecretName" -}}
{{- $u := index .ctx.Values.kafka.sasl.users .component -}}
{{- default (printf "%s-kafka-%s" (include "mcptrail.fullname" .ctx) .component) $u.existingSecret -}}
{{- end -}}

{{/* The chart-made password Secret of a component, unless it names an existing one. */}}
{{- define "mcptrail.kafkaSaslSecret" -}}
{{- $k := .ctx.Values.kafka -}}
{{- $u := index $k.sasl.users .component -}}
{{- if and $k.sasl.enabled (not $u.existingSecret) }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "mcptrail.kafkaSaslSecretName" . }}
  namespace: {{ .namespace }}
  labels:
    {{- include "mcptrail.labels" (dict "ctx" .ctx "component" .component) | nindent 4 }}
type: Opaque
data:
  password: {{ required (printf "kafka.sasl.users.%s: give password or existingSecret when kafka.sasl.enabled is true" .component) $u.password | b64enc | quote }}
{{- end }}
{{- end -}}

{{- define "mcptrail.kafkaSaslVolume" -}}
{{- if .ctx.Values.kafka.sasl.enabled }}
- name: mcptrail-kafka-sasl
  secret:
    secretName: {{ include "mcptrail.kafkaSaslSecretName" . }}
    items:
      - key: password
        path: password
    defaultMode: 0444 # as mcptrail-kafka-tls: injected pods may set no fsGroup
{{- end }}
{{- end -}}

{{- define "mcptrail.kafkaSaslMount" -}}
{{- if .Values.kafka.sasl.enabled }}
- name: mcptrail-kafka-sasl
  mountPath: /etc/mcptrail/kafka-sasl
  readOnly: true
{{- end }}
{{- end -}}

{{- define "mcptrail.kafkaTLSVolume" -}}
{{- if .Values.kafka.tls.enabled }}
- name: mcptrail-kafka-tls
  secret:
    secretName: {{ required "kafka.tls.existingSecret is required when kafka.tls.enabled is true" .Values.kafka.tls.existingSecret }}
    # 0444: injected pods may set no fsGroup, and the sidecar runs as 10001; only the
    # containers that mount the volume see it.
    defaultMode: 0444
{{- end }}
{{- end -}}

{{- define "mcptrail.kafkaTLSMount" -}}
{{- if .Values.kafka.tls.enabled }}
- name: mcptrail-kafka-tls
  mountPath: /etc/mcptrail/kafka-tls
  readOnly: true
{{- end }}
{{- end -}}

{{/* Scrape annotations for a pod with an admin port; call with (dict "ctx" $ "port" 9090). */}}
{{- define "mcptrail.scrapeAnnotations" -}}
{{- if .ctx.Values.metrics.annotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end -}}

{{/* The sidecar's configuration file (sidecar.json). */}}
{{- define "mcptrail.sidecarConfig" -}}
{{- $s := .Values.sidecar -}}
{{- $c := dict
  "listen.address" "0.0.0.0"
  "listen.port" $s.listenPort
  "admin.address" "0.0.0.0"
  "admin.port" $s.adminPort
  "upstream.host" "127.0.0.1"
  "upstream.port" $s.upstreamPort
  "record.mode" $s.recordMode
  "record.spool_dir" "/var/lib/mcptrail/spool"
  "record.spool_max_bytes" (include "mcptrail.spoolBytes" $s.spoolSize)
  "record.hmac_key_file" "/etc/mcptrail/keys/hmac.key"
  "mask.cache_dir" "/var/lib/mcptrail/mask-cache"
  "source.cluster" $s.cluster
  "http.allowed_hosts" $s.allowedHosts
  "schema_dir" "/usr/share/mcptrail/schemas"
-}}
{{- $c = merge $c (include "mcptrail.kafkaConfig" (dict "ctx" . "component" "sidecar") | fromJson) -}}
{{- if $s.policy }}{{- $_ := set $c "policy.file" "/etc/mcptrail/policy/policy.json" -}}{{- end -}}
{{- if $s.tls.existingSecret -}}
{{- $_ := set $c "tls.cert_file" "/etc/mcptrail/tls/tls.crt" -}}
{{- $_ := set $c "tls.key_file" "/etc/mcptrail/tls/tls.key" -}}
{{- $_ := set $c "tls.client_auth" $s.tls.clientAuth -}}
{{- if ne $s.tls.clientAuth "none" }}{{- $_ := set $c "tls.client_ca_file" "/etc/mcptrail/tls/ca.crt" -}}{{- end -}}
{{- end -}}
{{- if $s.jwks }}{{- $_ := set $c "auth.jwks_file" "/etc/mcptrail/config/jwks.json" -}}{{- end -}}
{{- with $s.approvals.decisionKeys -}}
{{- $keys := list -}}
{{- range $i, $_ := . }}{{- $keys = append $keys (printf "/etc/mcptrail/config/decision-key-%d.pem" $i) -}}{{- end -}}
{{- $_ := set $c "approvals.decision_keys" $keys -}}
{{- $_ := set $c "approvals.signing_key_file" "/etc/mcptrail/approvals-key/signing.pem" -}}
{{- end -}}
{{- with $s.approvals.consoleUrl }}{{- $_ := set $c "approvals.console_url" . -}}{{- end -}}
{{- if $s.approvals.stateKeySecret }}{{- $_ := set $c "approvals.state_key_files" (list "/etc/mcptrail/approvals-state/state.key") -}}{{- end -}}
{{- with $s.approvals.claimsTopic }}{{- $_ := set $c "approvals.topic_claims" . -}}{{- end -}}
{{- range $k, $v := $s.config }}{{- $_ := set $c $k $v -}}{{- end -}}
{{- $c | toPrettyJson -}}
{{- end -}}

{{/* 512Mi -> "512MiB" (the sidecar's size syntax); the spool keeps 1/8 of the emptyDir free for the mask cache. */}}
{{- define "mcptrail.spoolBytes" -}}
{{- $n := regexFind "^[0-9]+" . | int64 -}}
{{- $u := regexFind "[A-Za-z]+$" . -}}
{{- $mult := dict "" 1 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 -}}
{{- $bytes := mul $n (get $mult $u) -}}
{{- div (mul $bytes 7) 8 -}}
{{- end -}}

{{/*
mcptrail.sidecar: the sidecar container. Add it to a pod template's containers:
  containers:
    - name: my-mcp-server
      ...
    {{- include "mcptrail.sidecar" . | nindent 4 }}
and its volumes with "mcptrail.sidecarVolumes", labels with "mcptrail.sidecarPodLabels"
(the NetworkPolicy selects them), annotations with "mcptrail.sidecarPodAnnotations".
*/}}
{{/*
The injector's stdio mode (sidecar.stdio.enabled; pods annotated mcptrail.io/stdio):
the launcher that starts the bundled sidecar in any image (its own loader and
libraries), the init container that copies the bundle, its volume and mount.
*/}}
{{- define "mcptrail.sidecarStdio" -}}
launcher: ["/mcptrail/lib/ld-linux-x86-64.so.2", "--library-path", "/mcptrail/lib", "/mcptrail/bin/mcptrail-sidecar"]
env:
  - name: MCPTRAIL_SCHEMA_DIR
    value: /mcptrail/schemas
initContainer:
  name: mcptrail-bundle
  image: {{ include "mcptrail.image" (dict "ctx" . "image" .Values.sidecar.image) }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: ["cp", "-a", "/opt/mcptrail/.", "/mcptrail/"]
  volumeMounts:
    - name: mcptrail-bundle
      mountPath: /mcptrail
  securityContext:
    {{- toYaml .Values.containerSecurityContext | nindent 4 }}
volume:
  name: mcptrail-bundle
  emptyDir:
    sizeLimit: 256Mi
mount:
  name: mcptrail-bundle
  mountPath: /mcptrail
  readOnly: true
{{- end -}}

{{- define "mcptrail.sidecar" -}}
{{- $s := .Values.sidecar -}}
- name: {{ $s.containerName }}
  image: {{ include "mcptrail.image" (dict "ctx" . "image" $s.image) }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: ["--config", "/etc/mcptrail/config/sidecar.json"]
  env:
    - name: MCPTRAIL_SOURCE_POD
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: MCPTRAIL_SOURCE_NAMESPACE
      valueFrom:
        fieldRef:
          fieldPath: metadata.namespace
    - name: MCPTRAIL_UPSTREAM_PORT
      value: {{ $s.upstreamPort | quote }}
  ports:
    - name: mcp
      containerPort: {{ $s.listenPort }}
      protocol: TCP
    - name: mcptrail-admin
      containerPort: {{ $s.adminPort }}
      protocol: TCP
  startupProbe:
    httpGet:
      path: /healthz
      port: {{ $s.adminPort }}
    periodSeconds: 2
    failureThreshold: 30
  livenessProbe:
    httpGet:
      path: /healthz
      port: {{ $s.adminPort }}
    periodSeconds: 10
    failureThreshold: 3
  readinessProbe:
    httpGet:
      path: /readyz
      port: {{ $s.adminPort }}
    periodSeconds: 5
    failureThreshold: 2
  resources:
    {{- toYaml $s.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.containerSecurityContext | nindent 4 }}
  volumeMounts:
    - name: mcptrail-config
      mountPath: /etc/mcptrail/config
      readOnly: true
    - name: mcptrail-policy
      mountPath: /etc/mcptrail/policy
      readOnly: true
    - name: mcptrail-keys
      mountPath: /etc/mcptrail/keys
      readOnly: true
    - name: mcptrail-state
      mountPath: /var/lib/mcptrail
    {{- if $s.tls.existingSecret }}
    - name: mcptrail-tls
      mountPath: /etc/mcptrail/tls
      readOnly: true
    {{- end }}
    {{- if $s.approvals.decisionKeys }}
    - name: mcptrail-approvals-key
      mountPath: /etc/mcptrail/approvals-key
      readOnly: true
    {{- end }}
    {{- if $s.approvals.stateKeySecret }}
    - name: mcptrail-approvals-state
      mountPath: /etc/mcptrail/approvals-state
      readOnly: true
    {{- end }}
    {{- include "mcptrail.kafkaTLSMount" . | nindent 4 }}
    {{- include "mcptrail.kafkaSaslMount" . | nindent 4 }}
{{- end -}}

{{- define "mcptrail.sidecarVolumes" -}}
{{- $full := include "mcptrail.fullname" . -}}
- name: mcptrail-config
  configMap:
    name: {{ $full }}-sidecar
- name: mcptrail-policy
  configMap:
    name: {{ $full }}-sidecar-policy
    optional: true
- name: mcptrail-keys
  secret:
    secretName: {{ include "mcptrail.hmacSecretName" . }}
    defaultMode: 0444 # see mcptrail-kafka-tls: the pod's fsGroup is not ours to set
- name: mcptrail-state
  emptyDir:
    sizeLimit: {{ .Values.sidecar.spoolSize }}
{{- with .Values.sidecar.tls.existingSecret }}
- name: mcptrail-tls
  secret:
    secretName: {{ . }}
    defaultMode: 0444
{{- end }}
{{- if .Values.sidecar.approvals.decisionKeys }}
- name: mcptrail-approvals-key
  secret:
    secretName: {{ required "sidecar.approvals.signingKeySecret (a Secret with key signing.pem, in every sidecar namespace) is required with sidecar.approvals.decisionKeys" .Values.sidecar.approvals.signingKeySecret }}
    items:
      - key: signing.pem
        path: signing.pem
    defaultMode: 0444 # as mcptrail-kafka-tls: injected pods may set no fsGroup
{{- end }}
{{- with .Values.sidecar.approvals.stateKeySecret }}
- name: mcptrail-approvals-state
  secret:
    secretName: {{ . }}
    items:
      - key: state.key
        path: state.key
    defaultMode: 0444
{{- end }}
{{- include "mcptrail.kafkaTLSVolume" . }}
{{- include "mcptrail.kafkaSaslVolume" (dict "ctx" . "component" "sidecar") }}
{{- end -}}

{{- define "mcptrail.sidecarPodLabels" -}}
mcptrail.io/sidecar: injected
{{- end -}}

{{- define "mcptrail.sidecarPodAnnotations" -}}
{{- include "mcptrail.scrapeAnnotations" (dict "ctx" . "port" .Values.sidecar.adminPort) | trim -}}
{{- end -}}

{{/* Scheduling of the chart's own pods. */}}
{{- define "mcptrail.scheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Pod-level fields every chart pod shares; call with (dict "ctx" $ "component" "x"). */}}
{{- define "mcptrail.podCommon" -}}
serviceAccountName: {{ if .ctx.Values.serviceAccount.create }}{{ include "mcptrail.fullname" .ctx }}-{{ .component }}{{ else }}default{{ end }}
automountServiceAccountToken: {{ .ctx.Values.serviceAccount.automountToken }}
securityContext:
  {{- toYaml .ctx.Values.podSecurityContext | nindent 2 }}
{{- include "mcptrail.scheduling" .ctx }}
{{- end -}}
