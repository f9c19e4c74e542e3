{{/* Names and labels shared by every template. */}}
{{- define "peerbridge.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 50 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "peerbridge.labels" -}}
app.kubernetes.io/part-of: peerbridge
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one service: call with (dict "root" $ "name" $name). */}}
{{- define "peerbridge.selector" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "peerbridge.dbSecret" -}}
{{- .Values.database.existingSecret | default (printf "%s-database" (include "peerbridge.fullname" .)) -}}
{{- end -}}

{{- define "peerbridge.jwtSecret" -}}
{{- .Values.jwt.existingSecret | default (printf "%s-jwt" (include "peerbridge.fullname" .)) -}}
{{- end -}}
