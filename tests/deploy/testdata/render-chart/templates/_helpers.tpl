{{- define "fixture.labels" -}}
app: {{ .Chart.Name }}
release: {{ .Release.Name | quote }}
{{- end -}}
This text is in a partial and never rendered.
