/**
 * API identity of tunnelkeeper: group, version, kind, field managers and label keys.
 * Every string that names tunnelkeeper to the Kubernetes API is defined here, once.
 */

export const GROUP = "tunnelkeeper.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "PortForward";
export const LIST_KIND = "PortForwardList";
export const PLURAL = "portforwards";
export const SINGULAR = "portforward";
export const SHORT_NAMES: readonly string[] = ["pf"];
export const CATEGORIES: readonly string[] = ["tunnelkeeper"];
export const CRD_NAME = `${PLURAL}.${GROUP}`;

/** Field manager of the controller for Services and the controller-owned part of status. */
export const CONTROLLER_FIELD_MANAGER = "tunnelkeeper-controller";
/** Prefix of each gateway replica's field manager; the replica's pod name follows the slash. */
export const GATEWAY_FIELD_MANAGER_PREFIX = "tunnelkeeper-gateway/";
/** Name under which the controller reports Events (events.k8s.io/v1 `reportingController`). */
export const REPORTING_CONTROLLER = `${GROUP}/controller`;
/** Name under which gateway replicas report Events (refused connections). */
export const REPORTING_GATEWAY = `${GROUP}/gateway`;

/** Field manager of one gateway replica, so each replica owns exactly its own `status.gateways` entry. */
export function gatewayFieldManager(gatewayPod: string): string {
  return `${GATEWAY_FIELD_MANAGER_PREFIX}${gatewayPod}`;
}

export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "tunnelkeeper";
/** Set on every object created for a PortForward; its value is the PortForward's name. */
export const LABEL_PORTFORWARD = `${GROUP}/portforward`;
/** On a per-pod Service (spec.service.perPod) and its EndpointSlice: the name of the target pod it routes to. */
export const LABEL_POD = `${GROUP}/pod`;

/**
 * On a PortForward's EndpointSlice: the gateway replicas that keep its tunnels open (the tunnel
 * budget; status.assignedGateways says the same), comma-separated. Absent: every replica.
 */
export const ANNOTATION_ASSIGNED_GATEWAYS = `${GROUP}/assigned-gateways`;

/** On NetworkPolicies in the gateway namespace: the namespace of the PortForward they belong to. */
export const LABEL_PORTFORWARD_NAMESPACE = `${GROUP}/portforward-namespace`;
/** On NetworkPolicies in the gateway namespace: `namespace/name` of their PortForward (labels cap values at 63). */
export const ANNOTATION_PORTFORWARD_KEY = `${GROUP}/portforward-key`;

/** Requests an immediate reconcile (any new value); echoed in status.lastHandledReconcileAt. */
export const ANNOTATION_RECONCILE_REQUESTED_AT = `${GROUP}/reconcile-requested-at`;
/** Flux's reconcile-request annotation (`flux reconcile`), honoured too so generic tooling works. */
export const ANNOTATION_FLUX_RECONCILE_REQUESTED_AT = "reconcile.fluxcd.io/requestedAt";

/** Argo CD's default tracking label; never copied onto objects we create. */
export const ARGOCD_INSTANCE_LABEL = "app.kubernetes.io/instance";
/** Argo CD's annotation-based tracking key; never copied onto objects we create. */
export const ARGOCD_TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id";

/** EndpointSlice label naming the Service a slice belongs to (Kubernetes' own key). */
export const LABEL_SERVICE_NAME = "kubernetes.io/service-name";
/** EndpointSlice label naming the controller that manages a slice (Kubernetes' own key). */
export const LABEL_ENDPOINTSLICE_MANAGED_BY = "endpointslice.kubernetes.io/managed-by";
/** Our value of LABEL_ENDPOINTSLICE_MANAGED_BY, so the EndpointSlice controller leaves our slices alone. */
export const ENDPOINTSLICE_MANAGER = `controller.${GROUP}`;

/** Labels of each gateway replica's heartbeat Lease (in the gateway namespace). */
export const LABEL_COMPONENT = "app.kubernetes.io/component";
export const GATEWAY_COMPONENT = "gateway";
/** Annotation on a gateway heartbeat Lease: the replica's pod IP (empty when it runs outside a pod). */
export const ANNOTATION_POD_IP = `${GROUP}/pod-ip`;
/** Name of the heartbeat Lease of gateway replica `pod`. */
export function gatewayLeaseName(pod: string): string {
  return `tunnelkeeper-gateway-${pod}`.slice(0, 253);
}
/** Name of the controller's leader-election Lease. */
export const CONTROLLER_LEASE_NAME = "tunnelkeeper-controller";
