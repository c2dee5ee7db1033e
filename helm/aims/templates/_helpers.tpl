{{/* Chart name, at most 63 characters. */}}
{{- define "aims.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Name of the collector's objects: <release>-aims, or the release name when it
already contains the chart name (a release "aims" gives "aims-collector"
objects as in deploy/k8s/base).
*/}}
{{- define "aims.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- printf "%s-collector" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s-collector" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
app.kubernetes.io/name of the collector's objects: <name>-collector, where
<name> is the chart name or nameOverride ("aims-collector" by default, as in
deploy/k8s/base).
*/}}
{{- define "aims.collectorName" -}}
{{- printf "%s-collector" (include "aims.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "aims.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object (objects add app.kubernetes.io/component). */}}
{{- define "aims.labels" -}}
helm.sh/chart: {{ include "aims.chart" . }}
app.kubernetes.io/name: {{ include "aims.collectorName" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: aims
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector of the collector pods (and of its Services). */}}
{{- define "aims.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aims.collectorName" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: collector
{{- end -}}

{{/* image: repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "aims.image" -}}
{{- $tag := .image.tag | default .root.Chart.AppVersion -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}

{{/* The hardened container securityContext of every aims container. */}}
{{- define "aims.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* gRPC address of this release's collector. */}}
{{- define "aims.collectorAddress" -}}
{{- printf "%s.%s.svc:%v" (include "aims.fullname" .) .Release.Namespace .Values.service.grpcPort -}}
{{- end -}}

{{/* Name of the Secret with tokens.yaml: auth.tokensSecretName or <fullname>-tokens. */}}
{{- define "aims.tokensSecretName" -}}
{{- .Values.auth.tokensSecretName | default (printf "%s-tokens" (include "aims.fullname" .)) -}}
{{- end -}}

{{/* True when the cluster serves the Prometheus Operator's CRDs. */}}
{{- define "aims.hasPrometheusOperator" -}}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" -}}true{{- end -}}
{{- end -}}

{{/*
Fleet mode: the etcd client address the collectors use (--fleet_etcd): the
chart's own etcd's Service, or fleet.etcd.endpoint. Fails on a fleet without
exactly one of them, and on more than one collector without a fleet.
*/}}
{{- define "aims.fleetEtcd" -}}
{{- $etcd := .Values.fleet.etcd -}}
{{- if not .Values.fleet.enabled -}}
{{- if gt (int .Values.collector.replicas) 1 -}}
{{- fail "collector.replicas > 1 needs fleet.enabled (each collector has its own database; a fleet shares the models between them)" -}}
{{- end -}}
{{- if $etcd.deploy -}}
{{- fail "fleet.etcd.deploy needs fleet.enabled" -}}
{{- end -}}
{{- else if and $etcd.deploy $etcd.endpoint -}}
{{- fail "fleet.etcd: set endpoint (an existing etcd) or deploy: true, not both" -}}
{{- else if $etcd.deploy -}}
{{- printf "%s.%s.svc:2379" (include "aims.etcdFullname" .) .Release.Namespace -}}
{{- else -}}
{{- required "fleet.enabled needs fleet.etcd.endpoint (host:port of an existing etcd) or fleet.etcd.deploy: true" $etcd.endpoint -}}
{{- end -}}
{{- end -}}

{{/* Name of the chart's etcd objects: <fullname>-etcd. */}}
{{- define "aims.etcdFullname" -}}
{{- printf "%s-etcd" (include "aims.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of the chart's etcd objects (app.kubernetes.io/name <name>-etcd). */}}
{{- define "aims.etcdLabels" -}}
helm.sh/chart: {{ include "aims.chart" . }}
{{ include "aims.etcdSelectorLabels" . }}
app.kubernetes.io/version: {{ .Values.fleet.etcd.image.tag | quote }}
app.kubernetes.io/part-of: aims
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "aims.etcdSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-etcd" (include "aims.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: etcd
{{- end -}}

{{/*
What Prometheus scrapes without a ServiceMonitor: the Service of the single
collector; in fleet mode every collector pod (through the Service it would
reach one of them at random).
*/}}
{{- define "aims.scrapeTarget" -}}
{{- if .Values.fleet.enabled -}}
each collector pod, {{ include "aims.fullname" . }}-N.{{ include "aims.fullname" . }}-headless:9464/metrics (N = 0..{{ sub (int .Values.collector.replicas) 1 }}),
{{- else -}}
{{ include "aims.fullname" . }}:{{ .Values.service.httpPort }}/metrics
{{- end -}}
{{- end -}}
