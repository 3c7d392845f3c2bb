{{- define "common.images.image" -}}
{{- $registry := .global.imageRegistry | default "docker.io" -}}
{{- if contains "/" .imageRoot -}}
{{- printf "%s/%s" $registry .imageRoot -}}
{{- else -}}
{{- printf "%s/library/%s" $registry .imageRoot -}}
{{- end -}}
{{- end -}}
