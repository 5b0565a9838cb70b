/**
 * Targets: which pods a PortForward reaches and how its tunnels are opened. Pure decisions used by
 * the controller, the gateway, the cache indexes and `tunnelkeeper forward`.
 *
 * Place in the import graph: below watch/, gateway/, controller/ and commands/; above api/ and
 * tunnel/ (for types and defaults only). Nothing here performs I/O.
 */
export * from "./label-selector.ts";
export * from "./resolve-targets.ts";
export * from "./target-pod.ts";
export * from "./tunnel-settings.ts";
