/**
 * The controller benchmark's view of its PortForwards, through one informer of PortForwards and
 * one of Services in the benchmark's namespace (src/runtime/informer.ts: a list, then watches
 * that resume after client-node's 30 s inactivity timeout, which ended a bare Watch of Services
 * while the controller wrote none for half a minute). Observing costs the API server two
 * watches and a relist now and then, not polls. For each wanted PortForward it records when it was first seen
 * - service: its Service exists (the controller's first reconcile applied it);
 * - reconciled: its Service exists and its status has `observedGeneration` equal to its
 *   generation with a Ready condition (any status; since the controller holds a new
 *   PortForward's first status for the gateways' report, this often comes after `connected`);
 * - connected: a gateway's status entry says `connected` (a live tunnel to a ready pod and a
 *   listener on every gateway port: gateway/gateway-status.ts);
 * - ready: Ready=True (the controller has seen that entry: controller/plan.ts);
 * and the gateway port of its first port. `done`, `serviceReady` and `ready` resolve when every
 * wanted PortForward got that far (ServiceReady=True for `serviceReady`); `ready` never resolves
 * without a gateway.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { API_VERSION, PLURAL } from "../../src/api/identity.ts";
import { isGone } from "../../src/kube/errors.ts";
import { kubeListWatch } from "../../src/kube/list-watch.ts";
import { Informer } from "../../src/runtime/informer.ts";
import type { KubeObject } from "../../src/runtime/store.ts";
import type { PortForwardObject } from "../../test/support/portforwards.ts";

export interface PortForwardWatch {
  /** Both informers have listed (watch before the first create, so no event is missed). */
  readonly synced: Promise<void>;
  readonly done: Promise<void>;
  readonly serviceReady: Promise<void>;
  readonly ready: Promise<void>;
  readonly serviceAt: ReadonlyMap<string, number>;
  readonly reconciledAt: ReadonlyMap<string, number>;
  readonly connectedAt: ReadonlyMap<string, number>;
  readonly readyAt: ReadonlyMap<string, number>;
  /** status.ports[0].gatewayPort as last seen. */
  readonly gatewayPorts: ReadonlyMap<string, number>;
  stop(): void;
}

interface Gate {
  readonly promise: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open: () => void = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

export function watchPortForwards(kc: KubeConfig, namespace: string, names: readonly string[]): PortForwardWatch {
  const wanted = new Set(names);
  const statusDone = new Set<string>();
  const services = new Set<string>();
  const serviceReadyNames = new Set<string>();
  const serviceAt = new Map<string, number>();
  const reconciledAt = new Map<string, number>();
  const connectedAt = new Map<string, number>();
  const readyAt = new Map<string, number>();
  const gatewayPorts = new Map<string, number>();
  const [done, serviceReady, ready] = [gate(), gate(), gate()];

  const checkReconciled = (name: string) => {
    if (!reconciledAt.has(name) && statusDone.has(name) && services.has(name)) {
      reconciledAt.set(name, performance.now());
      if (reconciledAt.size === wanted.size) done.open();
    }
  };
  const firstTime = (map: Map<string, number>, name: string, then: Gate) => {
    if (map.has(name)) return;
    map.set(name, performance.now());
    if (map.size === wanted.size) then.open();
  };
  const onPortForward = (object: PortForwardObject) => {
    const name = object.metadata.name;
    const status = object.status;
    const conditions = status?.conditions ?? [];
    if (status?.observedGeneration === object.metadata.generation && conditions.some((c) => c.type === "Ready")) {
      statusDone.add(name);
      checkReconciled(name);
    }
    if (conditions.some((c) => c.type === "ServiceReady" && c.status === "True") && !serviceReadyNames.has(name)) {
      serviceReadyNames.add(name);
      if (serviceReadyNames.size === wanted.size) serviceReady.open();
    }
    const port = status?.ports?.[0]?.gatewayPort;
    if (port !== undefined) gatewayPorts.set(name, port);
    if ((status?.gateways ?? []).some((g) => g.connected === true)) firstTime(connectedAt, name, gate());
    if (conditions.some((c) => c.type === "Ready" && c.status === "True")) firstTime(readyAt, name, ready);
  };
  const abort = new AbortController();
  const informer = <T extends KubeObject>(plural: string, apiVersion: string, onChange: (object: T) => void) => {
    const watched = new Informer<T>({
      name: `bench ${plural}`,
      ...kubeListWatch<T>(kc, { apiVersion, plural, namespace }),
      errors: { isGone },
      observer: { failed: (phase, error) => process.stderr.write(`[bench] ${plural} ${phase} failed: ${String(error)}\n`) },
    });
    watched.addHandler((change) => {
      if (change.new !== undefined && wanted.has(change.new.metadata?.name ?? "")) onChange(change.new);
    });
    watched.start(abort.signal).catch((error: unknown) => process.stderr.write(`[bench] ${plural} informer stopped: ${String(error)}\n`));
    return watched;
  };
  const portForwards = informer<PortForwardObject & KubeObject>(PLURAL, API_VERSION, onPortForward);
  const serviceInformer = informer<KubeObject>("services", "v1", (service) => {
    const name = service.metadata?.name ?? "";
    services.add(name);
    if (wanted.has(name)) firstTime(serviceAt, name, gate());
    checkReconciled(name);
  });
  const started = Promise.all([portForwards.hasSynced(), serviceInformer.hasSynced()]);
  return {
    synced: started.then(() => undefined),
    done: started.then(() => done.promise),
    serviceReady: started.then(() => serviceReady.promise),
    ready: started.then(() => ready.promise),
    serviceAt,
    reconciledAt,
    connectedAt,
    readyAt,
    gatewayPorts,
    stop() {
      abort.abort();
    },
  };
}
