{{- define "up" -}}{{ . | upper }}{{- end -}}
