{{/* Chart name. */}}
{{- define "kompas.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped name; suffixes (-web, -worker, -migrate) keep it under 63 characters. */}}
{{- define "kompas.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 48 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 48 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 48 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kompas.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels; call with (dict "ctx" $ "component" "web"). */}}
{{- define "kompas.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kompas.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Common labels; call with (dict "ctx" $ "component" "web"). */}}
{{- define "kompas.labels" -}}
helm.sh/chart: {{ include "kompas.chart" .ctx }}
{{ include "kompas.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: kompas
{{- end }}

{{- define "kompas.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
An environment value as a string. Helm reads numbers in values as floats, so an unquoted
31536000 would print as 3.1536e+07; whole numbers are printed as integers.
*/}}
{{- define "kompas.envValue" -}}
{{- if kindIs "invalid" . }}
{{- else if kindIs "float64" . }}
{{- if eq . (float64 (int64 .)) }}{{ int64 . }}{{ else }}{{ toString . }}{{ end }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/*
The non-secret environment as YAML (name: "value"): values.env plus what the chart owns.
The ConfigMap renders it; the migration job inlines it, because a pre-install hook runs
before the ConfigMap exists.
*/}}
{{- define "kompas.env" -}}
{{- range $name := list "KOMPAS_ENV" "BASE_DOMAIN" "PORT" }}
{{- if hasKey $.Values.env $name }}
{{- fail (printf "env.%s is set by the chart (KOMPAS_ENV is always production, BASE_DOMAIN comes from baseDomain, PORT from web.containerPort); remove it from env" $name) }}
{{- end }}
{{- end }}
{{- $env := dict }}
{{- range $name, $value := .Values.env }}
{{- $_ := set $env $name (include "kompas.envValue" $value) }}
{{- end }}
{{- $_ := set $env "KOMPAS_ENV" "production" }}
{{- $_ := set $env "BASE_DOMAIN" (required "baseDomain is required" .Values.baseDomain) }}
{{- $_ := set $env "PORT" (include "kompas.envValue" .Values.web.containerPort) }}
{{- toYaml $env }}
{{- end }}

{{- define "kompas.configMapName" -}}
{{- include "kompas.fullname" . }}-env
{{- end }}

{{/* Pod-level settings shared by every pod of the chart. */}}
{{- define "kompas.podSpecCommon" -}}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir: {}
  - name: data
    emptyDir: {}
{{- end }}

{{/* Container-level settings shared by every container; the paths match infra/Dockerfile. */}}
{{- define "kompas.containerCommon" -}}
image: {{ include "kompas.image" . | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
{{- with .Values.securityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  - name: data
    mountPath: /var/lib/kompas
{{- end }}

{{/* envFrom for web and worker: the chart's ConfigMap and the operator's Secret. */}}
{{- define "kompas.envFrom" -}}
envFrom:
  - configMapRef:
      name: {{ include "kompas.configMapName" . }}
  - secretRef:
      name: {{ required "existingSecret is required" .Values.existingSecret }}
{{- end }}
