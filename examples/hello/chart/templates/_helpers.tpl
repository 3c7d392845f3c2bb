{{/* Chart name, truncated to the 63 characters Kubernetes allows. */}}
{{- define "hello.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name. */}}
{{- define "hello.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "hello.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hello.labels" -}}
helm.sh/chart: {{ include "hello.chart" . }}
{{ include "hello.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "hello.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hello.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hello.image" -}}
{{- printf "%s/%s:%s" .Values.image.registry .Values.image.repository .Values.image.tag }}
{{- end }}

{{/* Database connection settings shared by the web pods and the migration job. */}}
{{- define "hello.databaseEnv" -}}
{{- if .Values.postgresql.enabled }}
- name: DATABASE_HOST
  value: {{ include "hello.fullname" . }}-postgresql
- name: DATABASE_PORT
  value: "5432"
- name: DATABASE_USER
  value: hello
- name: DATABASE_NAME
  value: hello
- name: DATABASE_SSLMODE
  value: disable
{{- else }}
- name: DATABASE_HOST
  value: {{ required "externalDatabase.host is required when postgresql.enabled is false" .Values.externalDatabase.host | quote }}
- name: DATABASE_PORT
  value: {{ .Values.externalDatabase.port | toString | quote }}
- name: DATABASE_USER
  value: {{ .Values.externalDatabase.user | quote }}
- name: DATABASE_NAME
  value: {{ .Values.externalDatabase.database | quote }}
- name: DATABASE_SSLMODE
  value: {{ .Values.externalDatabase.sslmode | quote }}
{{- end }}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "hello.fullname" . }}-db
      key: password
{{- end }}
