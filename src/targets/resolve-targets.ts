/**
 * Target resolution: which pods a PortForward forwards to, whether each is ready, and the
 * concrete pod port for every spec port. Pure: it reads the objects it is given and nothing else.
 *
 * Only objects in the PortForward's own namespace are considered, whatever the caller passes:
 * a PortForward never reaches another namespace.
 *
 * Port semantics (as with `kubectl port-forward`):
 * - pod, selector and workload targets: a numeric targetPort is used as is (a pod may listen on
 *   a port it does not declare); a named one must match a TCP container port of the pod.
 * - service targets: targetPort names a port of the Service (by number or name). The pod port is
 *   taken from the Service's EndpointSlices (which carry the resolved port per pod), falling back
 *   to the Service's own targetPort mapping against the pod's container ports.
 *
 * Readiness: a target's `ready` says whether new connections may go to it. That is a ready pod,
 * or, with spec.includeNotReadyPods, a Running pod that is not ready (then `servedNotReady` is
 * set). A pod that is not Running, or is terminating, is never served.
 */
import type {
  V1Container,
  V1ContainerPort,
  V1DaemonSet,
  V1Deployment,
  V1EndpointSlice,
  V1LabelSelector,
  V1Pod,
  V1ReplicaSet,
  V1Service,
  V1ServicePort,
  V1StatefulSet,
} from "@kubernetes/client-node";
import { Reason } from "../api/conditions.ts";
import type { PortForward } from "../api/portforward.ts";
import type { PortSpec, Target } from "../api/spec.ts";
import { byPod } from "../runtime/order.ts";
import { formatSelector, isEmptySelector, matchesSelector, type Selector } from "./label-selector.ts";

/**
 * Objects observed in (at least) the PortForward's namespace, or, for a PortForward with
 * spec.cluster, in its namespace of the remote cluster (`remote`). `unavailable` says the
 * observation could not be made (a remote cluster that cannot be read); resolution then fails
 * with that reason.
 */
export interface TargetObservation {
  readonly remote?: { readonly namespace: string };
  readonly unavailable?: { readonly reason: RemoteReason; readonly message: string };
  pods: readonly V1Pod[];
  services?: readonly V1Service[];
  endpointSlices?: readonly V1EndpointSlice[];
  deployments?: readonly V1Deployment[];
  statefulSets?: readonly V1StatefulSet[];
  replicaSets?: readonly V1ReplicaSet[];
  daemonSets?: readonly V1DaemonSet[];
}

export interface ResolvedPort {
  /** spec.ports[].port (the Service port). */
  port: number;
  /** The concrete port on the target pod. */
  targetPort: number;
}

export interface ResolvedTarget {
  pod: string;
  uid?: string;
  /** New connections may go to this pod: it is ready, or served not ready (`servedNotReady`). */
  ready: boolean;
  /** Set when the pod is not ready but served anyway (spec.includeNotReadyPods, pod Running). */
  servedNotReady?: true;
  ports: ResolvedPort[];
}

export type TargetFailureReason =
  | typeof Reason.PodNotFound
  | typeof Reason.NoMatchingPods
  | typeof Reason.NoReadyPods
  | typeof Reason.PortNotExposed
  | typeof Reason.ServiceNotFound
  | typeof Reason.WorkloadNotFound
  | typeof Reason.ProtocolUnsupported
  | RemoteReason;

/** Why a remote cluster cannot be observed (src/remote/remote-health.ts says which applies). */
export type RemoteReason =
  | typeof Reason.RemoteKubeconfigInvalid
  | typeof Reason.RemoteConnecting
  | typeof Reason.RemoteUnreachable
  | typeof Reason.RemoteTLSFailed
  | typeof Reason.RemoteUnauthorized
  | typeof Reason.RemoteForbidden;

/** Either usable targets, or why there are none; `targets` lists what was found either way. */
export type ResolveResult =
  | { ok: true; targets: ResolvedTarget[] }
  | { ok: false; reason: TargetFailureReason; message: string; targets: ResolvedTarget[] };

const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
const TCP_ONLY = "pods/portforward carries TCP only";

/** Describes a target the way kubectl names it: pod/x, deployment/api, service/db, selector app=web. */
export function describeTarget(target: Target): string {
  if (target.pod !== undefined) return `pod/${target.pod}`;
  if (target.service !== undefined) return `service/${target.service}`;
  if (target.workload !== undefined) return `${target.workload.kind.toLowerCase()}/${target.workload.name}`;
  if (target.selector !== undefined) return `selector ${formatSelector(target.selector)}`;
  return "none";
}

export function resolveTargets(pf: PortForward, observed: TargetObservation): ResolveResult {
  const namespace = observed.remote?.namespace ?? pf.metadata.namespace;
  const local = <T extends { metadata?: { namespace?: string } }>(items: readonly T[] | undefined): T[] =>
    (items ?? []).filter((item) => namespace === undefined || item.metadata?.namespace === namespace);
  const pods = local(observed.pods);
  const { target, ports } = pf.spec;
  const includeNotReady = pf.spec.includeNotReadyPods === true;
  const where =
    namespace === undefined ? "" : ` in namespace "${namespace}"${observed.remote === undefined ? "" : " of the remote cluster"}`;

  if (observed.unavailable !== undefined) return fail(observed.unavailable.reason, observed.unavailable.message);
  if (pf.spec.cluster?.kubeconfigSecretRef !== undefined && observed.remote === undefined) {
    // Resolving here would name pods of the wrong cluster; the gateway must not dial them either.
    return fail(
      Reason.RemoteConnecting,
      `spec.cluster.kubeconfigSecretRef names a remote cluster, which has not been observed yet; its targets are never looked up in this cluster.`,
    );
  }

  if (target.pod !== undefined) {
    const pod = pods.find((p) => p.metadata?.name === target.pod);
    if (pod === undefined) {
      return fail(Reason.PodNotFound, `Pod "${target.pod}" was not found${where}; create it or set spec.target.pod to an existing pod.`);
    }
    return resolvePodTargets([pod], ports, includeNotReady);
  }
  if (target.selector !== undefined) {
    const matching = selectPods(pods, target.selector);
    if (matching.length === 0) {
      return fail(
        Reason.NoMatchingPods,
        `No pod${where} matches the selector ${formatSelector(target.selector)}; check spec.target.selector against the pods' labels (kubectl get pods --show-labels).`,
      );
    }
    return resolvePodTargets(matching, ports, includeNotReady);
  }
  if (target.workload !== undefined) {
    const { kind, name } = target.workload;
    const workload = findWorkload(kind, name, {
      Deployment: local(observed.deployments),
      StatefulSet: local(observed.statefulSets),
      ReplicaSet: local(observed.replicaSets),
      DaemonSet: local(observed.daemonSets),
    });
    if (workload === undefined) {
      return fail(Reason.WorkloadNotFound, `${kind} "${name}" was not found${where}; create it or fix spec.target.workload.`);
    }
    const selector = workload.spec?.selector;
    const matching = selector === undefined || isEmptySelector(toSelector(selector)) ? [] : selectPods(pods, toSelector(selector));
    if (matching.length === 0) {
      return fail(
        Reason.NoMatchingPods,
        `${kind} "${name}" has no pods${selector === undefined ? "" : ` (selector ${formatSelector(toSelector(selector))})`}; scale it up or wait for its pods to be created.`,
      );
    }
    return resolvePodTargets(matching, ports, includeNotReady);
  }
  if (target.service !== undefined) {
    const service = local(observed.services).find((s) => s.metadata?.name === target.service);
    if (service === undefined) {
      return fail(Reason.ServiceNotFound, `Service "${target.service}" was not found${where}; create it or fix spec.target.service.`);
    }
    return resolveServiceTargets(service, ports, pods, local(observed.endpointSlices), includeNotReady);
  }
  return fail(Reason.NoMatchingPods, "spec.target names no target; set exactly one of pod, selector, service or workload.");
}

function fail(reason: TargetFailureReason, message: string, targets: ResolvedTarget[] = []): ResolveResult {
  return { ok: false, reason, message, targets };
}

function toSelector(selector: V1LabelSelector): Selector {
  return {
    ...(selector.matchLabels === undefined ? {} : { matchLabels: selector.matchLabels }),
    ...(selector.matchExpressions === undefined
      ? {}
      : {
          matchExpressions: selector.matchExpressions.map((r) => ({
            key: r.key,
            operator: r.operator,
            ...(r.values === undefined ? {} : { values: r.values }),
          })),
        }),
  };
}

function selectPods(pods: readonly V1Pod[], selector: Selector): V1Pod[] {
  if (isEmptySelector(selector)) return [];
  return pods.filter((pod) => matchesSelector(selector, pod.metadata?.labels));
}

type Workload = V1Deployment | V1StatefulSet | V1ReplicaSet | V1DaemonSet;

function findWorkload(kind: string, name: string, byKind: Record<string, readonly Workload[]>): Workload | undefined {
  return byKind[kind]?.find((w) => w.metadata?.name === name);
}

export function isPodReady(pod: V1Pod): boolean {
  if (!isPodRunning(pod)) return false;
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** Running and not terminating: the most spec.includeNotReadyPods asks of a pod it serves. */
export function isPodRunning(pod: V1Pod): boolean {
  if (pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null) return false;
  return pod.status?.phase === "Running";
}

/** `ready` and `servedNotReady` of a target whose pod is `ready` (or not) and `running` (or not). */
function servingOf(ready: boolean, running: boolean, includeNotReadyPods: boolean): Pick<ResolvedTarget, "ready" | "servedNotReady"> {
  if (ready) return { ready: true };
  return includeNotReadyPods && running ? { ready: true, servedNotReady: true } : { ready: false };
}

function podContainers(pod: V1Pod): V1Container[] {
  // Sidecars (init containers with restartPolicy Always) keep running and may serve ports too.
  const sidecars = (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === "Always");
  return [...(pod.spec?.containers ?? []), ...sidecars];
}

function containerPorts(pod: V1Pod): V1ContainerPort[] {
  return podContainers(pod).flatMap((c) => c.ports ?? []);
}

type PortLookup = { ok: true; port: number } | { ok: false; reason: TargetFailureReason; message: string };

function lookupPodPort(pod: V1Pod, targetPort: number | string): PortLookup {
  if (typeof targetPort === "number") return { ok: true, port: targetPort };
  const podName = pod.metadata?.name ?? "";
  const declared = containerPorts(pod);
  const match = declared.find((p) => p.name === targetPort);
  if (match === undefined) {
    const names = declared.flatMap((p) => (p.name === undefined ? [] : [p.name]));
    const known = names.length === 0 ? "it declares no named ports" : `its named ports: ${names.join(", ")}`;
    return {
      ok: false,
      reason: Reason.PortNotExposed,
      message: `Pod "${podName}" has no container port named "${targetPort}" (${known}); set spec.ports[].targetPort to a port number or one of these names.`,
    };
  }
  const protocol = match.protocol ?? "TCP";
  if (protocol !== "TCP") {
    return {
      ok: false,
      reason: Reason.ProtocolUnsupported,
      message: `Container port "${targetPort}" of pod "${podName}" is ${protocol}; ${TCP_ONLY}, so only TCP ports can be forwarded.`,
    };
  }
  return { ok: true, port: match.containerPort };
}

function uidOf(pod: V1Pod | undefined): { uid?: string } {
  const uid = pod?.metadata?.uid;
  return uid === undefined ? {} : { uid };
}

/** Resolves each pod's ports; pods that cannot serve every port are left out. */
function resolvePodTargets(pods: readonly V1Pod[], ports: readonly PortSpec[], includeNotReady: boolean): ResolveResult {
  const targets: ResolvedTarget[] = [];
  let firstFailure: { reason: TargetFailureReason; message: string } | undefined;
  for (const pod of pods) {
    const resolved: ResolvedPort[] = [];
    for (const spec of ports) {
      const lookup = lookupPodPort(pod, spec.targetPort);
      if (!lookup.ok) {
        firstFailure ??= lookup;
        break;
      }
      resolved.push({ port: spec.port, targetPort: lookup.port });
    }
    if (resolved.length === ports.length) {
      targets.push({
        pod: pod.metadata?.name ?? "",
        ...uidOf(pod),
        ...servingOf(isPodReady(pod), isPodRunning(pod), includeNotReady),
        ports: resolved,
      });
    }
  }
  targets.sort(byPod);
  return summarise(targets, firstFailure, pods.length, includeNotReady);
}

function summarise(
  targets: ResolvedTarget[],
  firstFailure: { reason: TargetFailureReason; message: string } | undefined,
  candidates: number,
  includeNotReady: boolean,
): ResolveResult {
  if (targets.length === 0 && firstFailure !== undefined) return fail(firstFailure.reason, firstFailure.message);
  if (!targets.some((t) => t.ready)) {
    const listed = targets
      .slice(0, 5)
      .map((t) => t.pod)
      .join(", ");
    const more = targets.length > 5 ? ", …" : "";
    const noun = candidates === 1 ? "pod matches" : "pods match";
    const none = includeNotReady ? "none is ready or Running (spec.includeNotReadyPods serves Running pods only)" : "none is ready";
    const until = includeNotReady ? "a pod is Running" : "a pod becomes ready";
    return fail(
      Reason.NoReadyPods,
      `${candidates} ${noun} but ${none} (${listed}${more}); new connections are accepted again as soon as ${until}.`,
      targets,
    );
  }
  return { ok: true, targets };
}

function findServicePort(service: V1Service, targetPort: number | string): V1ServicePort | undefined {
  const servicePorts = service.spec?.ports ?? [];
  return typeof targetPort === "number" ? servicePorts.find((p) => p.port === targetPort) : servicePorts.find((p) => p.name === targetPort);
}

function describeServicePorts(service: V1Service): string {
  const servicePorts = service.spec?.ports ?? [];
  if (servicePorts.length === 0) return "it has no ports";
  return `its ports: ${servicePorts.map((p) => `${p.port}/${p.protocol ?? "TCP"}${p.name ? ` "${p.name}"` : ""}`).join(", ")}`;
}

interface Endpoint {
  pod: string;
  ready: boolean;
  /** Some address of the pod is terminating. */
  terminating: boolean;
  /** Resolved pod port per Service port name ("" for an unnamed port), from the slice. */
  portsByName: Map<string, number>;
}

function endpointsOf(service: V1Service, slices: readonly V1EndpointSlice[]): Map<string, Endpoint> {
  const serviceName = service.metadata?.name;
  const endpoints = new Map<string, Endpoint>();
  for (const slice of slices) {
    if (slice.metadata?.labels?.[SERVICE_NAME_LABEL] !== serviceName) continue;
    const slicePorts = new Map<string, number>();
    for (const p of slice.ports ?? []) {
      if ((p.protocol ?? "TCP") === "TCP" && p.port !== undefined) slicePorts.set(p.name ?? "", p.port);
    }
    for (const endpoint of slice.endpoints ?? []) {
      if (endpoint.targetRef?.kind !== "Pod" || endpoint.targetRef.name === undefined) continue;
      // EndpointSlice semantics: a nil `ready` means unknown and is to be treated as ready.
      const terminating = endpoint.conditions?.terminating === true;
      const ready = endpoint.conditions?.ready !== false && !terminating;
      const existing = endpoints.get(endpoint.targetRef.name);
      if (existing === undefined) {
        endpoints.set(endpoint.targetRef.name, { pod: endpoint.targetRef.name, ready, terminating, portsByName: new Map(slicePorts) });
      } else {
        // Dual-stack Services list a pod once per address family.
        existing.ready ||= ready;
        existing.terminating ||= terminating;
        for (const [name, port] of slicePorts) existing.portsByName.set(name, port);
      }
    }
  }
  return endpoints;
}

function resolveServiceTargets(
  service: V1Service,
  ports: readonly PortSpec[],
  pods: readonly V1Pod[],
  slices: readonly V1EndpointSlice[],
  includeNotReady: boolean,
): ResolveResult {
  const name = service.metadata?.name ?? "";
  if (service.spec?.type === "ExternalName") {
    return fail(Reason.NoMatchingPods, `Service "${name}" is of type ExternalName and has no pods; tunnelkeeper forwards to pods only.`);
  }
  const servicePorts: V1ServicePort[] = [];
  for (const spec of ports) {
    const servicePort = findServicePort(service, spec.targetPort);
    if (servicePort === undefined) {
      return fail(
        Reason.PortNotExposed,
        `Service "${name}" has no port ${typeof spec.targetPort === "number" ? spec.targetPort : `named "${spec.targetPort}"`} (${describeServicePorts(service)}); set spec.ports[].targetPort to one of these.`,
      );
    }
    if ((servicePort.protocol ?? "TCP") !== "TCP") {
      return fail(
        Reason.ProtocolUnsupported,
        `Port ${servicePort.port} of Service "${name}" is ${servicePort.protocol}; ${TCP_ONLY}, so only TCP ports can be forwarded.`,
      );
    }
    servicePorts.push(servicePort);
  }

  const podsByName = new Map(pods.map((p) => [p.metadata?.name ?? "", p]));
  let endpoints = [...endpointsOf(service, slices).values()];
  if (endpoints.length === 0) {
    // No EndpointSlice yet (or the EndpointSlice controller lags): use the Service's selector.
    const selector = service.spec?.selector;
    const selected = selector === undefined ? [] : selectPods(pods, { matchLabels: selector });
    endpoints = selected.map((pod) => ({
      pod: pod.metadata?.name ?? "",
      ready: isPodReady(pod),
      terminating: false,
      portsByName: new Map(),
    }));
  }
  if (endpoints.length === 0) {
    return fail(
      Reason.NoMatchingPods,
      `Service "${name}" has no endpoints: no pod matches its selector; check the Service's selector against the pods' labels.`,
    );
  }

  const targets: ResolvedTarget[] = [];
  let firstFailure: { reason: TargetFailureReason; message: string } | undefined;
  for (const endpoint of endpoints) {
    const pod = podsByName.get(endpoint.pod);
    const resolved: ResolvedPort[] = [];
    for (const [index, servicePort] of servicePorts.entries()) {
      const spec = ports[index]!;
      const fromSlice = endpoint.portsByName.get(servicePort.name ?? "");
      if (fromSlice !== undefined) {
        resolved.push({ port: spec.port, targetPort: fromSlice });
        continue;
      }
      const mapped = servicePort.targetPort ?? servicePort.port;
      if (typeof mapped === "number") {
        resolved.push({ port: spec.port, targetPort: mapped });
        continue;
      }
      if (pod === undefined) break;
      const lookup = lookupPodPort(pod, mapped);
      if (!lookup.ok) {
        firstFailure ??= lookup;
        break;
      }
      resolved.push({ port: spec.port, targetPort: lookup.port });
    }
    if (resolved.length === ports.length) {
      const ready = endpoint.ready && (pod === undefined || pod.metadata?.deletionTimestamp == null);
      // A not-ready endpoint is served only when its pod is known to be Running (not terminating).
      const running = pod !== undefined && isPodRunning(pod) && !endpoint.terminating;
      targets.push({ pod: endpoint.pod, ...uidOf(pod), ...servingOf(ready, running, includeNotReady), ports: resolved });
    }
  }
  targets.sort(byPod);
  return summarise(targets, firstFailure, endpoints.length, includeNotReady);
}

export type TargetKind = "pod" | "service" | "workload";

/** Pure: whether a change to an object of `kind` named `name` with `labels` can affect `pf`'s targets. */
export function mayResolveThrough(
  pf: PortForward,
  kind: TargetKind,
  name: string,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  const target = pf.spec.target;
  switch (kind) {
    case "pod":
      if (target.pod !== undefined) return target.pod === name;
      if (target.selector !== undefined) return matchesSelector(target.selector, labels);
      return true; // service and workload targets resolve to pods
    case "service":
      return target.service === name;
    case "workload":
      return target.workload?.name === name;
  }
}
