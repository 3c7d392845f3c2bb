{{- define "shared.name" -}}from-root-z{{- end -}}
{{- define "other" -}}z{{- end -}}
