/**
 * Metrics of remote clusters, per kubeconfig Secret, and which cluster each PortForward goes to.
 *
 * - `tunnelkeeper_remote_cluster_status{component,namespace,secret,reason}` is 1 for the current
 *   state of each remote cluster in use (`Ready`, or a Remote* condition reason) as the controller
 *   or a gateway sees it (their network paths may differ), and absent otherwise: alert on
 *   `tunnelkeeper_remote_cluster_status{reason!="Ready"} == 1`.
 * - `tunnelkeeper_portforward_cluster_info{component,portforward,cluster}` is 1 per served PortForward,
 *   `cluster` being `local` or the remote API server's address. Join it to the per-PortForward
 *   tunnel and byte series for figures by cluster, e.g.
 *   `sum by (cluster) (rate(tunnelkeeper_gateway_bytes_total[5m]) * on (portforward) group_left (cluster) tunnelkeeper_portforward_cluster_info)`.
 */
import type { Gauge, Registry } from "../observability/metrics.ts";

export interface RemoteClusterMetrics {
  /** The state of the remote cluster behind Secret `namespace/secret`; undefined: no longer used. */
  status(namespace: string, secret: string, reason: string | undefined): void;
  /** The cluster `portforward` goes to; undefined: no longer served. */
  clusterOf(portforward: string, cluster: string | undefined): void;
}

export const NO_REMOTE_CLUSTER_METRICS: RemoteClusterMetrics = { status() {}, clusterOf() {} };

/**
 * Registers the families once per process (`tunnelkeeper run` has a controller and a gateway on
 * one registry) and returns the metrics of one component.
 */
export function registerRemoteClusterMetrics(registry: Registry): (component: "controller" | "gateway") => RemoteClusterMetrics {
  const status = registry.gauge({
    name: "tunnelkeeper_remote_cluster_status",
    help: "1 for the current state (Ready or a Remote* condition reason) of each remote cluster in use, by kubeconfig Secret",
    labelNames: ["component", "namespace", "secret", "reason"],
  });
  const info = registry.gauge({
    name: "tunnelkeeper_portforward_cluster_info",
    help: "1 per served PortForward; cluster is local or the remote API server's address",
    labelNames: ["component", "portforward", "cluster"],
  });
  return (component) => forComponent(component, status, info);
}

function forComponent(component: string, status: Gauge, info: Gauge): RemoteClusterMetrics {
  const reasons = new Map<string, string>();
  const clusters = new Map<string, string>();
  return {
    status(namespace, secret, reason) {
      const id = `${namespace}/${secret}`;
      const before = reasons.get(id);
      if (before === reason) return;
      if (before !== undefined) status.remove({ component, namespace, secret, reason: before });
      if (reason === undefined) reasons.delete(id);
      else {
        reasons.set(id, reason);
        status.set({ component, namespace, secret, reason }, 1);
      }
    },
    clusterOf(portforward, cluster) {
      const before = clusters.get(portforward);
      if (before === cluster) return;
      if (before !== undefined) info.remove({ component, portforward, cluster: before });
      if (cluster === undefined) clusters.delete(portforward);
      else {
        clusters.set(portforward, cluster);
        info.set({ component, portforward, cluster }, 1);
      }
    },
  };
}
