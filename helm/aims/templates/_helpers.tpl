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
