/**
 * Fixture builders for unit tests (cert-manager `gen` style): each starts from a valid, minimal
 * object and each `with*` states one difference. `build()` returns a fresh object every time.
 */
import type { V1ContainerPort, V1Deployment, V1EndpointSlice, V1Pod, V1Service, V1ServicePort } from "@kubernetes/client-node";
import { API_VERSION, KIND, LABEL_MANAGED_BY, LABEL_PORTFORWARD, MANAGED_BY_VALUE } from "../../src/api/identity.ts";
import { type PortForward, parsePortForward } from "../../src/api/portforward.ts";
import type { Condition, GatewayStatus } from "../../src/api/status.ts";

export const NAMESPACE = "default";

type Json = Record<string, unknown>;

export interface PortInput {
  name?: string;
  port: number;
  targetPort: number | string;
  protocol?: string;
}

export class PortForwardBuilder {
  #object: Json;

  constructor(name: string, namespace: string) {
    this.#object = {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name, namespace, uid: `uid-${name}`, generation: 1 },
      spec: { target: { pod: "web-0" }, ports: [{ port: 80, targetPort: 8080 }] },
    };
  }

  #spec(): Json {
    return this.#object.spec as Json;
  }

  #metadata(): Json {
    return this.#object.metadata as Json;
  }

  withPodTarget(pod: string): this {
    this.#spec().target = { pod };
    return this;
  }

  /** Targets in another cluster, through a kubeconfig Secret. */
  withRemoteCluster(secretName: string): this {
    this.#spec().cluster = { kubeconfigSecretRef: { name: secretName, key: "kubeconfig" } };
    return this;
  }

  withSelectorTarget(matchLabels: Record<string, string>, matchExpressions?: Json[]): this {
    this.#spec().target = { selector: { matchLabels, ...(matchExpressions ? { matchExpressions } : {}) } };
    return this;
  }

  withServiceTarget(service: string): this {
    this.#spec().target = { service };
    return this;
  }

  withWorkloadTarget(kind: string, name: string): this {
    this.#spec().target = { workload: { kind, name } };
    return this;
  }

  withTarget(target: Json): this {
    this.#spec().target = target;
    return this;
  }

  withPorts(...ports: PortInput[]): this {
    this.#spec().ports = ports.map((p) => ({ ...p }));
    return this;
  }

  withService(service: Json): this {
    this.#spec().service = service;
    return this;
  }

  withSpecField(key: string, value: unknown): this {
    this.#spec()[key] = value;
    return this;
  }

  withName(name: string): this {
    this.#metadata().name = name;
    return this;
  }

  withUid(uid: string): this {
    this.#metadata().uid = uid;
    return this;
  }

  withGeneration(generation: number): this {
    this.#metadata().generation = generation;
    return this;
  }

  withLabels(labels: Record<string, string>): this {
    this.#metadata().labels = labels;
    return this;
  }

  withAnnotations(annotations: Record<string, string>): this {
    this.#metadata().annotations = annotations;
    return this;
  }

  withConditions(...conditions: Condition[]): this {
    this.#status().conditions = conditions;
    return this;
  }

  withGateways(...gateways: GatewayStatus[]): this {
    this.#status().gateways = gateways;
    return this;
  }

  #status(): Json {
    this.#object.status ??= {};
    return this.#object.status as Json;
  }

  /** The object as a user would write it (no defaults), for schema tests. */
  raw(): Json {
    return structuredClone(this.#object);
  }

  /** The object parsed through the zod schema, so defaults are filled in; throws if invalid. */
  build(): PortForward {
    const parsed = parsePortForward(this.raw());
    if (!parsed.ok) throw new Error(`invalid PortForward fixture: ${parsed.error.message}`);
    return parsed.value;
  }
}

export function aPortForward(name = "web", namespace = NAMESPACE): PortForwardBuilder {
  return new PortForwardBuilder(name, namespace);
}

export class PodBuilder {
  #pod: V1Pod;

  constructor(name: string, namespace: string) {
    this.#pod = {
      metadata: { name, namespace, uid: `uid-${name}`, labels: {} },
      spec: { containers: [{ name: "main", ports: [] }] },
      status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
    };
  }

  withLabels(labels: Record<string, string>): this {
    this.#pod.metadata!.labels = { ...labels };
    return this;
  }

  withContainerPort(name: string | undefined, containerPort: number, protocol?: string): this {
    const port: V1ContainerPort = { containerPort, ...(name ? { name } : {}), ...(protocol ? { protocol } : {}) };
    this.#pod.spec!.containers[0]!.ports!.push(port);
    return this;
  }

  withSidecarPort(name: string, containerPort: number): this {
    this.#pod.spec!.initContainers = [{ name: "sidecar", restartPolicy: "Always", ports: [{ name, containerPort }] }];
    return this;
  }

  notReady(): this {
    this.#pod.status!.conditions = [{ type: "Ready", status: "False" }];
    return this;
  }

  pending(): this {
    this.#pod.status = { phase: "Pending", conditions: [] };
    return this;
  }

  terminating(): this {
    this.#pod.metadata!.deletionTimestamp = new Date("2026-01-01T00:00:00Z");
    return this;
  }

  build(): V1Pod {
    return structuredClone(this.#pod);
  }
}

export function aPod(name: string, namespace = NAMESPACE): PodBuilder {
  return new PodBuilder(name, namespace);
}

export class ServiceBuilder {
  #service: V1Service;

  constructor(name: string, namespace: string) {
    this.#service = { apiVersion: "v1", kind: "Service", metadata: { name, namespace }, spec: { ports: [] } };
  }

  withPorts(...ports: V1ServicePort[]): this {
    this.#service.spec!.ports = ports.map((p) => ({ ...p }));
    return this;
  }

  withSelector(selector: Record<string, string>): this {
    this.#service.spec!.selector = { ...selector };
    return this;
  }

  withType(type: string): this {
    this.#service.spec!.type = type;
    return this;
  }

  withClusterIP(clusterIP: string): this {
    this.#service.spec!.clusterIP = clusterIP;
    return this;
  }

  withCreationTimestamp(iso: string): this {
    this.#service.metadata!.creationTimestamp = new Date(iso);
    return this;
  }

  withLabels(labels: Record<string, string>): this {
    this.#service.metadata!.labels = { ...labels };
    return this;
  }

  /** Marks the Service as tunnelkeeper's, controlled by `pf` (labels + controller ownerRef). */
  ownedBy(pf: PortForward): this {
    this.#service.metadata!.labels = {
      [LABEL_MANAGED_BY]: MANAGED_BY_VALUE,
      [LABEL_PORTFORWARD]: pf.metadata.name ?? "",
    };
    this.#service.metadata!.ownerReferences = [
      {
        apiVersion: API_VERSION,
        kind: KIND,
        name: pf.metadata.name ?? "",
        uid: pf.metadata.uid ?? "",
        controller: true,
        blockOwnerDeletion: true,
      },
    ];
    return this;
  }

  build(): V1Service {
    return structuredClone(this.#service);
  }
}

export function aService(name: string, namespace = NAMESPACE): ServiceBuilder {
  return new ServiceBuilder(name, namespace);
}

export class EndpointSliceBuilder {
  #slice: V1EndpointSlice;

  constructor(service: string, namespace: string, suffix: string) {
    this.#slice = {
      addressType: "IPv4",
      metadata: { name: `${service}-${suffix}`, namespace, labels: { "kubernetes.io/service-name": service } },
      ports: [],
      endpoints: [],
    };
  }

  withPort(name: string | undefined, port: number, protocol = "TCP"): this {
    this.#slice.ports!.push({ port, protocol, ...(name === undefined ? {} : { name }) });
    return this;
  }

  withEndpoint(pod: string, conditions: { ready?: boolean; terminating?: boolean } = { ready: true }): this {
    this.#slice.endpoints!.push({
      addresses: ["10.0.0.1"],
      conditions,
      targetRef: { kind: "Pod", name: pod, namespace: this.#slice.metadata!.namespace! },
    });
    return this;
  }

  build(): V1EndpointSlice {
    return structuredClone(this.#slice);
  }
}

export function anEndpointSlice(service: string, suffix = "abcde", namespace = NAMESPACE): EndpointSliceBuilder {
  return new EndpointSliceBuilder(service, namespace, suffix);
}

export function aDeployment(name: string, matchLabels: Record<string, string>, namespace = NAMESPACE): V1Deployment {
  return {
    metadata: { name, namespace },
    spec: { selector: { matchLabels }, template: { metadata: { labels: matchLabels } } },
  };
}

export function aGatewayEntry(pod: string, fields: Partial<GatewayStatus> = {}): GatewayStatus {
  return { pod, connected: false, activeConnections: 0, reconnects: 0, ...fields };
}

export function aConnectedGateway(pod: string, targets: string[], fields: Partial<GatewayStatus> = {}): GatewayStatus {
  return aGatewayEntry(pod, {
    connected: true,
    connectedTargets: targets,
    protocol: "Tunnel",
    since: "2026-01-01T00:00:00Z",
    ...fields,
  });
}
