{{- define "common.labels" -}}
app: {{ .Chart.Name }}
managed-by: {{ .Release.Service }}
{{- end -}}
{{- define "common.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
