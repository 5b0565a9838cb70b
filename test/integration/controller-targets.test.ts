// The controller as a real process (`tunnelkeeper controller`) against the real control plane,
// with no gateway: every target kind resolves, the Service and EndpointSlice are what the design
// says, invalid-but-admissible PortForwards get the right reasons (and recover by themselves),
// drift is repaired, Events are recorded, gateway ports never collide, deleting a PortForward
// garbage-collects what it owns — and without a gateway, Ready is never True.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AppsV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { kubeRequest } from "../../src/kube/request.ts";
import { NODE_NAME } from "../cluster/control-plane.ts";
import { createBackedPod } from "../cluster/pods.ts";
import { testCluster, testNamespace } from "../support/cluster.ts";
import { installCrd, startOperatorProcess } from "../support/operator-process.ts";
import {
  condition,
  getObject,
  hasCondition,
  type PortForwardObject,
  PortForwards,
  waitFor,
  watchPortForwards,
} from "../support/portforwards.ts";
import { refusedPort } from "../support/tcp-servers.ts";

interface ServiceObject {
  metadata: {
    uid: string;
    labels?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }[];
    managedFields?: { manager: string; operation: string }[];
  };
  spec: {
    type: string;
    selector?: Record<string, string>;
    ports: { name?: string; port: number; targetPort: number | string; protocol: string }[];
  };
}

interface EndpointSliceObject {
  metadata: { uid: string; labels?: Record<string, string> };
  ports?: { name?: string; port: number; protocol: string }[];
}

const getService = (kc: KubeConfig, namespace: string, name: string) =>
  getObject<ServiceObject>(kc, { apiVersion: "v1", plural: "services", namespace, name });
const getSlice = (kc: KubeConfig, namespace: string, name: string) =>
  getObject<EndpointSliceObject>(kc, {
    apiVersion: "discovery.k8s.io/v1",
    plural: "endpointslices",
    namespace,
    name: `${name}-tunnelkeeper`,
  });

function podTemplate(app: string, port: { name: string; containerPort: number }) {
  return {
    metadata: { labels: { app } },
    spec: {
      nodeName: NODE_NAME,
      tolerations: [{ operator: "Exists" }],
      containers: [{ name: "app", image: "tunnelkeeper.test/backend:1", ports: [{ ...port, protocol: "TCP" }] }],
    },
  };
}

test("controller process: targets, Service, EndpointSlice, reasons, drift, Events, ports, GC", { concurrency: true }, async (t) => {
  const cluster = testCluster();
  const kc = cluster.admin;
  await installCrd(cluster);
  const namespace = await testNamespace(t, "ctl-targets");
  // An empty gateway namespace of our own: no gateway ever reports here, whatever else runs.
  const gatewayNamespace = await testNamespace(t, "ctl-targets-gw");
  const pfs = new PortForwards(kc, namespace);

  // Ready must never be True without a gateway: record every version of every PortForward.
  const readyTrue: string[] = [];
  const stopWatch = watchPortForwards(kc, namespace, (pf) => {
    if (hasCondition(pf, "Ready", "True")) readyTrue.push(pf.metadata.name);
  });
  t.after(stopWatch);

  const controller = await startOperatorProcess(
    { command: "controller", kubeconfig: cluster.state.kubeconfig, podNamespace: gatewayNamespace, args: ["--namespace", namespace] },
    t,
  );

  // Targets: two backed pods with a named port, a Service over them with a named targetPort,
  // a Deployment and a StatefulSet whose pods KCM creates from templates bound to the KWOK node.
  const nowhere = await refusedPort();
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  await Promise.all([
    ...["web-0", "web-1"].map((name) =>
      createBackedPod(kc, {
        namespace,
        name,
        labels: { app: "web" },
        ports: [{ podPort: 8080, name: "http", host: "127.0.0.1", port: nowhere }],
      }),
    ),
    core.createNamespacedService({
      namespace,
      body: { metadata: { name: "web-svc" }, spec: { selector: { app: "web" }, ports: [{ name: "front", port: 80, targetPort: "http" }] } },
    }),
    apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: "api" },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "api" } },
          template: podTemplate("api", { name: "http", containerPort: 8080 }),
        },
      },
    }),
    apps.createNamespacedStatefulSet({
      namespace,
      body: {
        metadata: { name: "db" },
        spec: {
          replicas: 2,
          serviceName: "db",
          selector: { matchLabels: { app: "db" } },
          template: podTemplate("db", { name: "pg", containerPort: 5432 }),
        },
      },
    }),
  ]);

  const kinds: { name: string; spec: Record<string, unknown>; pods: number; target: string }[] = [
    { name: "by-pod", spec: { target: { pod: "web-0" }, ports: [{ port: 80, targetPort: "http" }] }, pods: 1, target: "pod/web-0" },
    {
      name: "by-selector",
      spec: {
        target: { selector: { matchLabels: { app: "web" } } },
        ports: [
          { name: "a", port: 80, targetPort: 8080 },
          { name: "b", port: 81, targetPort: "http" },
        ],
      },
      pods: 2,
      target: "selector app=web",
    },
    {
      name: "by-service",
      spec: { target: { service: "web-svc" }, ports: [{ port: 8080, targetPort: "front" }] },
      pods: 2,
      target: "service/web-svc",
    },
    {
      name: "by-deployment",
      spec: { target: { workload: { kind: "Deployment", name: "api" } }, ports: [{ port: 80, targetPort: "http" }] },
      pods: 2,
      target: "deployment/api",
    },
    {
      name: "by-statefulset",
      spec: { target: { workload: { kind: "StatefulSet", name: "db" } }, ports: [{ port: 5432, targetPort: "pg" }] },
      pods: 2,
      target: "statefulset/db",
    },
  ];
  await Promise.all(kinds.map((k) => pfs.create(k.name, k.spec)));
  const subtests: Promise<void>[] = [];

  const resolved = async (name: string, pods: number) =>
    waitFor(`${name}: TargetResolved with ${pods} ready pods and a Service`, async () => {
      const pf = await pfs.get(name);
      const ok =
        hasCondition(pf, "TargetResolved", "True", "Resolved") &&
        pf?.status?.totals?.readyPods === pods &&
        hasCondition(pf, "ServiceReady", "True", "ServiceAvailable");
      return ok ? pf : undefined;
    });

  subtests.push(
    t.test("each target kind resolves (named ports included) to a selectorless Service and an EndpointSlice", async () => {
      // KCM made the workloads' pods from their templates and KWOK made them Ready.
      for (const app of ["api", "db"]) {
        await waitFor(`${app} pods Ready`, async () => {
          const pods = await core.listNamespacedPod({ namespace, labelSelector: `app=${app}` });
          const ready = pods.items.filter((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
          return ready.length === 2 ? true : undefined;
        });
      }
      // The Service target resolves through KCM's EndpointSlices, which carry the named port's number.
      const kcmSlices = await kubeRequest(kc, {
        method: "GET",
        path: `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
        query: { labelSelector: "kubernetes.io/service-name=web-svc" },
      });
      assert.deepEqual(
        (kcmSlices as { items: EndpointSliceObject[] }).items[0]?.ports?.map((p) => [p.name, p.port]),
        [["front", 8080]],
      );

      for (const kind of kinds) {
        const pf = await resolved(kind.name, kind.pods);
        assert.equal(pf.status?.target, kind.target);
        assert.equal(pf.status?.totals?.pods, kind.pods);
        assert.equal(pf.status?.observedGeneration, 1);
        assert.equal(hasCondition(pf, "Ready", "False", "NoGatewayReporting"), true, `${kind.name}: Ready waits for a gateway`);

        const service = await getService(kc, namespace, kind.name);
        assert.ok(service, `${kind.name}: Service exists`);
        assert.equal(service.spec.selector, undefined, `${kind.name}: no selector`);
        assert.equal(service.spec.type, "ClusterIP");
        const ports = pf.status?.ports ?? [];
        const specPorts = (kind.spec.ports as { port: number }[]).map((p) => p.port);
        assert.deepEqual(
          ports.map((p) => p.port),
          specPorts,
        );
        for (const allocated of ports) {
          assert.ok(allocated.gatewayPort >= 20000 && allocated.gatewayPort <= 29999, `gateway port ${allocated.gatewayPort} in range`);
          const servicePort: ServiceObject["spec"]["ports"][number] | undefined = service.spec.ports.find((p) => p.port === allocated.port);
          assert.equal(servicePort?.targetPort, allocated.gatewayPort, `${kind.name}: port ${allocated.port} → gateway port`);
          assert.equal(servicePort?.protocol, "TCP");
        }
        assert.deepEqual(service.metadata.ownerReferences, [
          {
            apiVersion: "tunnelkeeper.io/v1alpha1",
            kind: "PortForward",
            name: kind.name,
            uid: pf.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ]);
        assert.ok(
          service.metadata.managedFields?.some((f) => f.manager === "tunnelkeeper-controller" && f.operation === "Apply"),
          `${kind.name}: applied by field manager tunnelkeeper-controller`,
        );

        const slice = await getSlice(kc, namespace, kind.name);
        assert.ok(slice, `${kind.name}: EndpointSlice exists`);
        assert.equal(slice.metadata.labels?.["kubernetes.io/service-name"], kind.name);
        assert.deepEqual(
          slice.ports?.map((p) => p.port),
          ports.map((p) => p.gatewayPort),
        );
      }
    }),
  );

  subtests.push(
    t.test("a missing target pod is PodNotFound (Reconciling) and recovers by itself when the pod appears", async () => {
      await pfs.create("later", { target: { pod: "later-0" }, ports: [{ port: 80, targetPort: 8080 }] });
      const waiting = await waitFor("Ready=False PodNotFound", async () => {
        const pf = await pfs.get("later");
        return hasCondition(pf, "Ready", "False", "PodNotFound") ? pf : undefined;
      });
      assert.equal(hasCondition(waiting, "Reconciling", "True", "PodNotFound"), true);
      assert.equal(condition(waiting, "Stalled"), undefined, "a missing pod is progress, not stalled");
      assert.equal(hasCondition(waiting, "TargetResolved", "False", "PodNotFound"), true);
      assert.match(condition(waiting, "Ready")?.message ?? "", /later-0/);

      await createBackedPod(kc, { namespace, name: "later-0", ports: [{ podPort: 8080, host: "127.0.0.1", port: nowhere }] });
      const recovered = await waitFor("Ready reason to move on to NoGatewayReporting", async () => {
        const pf = await pfs.get("later");
        return hasCondition(pf, "Ready", "False", "NoGatewayReporting") ? pf : undefined;
      });
      assert.equal(hasCondition(recovered, "TargetResolved", "True", "Resolved"), true);
    }),
  );

  subtests.push(
    t.test("a named targetPort the pod lacks is PortNotExposed and Stalled", async () => {
      await pfs.create("no-port", { target: { pod: "web-1" }, ports: [{ port: 80, targetPort: "grpc" }] });
      const stalled = await waitFor("Ready=False PortNotExposed", async () => {
        const pf = await pfs.get("no-port");
        return hasCondition(pf, "Ready", "False", "PortNotExposed") ? pf : undefined;
      });
      assert.equal(hasCondition(stalled, "Stalled", "True", "PortNotExposed"), true);
      assert.equal(condition(stalled, "Reconciling"), undefined, "Stalled and Reconciling are exclusive");
      assert.match(condition(stalled, "Ready")?.message ?? "", /grpc/);
    }),
  );

  subtests.push(
    t.test("drift of the Service and EndpointSlice is repaired; deleted ones are recreated", async () => {
      await pfs.create("drifty", { target: { pod: "web-0" }, ports: [{ port: 80, targetPort: 8080 }] });
      const pf = await resolved("drifty", 1);
      const gatewayPort = pf.status?.ports?.[0]?.gatewayPort;
      const original = await getService(kc, namespace, "drifty");
      assert.ok(original && gatewayPort !== undefined);
      const isRepaired = (s: ServiceObject | undefined) => s?.spec.ports[0]?.targetPort === gatewayPort && s.spec.selector === undefined;

      await kubeRequest(kc, {
        method: "PATCH",
        path: `/api/v1/namespaces/${namespace}/services/drifty`,
        contentType: "application/json-patch+json",
        body: [
          { op: "replace", path: "/spec/ports/0/targetPort", value: 1234 },
          { op: "add", path: "/spec/selector", value: { app: "api" } },
        ],
      });
      await waitFor("edited Service repaired (targetPort back, selector gone)", async () =>
        isRepaired(await getService(kc, namespace, "drifty")) ? true : undefined,
      );

      await kubeRequest(kc, { method: "DELETE", path: `/api/v1/namespaces/${namespace}/services/drifty` });
      const recreated = await waitFor("deleted Service recreated", async () => {
        const s = await getService(kc, namespace, "drifty");
        return s !== undefined && s.metadata.uid !== original.metadata.uid ? s : undefined;
      });
      assert.equal(isRepaired(recreated), true, "recreated with the same gateway port");

      const slice = await getSlice(kc, namespace, "drifty");
      assert.ok(slice);
      await kubeRequest(kc, {
        method: "PATCH",
        path: `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices/drifty-tunnelkeeper`,
        contentType: "application/json-patch+json",
        body: [{ op: "replace", path: "/ports/0/port", value: 1234 }],
      });
      await waitFor("edited EndpointSlice repaired", async () =>
        (await getSlice(kc, namespace, "drifty"))?.ports?.[0]?.port === gatewayPort ? true : undefined,
      );
      await kubeRequest(kc, {
        method: "DELETE",
        path: `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices/drifty-tunnelkeeper`,
      });
      await waitFor("deleted EndpointSlice recreated", async () => {
        const s = await getSlice(kc, namespace, "drifty");
        return s !== undefined && s.metadata.uid !== slice.metadata.uid && s.ports?.[0]?.port === gatewayPort ? true : undefined;
      });
    }),
  );

  subtests.push(
    t.test("a Normal ServiceAvailable Event is recorded (events.k8s.io)", async () => {
      await resolved("by-pod", 1);
      const event = await waitFor("ServiceAvailable Event", async () => {
        const list = (await kubeRequest(kc, { method: "GET", path: `/apis/events.k8s.io/v1/namespaces/${namespace}/events` })) as {
          items: { type: string; reason: string; regarding: { kind: string; name: string }; reportingController: string; note: string }[];
        };
        return list.items.find(
          (e) => e.reason === "ServiceAvailable" && e.regarding.name === "by-pod" && e.regarding.kind === "PortForward",
        );
      });
      assert.equal(event.type, "Normal");
      assert.equal(event.reportingController, "tunnelkeeper.io/controller");
      assert.match(event.note, /by-pod/);
    }),
  );

  subtests.push(
    t.test("20 PortForwards created at once never share a gateway port", async () => {
      const names = Array.from({ length: 20 }, (_, i) => `bulk-${i}`);
      await Promise.all(
        names.map((name, i) =>
          pfs.create(name, {
            target: { pod: "web-0" },
            ports:
              i % 2 === 0
                ? [{ port: 80, targetPort: 8080 }]
                : [
                    { name: "a", port: 80, targetPort: 8080 },
                    { name: "b", port: 443, targetPort: 8080 },
                  ],
          }),
        ),
      );
      const services = await waitFor("20 Services with status.ports", async () => {
        const all = await Promise.all(
          names.map(async (name) => ({ pf: await pfs.get(name), service: await getService(kc, namespace, name) })),
        );
        return all.every(({ pf, service }) => service !== undefined && pf?.status?.ports !== undefined) ? all : undefined;
      });
      const used = new Map<number, string>();
      for (const { pf, service } of services) {
        for (const port of service?.spec.ports ?? []) {
          const gatewayPort = Number(port.targetPort);
          const other = used.get(gatewayPort);
          assert.equal(other, undefined, `gateway port ${gatewayPort} given to ${other} and ${pf?.metadata.name}`);
          used.set(gatewayPort, pf?.metadata.name ?? "");
        }
        assert.deepEqual(
          service?.spec.ports.map((p) => p.targetPort),
          (pf as PortForwardObject).status?.ports?.map((p) => p.gatewayPort),
          "status.ports agrees with the Service",
        );
      }
      assert.equal(used.size, 30);
    }),
  );

  subtests.push(
    t.test("deleting a PortForward garbage-collects its Service and EndpointSlice", async () => {
      await pfs.create("doomed", { target: { pod: "web-0" }, ports: [{ port: 80, targetPort: 8080 }] });
      await waitFor("doomed's Service and EndpointSlice", async () =>
        (await getService(kc, namespace, "doomed")) !== undefined && (await getSlice(kc, namespace, "doomed")) !== undefined
          ? true
          : undefined,
      );
      await pfs.delete("doomed");
      await waitFor(
        "Service and EndpointSlice removed by the garbage collector",
        async () =>
          (await getService(kc, namespace, "doomed")) === undefined && (await getSlice(kc, namespace, "doomed")) === undefined
            ? true
            : undefined,
        60_000,
        250,
      );
    }),
  );

  await Promise.all(subtests);
  await t.test("Ready was never True: no gateway reported", async () => {
    assert.deepEqual(readyTrue, []);
    for (const pf of await pfs.list()) {
      assert.notEqual(condition(pf, "Ready")?.status, "True", `${pf.metadata.name} is not Ready`);
    }
    assert.match(await controller.metrics(), /controller_runtime_reconcile_total\{controller="portforward",result="[a-z_]+"\} \d+/);
    assert.equal(await controller.stop(), 0, "the controller exits 0 on SIGTERM");
  });
});
