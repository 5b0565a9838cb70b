/**
 * `tunnelkeeper_portforward_condition{namespace,name,type,status}`: one series per PortForward,
 * condition type and possible status, 1 for the status the condition has and 0 for the others
 * (the kube-state-metrics convention, so `== 1` alerts and `sum by (status)` dashboards work).
 * Series of a deleted PortForward, or of a condition that went away, are removed.
 */
import type { Condition } from "../api/status.ts";
import type { Registry } from "../observability/metrics.ts";
import { parseKey } from "../runtime/store.ts";

const STATUSES = ["True", "False", "Unknown"] as const;

export interface ConditionMetrics {
  record(key: string, conditions: readonly Condition[]): void;
  forget(key: string): void;
}

export function registerConditionMetrics(registry: Registry): ConditionMetrics {
  const gauge = registry.gauge({
    name: "tunnelkeeper_portforward_condition",
    help: "Condition of a PortForward: 1 for its current status, 0 for the other statuses",
    labelNames: ["namespace", "name", "type", "status"],
  });
  const typesByKey = new Map<string, Set<string>>();
  const removeType = (key: string, type: string) => {
    const { namespace, name } = parseKey(key);
    for (const status of STATUSES) gauge.remove({ namespace: namespace ?? "", name, type, status });
  };
  return {
    record(key, conditions) {
      const { namespace, name } = parseKey(key);
      const previous = typesByKey.get(key) ?? new Set<string>();
      const current = new Set(conditions.map((c) => c.type));
      for (const type of previous) if (!current.has(type)) removeType(key, type);
      for (const condition of conditions) {
        for (const status of STATUSES) {
          gauge.set({ namespace: namespace ?? "", name, type: condition.type, status }, condition.status === status ? 1 : 0);
        }
      }
      typesByKey.set(key, current);
    },
    forget(key) {
      for (const type of typesByKey.get(key) ?? []) removeType(key, type);
      typesByKey.delete(key);
    },
  };
}
