{{/*
Prometheus Operator objects need monitoring.coreos.com/v1; fail with a message saying so.
Pass a dict with "root" and "what" (the value that asked for it).
*/}}
{{- define "tunnelkeeper.requireMonitoringApi" -}}
{{- if not (.root.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") }}
{{- fail (printf "%s is true but the cluster has no monitoring.coreos.com/v1 (install the Prometheus Operator CRDs, or pass --api-versions monitoring.coreos.com/v1 to helm template)" .what) }}
{{- end }}
{{- end }}

{{/*
The scrape endpoint shared by ServiceMonitor and PodMonitor; pass the monitor's values.
*/}}
{{- define "tunnelkeeper.scrapeEndpoint" -}}
- port: metrics
  path: /metrics
  scheme: http
  interval: {{ .interval }}
  scrapeTimeout: {{ .scrapeTimeout }}
  honorLabels: {{ .honorLabels }}
  {{- with .relabelings }}
  relabelings:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .metricRelabelings }}
  metricRelabelings:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
The Prometheus `job` label of a component's targets, as the Prometheus Operator sets it: the
Service name for a ServiceMonitor, "<namespace>/<name>" for a PodMonitor. The alerts select by
it. Pass a dict with "root" and "component".
*/}}
{{- define "tunnelkeeper.job" -}}
{{- if .root.Values.metrics.podMonitor.enabled -}}
{{ .root.Release.Namespace }}/{{ include "tunnelkeeper.fullname" .root }}-{{ .component }}
{{- else -}}
{{ include "tunnelkeeper.fullname" .root }}-{{ .component }}-metrics
{{- end -}}
{{- end }}
