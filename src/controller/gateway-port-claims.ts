/**
 * Claims on gateway ports (allocate-ports.ts), indexed by owner and by gateway port, so that one
 * allocation reads the claims it can conflict with instead of every claim in the cluster.
 *
 * - `claimsOf(records)`: a fixed list, indexed once (tests, per-pod allocation).
 * - `GatewayPortRecordIndex`: records grouped by the source that makes them (a Service's key, a
 *   reconcile's key), replaced or removed one source at a time, as the controller keeps the
 *   records of the cached Services and of its in-flight allocations. Reading it costs the claims
 *   read, not the number of sources (at 1,000 PortForwards, rebuilding the whole list on every
 *   reconcile was a sixth of the controller's busy time: bench `controller --live-tunnels
 *   --cpu-profile`).
 * Order: claims come source by source, in the order the sources were first set (replacing a
 * source keeps its place; removing and setting it again moves it last), as a list built source by
 * source from a Map (the cache's Services) would have them: allocation keeps the first of an
 * owner's claims that holds.
 */
import type { GatewayPortRecord } from "./allocate-ports.ts";

/** Read access to a set of claims. */
export interface GatewayPortClaims {
  /** The claims of `owner`. */
  ownedBy(owner: string): readonly GatewayPortRecord[];
  /** The claims on `gatewayPort`, of any owner. */
  on(gatewayPort: number): readonly GatewayPortRecord[];
  /** Every claim. */
  all(): readonly GatewayPortRecord[];
}

/** The claims of a fixed list (indexed when this is called). */
export function claimsOf(records: readonly GatewayPortRecord[]): GatewayPortClaims {
  const byOwner = new Map<string, GatewayPortRecord[]>();
  const byPort = new Map<number, GatewayPortRecord[]>();
  for (const record of records) {
    pushTo(byOwner, record.owner, record);
    pushTo(byPort, record.gatewayPort, record);
  }
  return {
    ownedBy: (owner) => byOwner.get(owner) ?? [],
    on: (gatewayPort) => byPort.get(gatewayPort) ?? [],
    all: () => records,
  };
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** A claim and the source it came from. */
export interface SourcedRecord {
  readonly source: string;
  readonly record: GatewayPortRecord;
}

export class GatewayPortRecordIndex {
  readonly #bySource = new Map<string, readonly GatewayPortRecord[]>();
  /** source → when it was first set (its place in the order); a removed source loses it. */
  readonly #place = new Map<string, number>();
  #nextPlace = 0;
  /** owner → source → that source's records of the owner. */
  readonly #byOwner = new Map<string, Map<string, SourcedRecord[]>>();
  /** gateway port → source → that source's records on the port. */
  readonly #byPort = new Map<number, Map<string, SourcedRecord[]>>();

  /** Replaces the records of `source` (none: removes it). */
  set(source: string, records: readonly GatewayPortRecord[]): void {
    if (records.length === 0) {
      this.delete(source);
      return;
    }
    const old = this.#bySource.get(source) ?? [];
    this.#bySource.set(source, records);
    if (!this.#place.has(source)) this.#place.set(source, this.#nextPlace++);
    regroup(this.#byOwner, source, old, records, (record) => record.owner);
    regroup(this.#byPort, source, old, records, (record) => record.gatewayPort);
  }

  delete(source: string): void {
    if (!this.#bySource.has(source)) return;
    this.#unindex(source);
    this.#bySource.delete(source);
    this.#place.delete(source);
  }

  /** Whether any record of `owner` is indexed. */
  hasOwner(owner: string): boolean {
    return this.#byOwner.has(owner);
  }

  ownedBy(owner: string): SourcedRecord[] {
    return this.#inOrder(this.#byOwner.get(owner));
  }

  on(gatewayPort: number): SourcedRecord[] {
    return this.#inOrder(this.#byPort.get(gatewayPort));
  }

  /** Every record, source by source. */
  all(): SourcedRecord[] {
    const all: SourcedRecord[] = [];
    for (const [source, records] of this.#bySource) for (const record of records) all.push({ source, record });
    return all;
  }

  /** The records under one key, source by source in the order the sources were first set. */
  #inOrder(sources: Map<string, SourcedRecord[]> | undefined): SourcedRecord[] {
    if (sources === undefined) return [];
    const lists = [...sources];
    if (lists.length > 1) lists.sort(([a], [b]) => (this.#place.get(a) ?? 0) - (this.#place.get(b) ?? 0));
    return lists.flatMap(([, list]) => list);
  }

  #unindex(source: string): void {
    for (const record of this.#bySource.get(source) ?? []) {
      sourcedRemove(this.#byOwner, record.owner, source);
      sourcedRemove(this.#byPort, record.gatewayPort, source);
    }
  }
}

/** Replaces `source`'s entries in `map` (keyed by `keyOf`), keeping its place under keys it keeps. */
function regroup<K>(
  map: Map<K, Map<string, SourcedRecord[]>>,
  source: string,
  old: readonly GatewayPortRecord[],
  next: readonly GatewayPortRecord[],
  keyOf: (record: GatewayPortRecord) => K,
): void {
  const grouped = new Map<K, SourcedRecord[]>();
  for (const record of next) pushTo(grouped, keyOf(record), { source, record });
  for (const record of old) if (!grouped.has(keyOf(record))) sourcedRemove(map, keyOf(record), source);
  for (const [key, list] of grouped) {
    let sources = map.get(key);
    if (sources === undefined) {
      sources = new Map();
      map.set(key, sources);
    }
    sources.set(source, list);
  }
}

function sourcedRemove<K>(map: Map<K, Map<string, SourcedRecord[]>>, key: K, source: string): void {
  const sources = map.get(key);
  if (sources === undefined) return;
  sources.delete(source);
  if (sources.size === 0) map.delete(key);
}
