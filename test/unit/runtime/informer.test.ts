import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Informer,
  type InformerEvent,
  type InformerState,
  nextState,
  type ObjectChange,
  type WatchEventType,
  type WatchQuery,
} from "../../../src/runtime/informer.ts";
import type { KubeObject } from "../../../src/runtime/store.ts";
import { FakeClock, flush } from "../../support/fake-clock.ts";

const gone = { kind: "Status", code: 410, reason: "Expired" };
const errors = { isGone: (e: unknown) => e === gone };
const boom = new Error("connection reset");

describe("nextState (informer state machine)", () => {
  const rows: Array<[string, InformerState, InformerEvent, InformerState]> = [
    ["empty starts by listing", { phase: "empty" }, { type: "start" }, { phase: "listing" }],
    [
      "a list moves to watching from its resourceVersion",
      { phase: "listing" },
      { type: "listed", resourceVersion: "10" },
      { phase: "watching", resourceVersion: "10" },
    ],
    [
      "a failed list backs off, then lists",
      { phase: "listing" },
      { type: "listFailed", error: boom },
      { phase: "backoff", retry: "listing" },
    ],
    [
      "a clean watch close resumes from the last resourceVersion",
      { phase: "watching", resourceVersion: "10" },
      { type: "watchEnded", resourceVersion: "15" },
      { phase: "watching", resourceVersion: "15" },
    ],
    [
      "410 Gone relists at once",
      { phase: "watching", resourceVersion: "10" },
      { type: "watchEnded", resourceVersion: "15", error: gone },
      { phase: "listing" },
    ],
    [
      "another watch error backs off, then resumes",
      { phase: "watching", resourceVersion: "10" },
      { type: "watchEnded", resourceVersion: "12", error: boom },
      { phase: "backoff", retry: "watching", resourceVersion: "12" },
    ],
    ["backoff before listing lists", { phase: "backoff", retry: "listing" }, { type: "backoffElapsed" }, { phase: "listing" }],
    [
      "backoff before watching watches",
      { phase: "backoff", retry: "watching", resourceVersion: "12" },
      { type: "backoffElapsed" },
      { phase: "watching", resourceVersion: "12" },
    ],
    ["stop wins from any state", { phase: "watching", resourceVersion: "1" }, { type: "stop" }, { phase: "stopped" }],
    ["stopped is final", { phase: "stopped" }, { type: "start" }, { phase: "stopped" }],
    ["an unrelated event leaves the state alone", { phase: "listing" }, { type: "backoffElapsed" }, { phase: "listing" }],
  ];
  for (const [name, from, event, to] of rows) {
    it(name, () => assert.deepEqual(nextState(from, event, errors), to));
  }
});

function pod(name: string, rv: string): KubeObject {
  return { metadata: { namespace: "ns", name, resourceVersion: rv } };
}

interface ScriptedWatch {
  query: WatchQuery;
  emit: (type: WatchEventType, object: KubeObject) => void;
  close: (error?: unknown) => void;
}

/** list/watch functions driven by the test (injected dependencies, no module mocks). */
function scripted() {
  const lists: Array<KubeObject[] | Error> = [];
  let listRv = 0;
  const watches: ScriptedWatch[] = [];
  return {
    lists,
    watches,
    list: async () => {
      const next = lists.shift();
      if (next === undefined) throw new Error("no list scripted");
      if (next instanceof Error) throw next;
      listRv += 100;
      return { items: next, resourceVersion: String(listRv) };
    },
    watch: (query: WatchQuery, onEvent: (type: WatchEventType, object: KubeObject) => void, signal: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        const close = (error?: unknown): void => (error === undefined ? resolve() : reject(error));
        signal.addEventListener("abort", () => resolve(), { once: true });
        watches.push({ query, emit: onEvent, close });
      }),
  };
}

describe("Informer driver", () => {
  it("lists, syncs, watches with bookmarks and a timeout under 295 s, and reports keys", async () => {
    const clock = new FakeClock();
    const io = scripted();
    io.lists.push([pod("a", "1"), pod("b", "2")]);
    const informer = new Informer<KubeObject>({ name: "pods", ...io, errors, clock, random: () => 0.99 });
    const changes: Array<ObjectChange<KubeObject>> = [];
    informer.addHandler((c) => changes.push(c));
    const controller = new AbortController();
    const running = informer.start(controller.signal);
    await informer.hasSynced();
    assert.equal(informer.synced, true);
    assert.deepEqual(
      changes.map((c) => c.key),
      ["ns/a", "ns/b"],
    );
    await flush();
    assert.deepEqual(informer.state, { phase: "watching", resourceVersion: "100" });
    const w = io.watches[0];
    assert.deepEqual(w?.query, { resourceVersion: "100", allowWatchBookmarks: true, timeoutSeconds: 290 });
    w?.emit("MODIFIED", pod("a", "101"));
    w?.emit("DELETED", pod("b", "102"));
    w?.emit("BOOKMARK", { metadata: { resourceVersion: "150" } });
    assert.deepEqual(
      changes.slice(2).map((c) => [c.key, c.old?.metadata?.resourceVersion, c.new?.metadata?.resourceVersion]),
      [
        ["ns/a", "1", "101"],
        ["ns/b", "2", undefined],
      ],
    );
    assert.deepEqual(informer.store.keys(), ["ns/a"]);
    w?.close();
    await flush();
    assert.equal(io.watches[1]?.query.resourceVersion, "150", "a clean close resumes from the bookmark");
    controller.abort();
    await running;
    assert.deepEqual(informer.state, { phase: "stopped" });
  });

  it("relists on 410 Gone and reports objects missing from the new list as deleted", async () => {
    const clock = new FakeClock();
    const io = scripted();
    io.lists.push([pod("a", "1"), pod("b", "2")], [pod("a", "1"), pod("c", "5")]);
    const informer = new Informer<KubeObject>({ name: "pods", ...io, errors, clock });
    const changes: Array<ObjectChange<KubeObject>> = [];
    informer.addHandler((c) => changes.push(c));
    const controller = new AbortController();
    const running = informer.start(controller.signal);
    await flush();
    changes.length = 0;
    io.watches[0]?.close(gone);
    await flush();
    assert.deepEqual(
      changes.map((c) => [c.key, c.new === undefined ? "deleted" : "applied"]),
      [
        ["ns/c", "applied"],
        ["ns/b", "deleted"],
      ],
      "unchanged ns/a is not reported again",
    );
    assert.deepEqual(informer.state, { phase: "watching", resourceVersion: "200" });
    controller.abort();
    await running;
  });

  it("backs off with jitter after a failed list and retries", async () => {
    const clock = new FakeClock();
    const io = scripted();
    io.lists.push(new Error("connection refused"), [pod("a", "1")]);
    const failures: number[] = [];
    const informer = new Informer<KubeObject>({
      name: "pods",
      ...io,
      errors,
      clock,
      random: () => 0.5,
      observer: { failed: (_phase, _error, retryInMs) => failures.push(retryInMs ?? -1) },
    });
    const controller = new AbortController();
    const running = informer.start(controller.signal);
    await flush();
    assert.deepEqual(informer.state, { phase: "backoff", retry: "listing" });
    assert.deepEqual(failures, [400], "full jitter: 0.5 × 800 ms");
    await clock.advance(399);
    assert.equal(informer.synced, false);
    await clock.advance(1);
    assert.equal(informer.synced, true);
    controller.abort();
    await running;
  });

  it("stops and rejects when a handler throws", async () => {
    const io = scripted();
    io.lists.push([pod("a", "1")]);
    const informer = new Informer<KubeObject>({ name: "pods", ...io, errors, clock: new FakeClock() });
    informer.addHandler(() => {
      throw new Error("bug");
    });
    await assert.rejects(informer.start(new AbortController().signal), { code: "PF_ERR_INFORMER_HANDLER" });
  });
});
