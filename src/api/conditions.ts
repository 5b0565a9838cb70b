/**
 * Condition types and reasons of a PortForward. Types and reasons are stable CamelCase words:
 * tools (kstatus, Argo CD, Flux, alerting on the condition metric) match on them.
 *
 * `Ready`, `TargetResolved`, `TunnelConnected` and `ServiceReady` are normal-true and always present.
 * `Reconciling`, `Stalled`, `Degraded` and `AccessDenied` are abnormal-true and present only while
 * true (kstatus). `AccessDenied` never affects Ready: allowed clients are served all along.
 */

export const ConditionType = {
  Ready: "Ready",
  Reconciling: "Reconciling",
  Stalled: "Stalled",
  TargetResolved: "TargetResolved",
  TunnelConnected: "TunnelConnected",
  ServiceReady: "ServiceReady",
  Degraded: "Degraded",
  /** Abnormal-true: some gateway refused a connection that spec.access does not admit, recently. */
  AccessDenied: "AccessDenied",
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

/** Condition types that are present only while true. */
export const ABNORMAL_TRUE_CONDITION_TYPES: readonly ConditionType[] = [
  ConditionType.Reconciling,
  ConditionType.Stalled,
  ConditionType.Degraded,
  ConditionType.AccessDenied,
];

export const Reason = {
  // Target resolution.
  Resolved: "Resolved",
  PodNotFound: "PodNotFound",
  NoMatchingPods: "NoMatchingPods",
  NoReadyPods: "NoReadyPods",
  PortNotExposed: "PortNotExposed",
  ServiceNotFound: "ServiceNotFound",
  WorkloadNotFound: "WorkloadNotFound",
  ProtocolUnsupported: "ProtocolUnsupported",
  // A remote cluster (spec.cluster.kubeconfigSecretRef): its kubeconfig, then its API server.
  RemoteKubeconfigInvalid: "RemoteKubeconfigInvalid",
  RemoteConnecting: "RemoteConnecting",
  RemoteUnreachable: "RemoteUnreachable",
  RemoteTLSFailed: "RemoteTLSFailed",
  RemoteUnauthorized: "RemoteUnauthorized",
  RemoteForbidden: "RemoteForbidden",
  // Tunnels (reported by gateways).
  Connected: "Connected",
  NoGatewayReporting: "NoGatewayReporting",
  Reconnecting: "Reconnecting",
  Forbidden: "Forbidden",
  PartiallyConnected: "PartiallyConnected",
  // The Service the controller applies.
  ServiceAvailable: "ServiceAvailable",
  ServicePending: "ServicePending",
  ServiceConflict: "ServiceConflict",
  PortsExhausted: "PortsExhausted",
  // Access (spec.access), reported by gateways.
  SourceUnknown: "SourceUnknown",
  PeerNotAllowed: "PeerNotAllowed",
  // Summary.
  Forwarding: "Forwarding",
  /** spec.suspend: tunnels closed on purpose; neither Stalled nor Reconciling (kstatus Current). */
  Suspended: "Suspended",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

export const ConditionStatus = {
  True: "True",
  False: "False",
  Unknown: "Unknown",
} as const;
export type ConditionStatus = (typeof ConditionStatus)[keyof typeof ConditionStatus];
