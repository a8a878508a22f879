{{/* Names and labels. */}}
{{- define "rg.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "rg.fullname" -}}
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

{{- define "rg.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rg.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "rg.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "rg.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: responses-gateway
{{- end -}}

{{/* The Deployments of the mode: name (a values key and a component label) and the `serve` role it runs. */}}
{{- define "rg.components" -}}
{{- if eq .Values.mode "split" -}}
- {name: bridge, role: bridge, http: true, grpc: false}
- {name: service, role: grpc, http: false, grpc: true}
{{- else -}}
- {name: gateway, role: all, http: true, grpc: true}
{{- end -}}
{{- end -}}

{{/* The component whose pods serve the HTTP port, and the one whose pods serve gRPC. */}}
{{- define "rg.httpComponent" -}}
{{- if eq .Values.mode "split" }}bridge{{ else }}gateway{{ end -}}
{{- end -}}
{{- define "rg.grpcComponent" -}}
{{- if eq .Values.mode "split" }}service{{ else }}gateway{{ end -}}
{{- end -}}

{{- define "rg.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "rg.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "rg.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The headless gRPC Service's fully qualified name. */}}
{{- define "rg.grpcHost" -}}
{{ include "rg.fullname" . }}-grpc.{{ .Release.Namespace }}.svc.{{ .Values.clusterDomain }}
{{- end -}}

{{- define "rg.externalDatabase" -}}
{{- if .Values.database.existingSecret }}true{{ end -}}
{{- end -}}

{{/* Whether the hook Job migrates (and so the pods must not). */}}
{{- define "rg.migrationJob" -}}
{{- if and .Values.migration.enabled .Values.database.existingSecret }}true{{ end -}}
{{- end -}}

{{- define "rg.terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" .Values.shutdown.terminationGracePeriodSeconds -}}
{{- add .Values.shutdown.graceSeconds .Values.shutdown.preStopSleepSeconds 5 -}}
{{- else -}}
{{- .Values.shutdown.terminationGracePeriodSeconds -}}
{{- end -}}
{{- end -}}

{{/* Combinations the schema cannot express; each fails the render with what to change. */}}
{{- define "rg.validate" -}}
{{- if and (eq .Values.mode "split") (not .Values.database.existingSecret) -}}
{{- fail "mode split needs a database every service pod shares: set database.existingSecret (a Secret holding a postgresql+asyncpg:// URL), or use mode combined for SQLite" -}}
{{- end -}}
{{- if and (eq .Values.mode "combined") (not .Values.database.existingSecret) (or (gt (int .Values.gateway.replicas) 1) .Values.gateway.autoscaling.enabled) -}}
{{- fail "SQLite is one file on one pod: with mode combined and no database.existingSecret keep gateway.replicas at 1 and gateway.autoscaling off" -}}
{{- end -}}
{{- if and .Values.tls.enabled (or (not .Values.tls.existingSecret) (not .Values.tls.certFile) (not .Values.tls.keyFile)) -}}
{{- fail "tls.enabled needs tls.existingSecret, tls.certFile and tls.keyFile" -}}
{{- end -}}
{{- if and .Values.tls.enabled (eq .Values.mode "split") (not .Values.tls.backendCaFile) -}}
{{- fail "with tls.enabled in split mode the service speaks TLS only: set tls.backendCaFile so the bridge can dial it" -}}
{{- end -}}
{{- if ne (empty .Values.tls.backendCertFile) (empty .Values.tls.backendKeyFile) -}}
{{- fail "tls.backendCertFile and tls.backendKeyFile go together" -}}
{{- end -}}
{{- $owned := dict "http_host" "(set by the chart: 0.0.0.0)" "grpc_host" "(set by the chart: 0.0.0.0)" "http_port" "ports.http" "grpc_port" "ports.grpc" "metrics_port" "ports.metrics" "backend_target" "(set by the chart: the headless gRPC Service)" "database_url" "database.existingSecret" "redis_url" "redis.existingSecret" "tls" "tls" "providers" "routing.providers" "models" "routing.models" "retry" "routing.retry" "breaker" "routing.breaker" -}}
{{- range $key, $use := $owned -}}
{{- if hasKey $.Values.config $key -}}
{{- fail (printf "config.%s is the chart's to set: use %s" $key $use) -}}
{{- end -}}
{{- end -}}
{{- $tgp := int (include "rg.terminationGracePeriodSeconds" .) -}}
{{- if le $tgp (add .Values.shutdown.graceSeconds .Values.shutdown.preStopSleepSeconds | int) -}}
{{- fail "shutdown.terminationGracePeriodSeconds must exceed shutdown.preStopSleepSeconds + shutdown.graceSeconds, or the kubelet kills streams the gateway is still draining" -}}
{{- end -}}
{{- end -}}

{{/* The gateway's YAML file: the free settings, then the routing. */}}
{{- define "rg.configFile" -}}
{{- $file := deepCopy .Values.config -}}
{{- range $key := list "providers" "models" "retry" "breaker" -}}
{{- $value := get $.Values.routing $key -}}
{{- if $value -}}
{{- $_ := set $file $key $value -}}
{{- end -}}
{{- end -}}
{{- toYaml $file -}}
{{- end -}}

{{/* A secretKeyRef variable. */}}
{{- define "rg.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .key }}
      {{- if hasKey . "optional" }}
      optional: {{ .optional }}
      {{- end }}
{{- end -}}

{{/* Variables every gateway pod gets. Takes (dict "root" $ "c" component). */}}
{{- define "rg.env" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $c := .c -}}
{{- if $c.http }}
- name: RG_HTTP_HOST
  value: "0.0.0.0"
- name: RG_HTTP_PORT
  value: {{ $v.ports.http | quote }}
{{- end }}
{{- if $c.grpc }}
- name: RG_GRPC_HOST
  value: "0.0.0.0"
- name: RG_GRPC_PORT
  value: {{ $v.ports.grpc | quote }}
{{- end }}
- name: RG_METRICS_PORT
  value: {{ $v.ports.metrics | quote }}
- name: RG_SHUTDOWN_GRACE_SECONDS
  value: {{ $v.shutdown.graceSeconds | quote }}
{{- if eq $c.role "bridge" }}
- name: RG_BACKEND_TARGET
  value: {{ printf "dns:///%s:%v" (include "rg.grpcHost" $root) $v.ports.grpc | quote }}
{{- end }}
{{- if $c.grpc }}
{{- if $v.database.existingSecret }}
{{ include "rg.secretEnv" (dict "env" "RG_DATABASE_URL" "secretName" $v.database.existingSecret "key" $v.database.key) }}
{{- else }}
- name: RG_DATABASE_URL
  value: {{ printf "sqlite+aiosqlite:///%s" $v.database.sqlite.path | quote }}
{{- end }}
- name: RG_MIGRATE_ON_START
  value: {{ ternary "false" "true" (eq (include "rg.migrationJob" $root) "true") | quote }}
{{- if $v.redis.existingSecret }}
{{ include "rg.secretEnv" (dict "env" "RG_REDIS_URL" "secretName" $v.redis.existingSecret "key" $v.redis.key) }}
{{- end }}
{{- if $v.compaction.sealingKey.existingSecret }}
{{ include "rg.secretEnv" (dict "env" "RG_COMPACTION__SEALING_KEY" "secretName" $v.compaction.sealingKey.existingSecret "key" $v.compaction.sealingKey.key) }}
{{- end }}
{{- range $v.providerSecrets }}
{{ include "rg.secretEnv" . }}
{{- end }}
{{- end }}
{{- if $v.tls.enabled }}
{{- $dir := $v.tls.mountPath }}
- name: RG_TLS__CERT_FILE
  value: {{ printf "%s/%s" $dir $v.tls.certFile | quote }}
- name: RG_TLS__KEY_FILE
  value: {{ printf "%s/%s" $dir $v.tls.keyFile | quote }}
{{- if and $c.grpc $v.tls.clientCaFile }}
- name: RG_TLS__CLIENT_CA_FILE
  value: {{ printf "%s/%s" $dir $v.tls.clientCaFile | quote }}
{{- end }}
{{- if eq $c.role "bridge" }}
- name: RG_TLS__BACKEND_CA_FILE
  value: {{ printf "%s/%s" $dir $v.tls.backendCaFile | quote }}
{{- if $v.tls.backendCertFile }}
- name: RG_TLS__BACKEND_CERT_FILE
  value: {{ printf "%s/%s" $dir $v.tls.backendCertFile | quote }}
- name: RG_TLS__BACKEND_KEY_FILE
  value: {{ printf "%s/%s" $dir $v.tls.backendKeyFile | quote }}
{{- end }}
{{- if $v.tls.backendServerName }}
- name: RG_TLS__BACKEND_SERVER_NAME
  value: {{ $v.tls.backendServerName | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- range $name, $value := $v.otel.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- if and $v.otel.kubernetesResourceAttributes (not (hasKey $v.otel.env "OTEL_RESOURCE_ATTRIBUTES")) }}
- name: K8S_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: K8S_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "k8s.namespace.name=$(K8S_NAMESPACE),k8s.pod.name=$(K8S_POD_NAME),k8s.deployment.name=%s" (include "rg.componentName" (dict "root" $root "name" $c.name)) | quote }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with (index $v $c.name).extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* A component's object name: the release's full name, suffixed in split mode (-bridge, -service). Takes (dict "root" $ "name" component). */}}
{{- define "rg.componentName" -}}
{{- if eq .name "gateway" -}}
{{ include "rg.fullname" .root }}
{{- else -}}
{{ include "rg.fullname" .root }}-{{ .name }}
{{- end -}}
{{- end -}}
