/**
 * PortForward samples with the verdict both the zod schema and the generated CRD must reach.
 * `message` is a fragment of the expected error message (the same text in zod and CEL).
 */
import { aPortForward } from "../../support/builders.ts";

export interface Sample {
  name: string;
  object: Record<string, unknown>;
  valid: boolean;
  message?: string;
}

const twoPorts = [
  { name: "http", port: 80, targetPort: 8080 },
  { name: "grpc", port: 9090, targetPort: "grpc" },
];

export const SAMPLES: Sample[] = [
  { name: "pod target with one numeric port", object: aPortForward().raw(), valid: true },
  { name: "selector target", object: aPortForward().withSelectorTarget({ app: "web" }).raw(), valid: true },
  {
    name: "selector with matchExpressions only",
    object: aPortForward()
      .withSelectorTarget({}, [{ key: "tier", operator: "In", values: ["web"] }])
      .raw(),
    valid: true,
  },
  {
    name: "service target with named port",
    object: aPortForward().withServiceTarget("db").withPorts({ port: 5432, targetPort: "pg" }).raw(),
    valid: true,
  },
  { name: "workload target", object: aPortForward().withWorkloadTarget("Deployment", "api").raw(), valid: true },
  {
    name: "two named ports",
    object: aPortForward()
      .withPorts(...twoPorts)
      .raw(),
    valid: true,
  },
  {
    name: "every optional field set",
    object: aPortForward()
      .withService({ name: "web-fwd", type: "LoadBalancer", labels: { team: "a" }, annotations: { x: "y" } })
      .withSpecField("loadBalancing", "LeastConnections")
      .withSpecField("keepalive", { interval: "1m30s" })
      .withSpecField("protocol", "Legacy")
      .withSpecField("cluster", { kubeconfigSecretRef: { name: "remote", key: "config" } })
      .withSpecField("access", {
        from: [
          { podSelector: { matchLabels: { role: "client" } } },
          { namespaceSelector: { matchLabels: { team: "a" } }, podSelector: {} },
          { ipBlock: { cidr: "198.51.100.0/24", except: ["198.51.100.128/25"] } },
        ],
      })
      .raw(),
    valid: true,
  },
  {
    name: "access: every namespace",
    object: aPortForward()
      .withSpecField("access", { from: [{ namespaceSelector: {} }] })
      .raw(),
    valid: true,
  },
  {
    name: "access: IPv6 ipBlock",
    object: aPortForward()
      .withSpecField("access", { from: [{ ipBlock: { cidr: "2001:db8::/32", except: ["2001:db8:1::/48"] } }] })
      .raw(),
    valid: true,
  },
  {
    name: "NodePort with an ipBlock peer",
    object: aPortForward()
      .withService({ type: "NodePort" })
      .withSpecField("access", { from: [{ ipBlock: { cidr: "10.0.0.0/8" } }] })
      .raw(),
    valid: true,
  },
  {
    name: "name that is no DNS-1035 label but spec.service.name set",
    object: aPortForward("1web").withService({ name: "web" }).raw(),
    valid: true,
  },
  {
    name: "two targets",
    object: aPortForward().withTarget({ pod: "a", service: "b" }).raw(),
    valid: false,
    message: "exactly one of pod, selector, service or workload",
  },
  {
    name: "no target",
    object: aPortForward().withTarget({}).raw(),
    valid: false,
    message: "exactly one of pod, selector, service or workload",
  },
  {
    name: "empty selector",
    object: aPortForward().withSelectorTarget({}).raw(),
    valid: false,
    message: "an empty selector would match every pod",
  },
  {
    name: "In without values",
    object: aPortForward()
      .withSelectorTarget({}, [{ key: "tier", operator: "In" }])
      .raw(),
    valid: false,
    message: "values must be non-empty for operator In",
  },
  { name: "no ports", object: aPortForward().withPorts().raw(), valid: false, message: "" },
  { name: "port 0", object: aPortForward().withPorts({ port: 0, targetPort: 80 }).raw(), valid: false },
  { name: "port 65536", object: aPortForward().withPorts({ port: 65536, targetPort: 80 }).raw(), valid: false },
  {
    name: "targetPort 70000",
    object: aPortForward().withPorts({ port: 80, targetPort: 70000 }).raw(),
    valid: false,
    message: "targetPort must be a port number from 1 to 65535",
  },
  {
    name: "targetPort with capitals",
    object: aPortForward().withPorts({ port: 80, targetPort: "HTTP" }).raw(),
    valid: false,
    message: "targetPort must be a port number from 1 to 65535",
  },
  {
    name: "UDP",
    object: aPortForward().withPorts({ port: 53, targetPort: 53, protocol: "UDP" }).raw(),
    valid: false,
    message: "pods/portforward carries TCP only",
  },
  {
    name: "duplicate port numbers",
    object: aPortForward().withPorts({ name: "a", port: 80, targetPort: 1 }, { name: "b", port: 80, targetPort: 2 }).raw(),
    valid: false,
  },
  {
    name: "duplicate port names",
    object: aPortForward().withPorts({ name: "a", port: 80, targetPort: 1 }, { name: "a", port: 81, targetPort: 2 }).raw(),
    valid: false,
    message: "name must be unique",
  },
  {
    name: "two ports without names",
    object: aPortForward().withPorts({ port: 80, targetPort: 1 }, { port: 81, targetPort: 2 }).raw(),
    valid: false,
    message: "needs a name when more than one port is listed",
  },
  {
    name: "port name with capitals",
    object: aPortForward().withPorts({ name: "Http", port: 80, targetPort: 1 }).raw(),
    valid: false,
    message: "DNS-1035 label",
  },
  { name: "ExternalName service type", object: aPortForward().withService({ type: "ExternalName" }).raw(), valid: false },
  {
    name: "service name starting with a digit",
    object: aPortForward().withService({ name: "1web" }).raw(),
    valid: false,
    message: "DNS-1035 label",
  },
  {
    name: "PortForward name that cannot be a Service name",
    object: aPortForward("1web").raw(),
    valid: false,
    message: "metadata.name is used as the Service name",
  },
  { name: "unknown workload kind", object: aPortForward().withWorkloadTarget("Job", "x").raw(), valid: false },
  {
    name: "keepalive too short",
    object: aPortForward().withSpecField("keepalive", { interval: "100ms" }).raw(),
    valid: false,
    message: "between 1s and 10m",
  },
  {
    name: "keepalive not a duration",
    object: aPortForward().withSpecField("keepalive", { interval: "ten" }).raw(),
    valid: false,
    message: "between 1s and 10m",
  },
  { name: "unknown protocol", object: aPortForward().withSpecField("protocol", "SPDY").raw(), valid: false },
  { name: "unknown load balancing", object: aPortForward().withSpecField("loadBalancing", "Random").raw(), valid: false },
  {
    name: "access: empty from list",
    object: aPortForward().withSpecField("access", { from: [] }).raw(),
    valid: false,
    message: "spec.access.from must list at least one peer",
  },
  {
    name: "access: empty peer",
    object: aPortForward()
      .withSpecField("access", { from: [{}] })
      .raw(),
    valid: false,
    message: "a peer must set podSelector, namespaceSelector or ipBlock",
  },
  {
    name: "access: ipBlock with a selector",
    object: aPortForward()
      .withSpecField("access", { from: [{ ipBlock: { cidr: "10.0.0.0/8" }, podSelector: {} }] })
      .raw(),
    valid: false,
    message: "never ipBlock with a selector",
  },
  {
    name: "access: cidr that is no CIDR",
    object: aPortForward()
      .withSpecField("access", { from: [{ ipBlock: { cidr: "10.0.0.300/8" } }] })
      .raw(),
    valid: false,
    message: "ipBlock.cidr must be a CIDR",
  },
  {
    name: "access: except outside cidr",
    object: aPortForward()
      .withSpecField("access", { from: [{ ipBlock: { cidr: "10.0.0.0/16", except: ["10.1.0.0/24"] } }] })
      .raw(),
    valid: false,
    message: "must lie inside ipBlock.cidr",
  },
  {
    name: "LoadBalancer without an ipBlock peer",
    object: aPortForward().withService({ type: "LoadBalancer" }).raw(),
    valid: false,
    message: "NodePort or LoadBalancer is reachable from outside the cluster",
  },
  {
    name: "NodePort with pod peers only",
    object: aPortForward()
      .withService({ type: "NodePort" })
      .withSpecField("access", { from: [{ namespaceSelector: {} }] })
      .raw(),
    valid: false,
    message: "NodePort or LoadBalancer is reachable from outside the cluster",
  },
];
