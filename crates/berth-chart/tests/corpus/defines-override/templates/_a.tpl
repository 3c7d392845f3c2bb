{{- define "shared.name" -}}from-root-a{{- end -}}
{{- define "other" -}}a{{- end -}}
