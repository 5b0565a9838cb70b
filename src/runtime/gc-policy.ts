/**
 * The V8 garbage-collection policy of `tunnelkeeper forward`, applied once, before it starts
 * moving bytes.
 *
 * Why (issue #15, upload CPU): Node hands every read of a TCP socket to JavaScript as a new
 * ArrayBuffer (64 KiB), and V8 by default starts a full mark-compact whenever such external
 * memory has grown by 64 MiB since the last one, however small the heap and however short-lived
 * the buffers. A forwarder moving 1 GiB from a client therefore ran ~34 mark-compacts of its
 * whole heap, about a third of its CPU (`npm run bench -- profile-tunnel --direction upload
 * --node-option=--trace-gc`). With `--external-memory-accounted-in-global-limit` V8 counts
 * external memory in the heap's global limit instead, so buffers that die young are freed by
 * scavenges and a full collection runs when heap plus external memory reach the limit that
 * V8 sizes from the live heap (and Node from the container's memory limit).
 *
 * Contract: `applyGcPolicy` sets the flag through `v8.setFlagsFromString`, which takes effect
 * for the next collection; test/unit/runtime/gc-policy.test.ts checks in a child process that
 * this Node honours it (1 GiB through a socket: 6 full collections instead of 15). The price
 * is memory: dead buffers may wait for the global limit instead of the next 64 MiB. On a
 * laptop that is the right trade; the operator's components run under a container memory
 * limit with an idle-memory budget, and there the gateway's idle RSS rose from 123 to 145 MiB
 * with the policy (`npm run bench -- gateway`), so they keep V8's default.
 */
import { setFlagsFromString } from "node:v8";

export const GC_POLICY_FLAGS = ["--external-memory-accounted-in-global-limit"] as const;

export function applyGcPolicy(setFlags: (flags: string) => void = setFlagsFromString): void {
  for (const flag of GC_POLICY_FLAGS) setFlags(flag);
}
