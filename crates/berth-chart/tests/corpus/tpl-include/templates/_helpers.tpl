{{- define "ti.owner" -}}
{{ .Release.Namespace }}-team
{{- end -}}
