/**
 * The informer's cache: key → latest object, with optional secondary indexes.
 *
 * One writer (the informer), many readers: the informer holds the `Store`, everyone else gets it
 * typed as `StoreReader` (kube-rs `reflector::Store`). Objects are stored as received and must be
 * treated as immutable by readers (copy before modifying).
 *
 * Keys are `namespace/name` for namespaced objects and `name` for cluster-scoped ones, the same
 * strings the work queue carries.
 */

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: ReadonlyArray<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
  deletionTimestamp?: string | Date;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

/** `namespace/name`, or `name` when the object has no namespace. */
export function objectKey(object: KubeObject): string {
  const name = object.metadata?.name;
  if (name === undefined || name === "") throw new RangeError("Object has no metadata.name");
  const namespace = object.metadata?.namespace;
  return namespace === undefined || namespace === "" ? name : `${namespace}/${name}`;
}

/** Splits a key back into namespace (undefined when cluster-scoped) and name. */
export function parseKey(key: string): { namespace: string | undefined; name: string } {
  const slash = key.indexOf("/");
  return slash < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** Index values for one object (an object may appear under several values, or none). */
export type IndexFunc<T> = (object: T) => readonly string[];

/** Indexes by `metadata.namespace` ("" for cluster-scoped objects). */
export function byNamespace<T extends KubeObject>(object: T): readonly string[] {
  return [object.metadata?.namespace ?? ""];
}

/** Indexes by the value of label `label` (objects without it are not indexed). */
export function byLabel<T extends KubeObject>(label: string): IndexFunc<T> {
  return (object) => {
    const value = object.metadata?.labels?.[label];
    return value === undefined ? [] : [value];
  };
}

/** Indexes by the `namespace/name` key of the controller owner of kind `kind`. */
export function byControllerOwner<T extends KubeObject>(kind: string): IndexFunc<T> {
  return (object) => {
    const owner = object.metadata?.ownerReferences?.find((r) => r.controller === true && r.kind === kind);
    if (owner === undefined) return [];
    const namespace = object.metadata?.namespace;
    return [namespace === undefined || namespace === "" ? owner.name : `${namespace}/${owner.name}`];
  };
}

export interface StoreReader<T> {
  get(key: string): T | undefined;
  list(): T[];
  keys(): string[];
  /** Objects whose index `index` yields `value`. Throws for an unknown index name. */
  byIndex(index: string, value: string): T[];
  readonly size: number;
}

export class Store<T extends KubeObject> implements StoreReader<T> {
  readonly #objects = new Map<string, T>();
  readonly #indexers: Readonly<Record<string, IndexFunc<T>>>;
  /** index name → value → keys */
  readonly #indexes = new Map<string, Map<string, Set<string>>>();

  constructor(indexers: Readonly<Record<string, IndexFunc<T>>> = {}) {
    this.#indexers = indexers;
    for (const name of Object.keys(indexers)) this.#indexes.set(name, new Map());
  }

  get size(): number {
    return this.#objects.size;
  }

  get(key: string): T | undefined {
    return this.#objects.get(key);
  }

  list(): T[] {
    return [...this.#objects.values()];
  }

  keys(): string[] {
    return [...this.#objects.keys()];
  }

  byIndex(index: string, value: string): T[] {
    const values = this.#indexes.get(index);
    if (values === undefined) throw new RangeError(`Store has no index ${JSON.stringify(index)}`);
    const keys = values.get(value);
    if (keys === undefined) return [];
    const out: T[] = [];
    for (const key of keys) {
      const object = this.#objects.get(key);
      if (object !== undefined) out.push(object);
    }
    return out;
  }

  /** Inserts or replaces the object; returns the previous one. */
  upsert(object: T): T | undefined {
    const key = objectKey(object);
    const old = this.#objects.get(key);
    if (old !== undefined) this.#unindex(key, old);
    this.#objects.set(key, object);
    this.#index(key, object);
    return old;
  }

  /** Removes the object stored under `key`; returns it. */
  delete(key: string): T | undefined {
    const old = this.#objects.get(key);
    if (old === undefined) return undefined;
    this.#unindex(key, old);
    this.#objects.delete(key);
    return old;
  }

  #index(key: string, object: T): void {
    for (const [name, indexer] of Object.entries(this.#indexers)) {
      const values = this.#indexes.get(name);
      if (values === undefined) continue;
      for (const value of indexer(object)) {
        let keys = values.get(value);
        if (keys === undefined) {
          keys = new Set();
          values.set(value, keys);
        }
        keys.add(key);
      }
    }
  }

  #unindex(key: string, object: T): void {
    for (const [name, indexer] of Object.entries(this.#indexers)) {
      const values = this.#indexes.get(name);
      if (values === undefined) continue;
      for (const value of indexer(object)) {
        const keys = values.get(value);
        keys?.delete(key);
        if (keys?.size === 0) values.delete(value);
      }
    }
  }
}
