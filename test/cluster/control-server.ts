/**
 * A small HTTP endpoint on 127.0.0.1 through which test files (which run in child processes)
 * ask the suite runner, the owner of the control plane, to restart a component or start a
 * second API server with other feature gates. Its URL reaches tests in
 * `TUNNELKEEPER_TEST_CONTROL_URL`.
 *
 *   POST /restart/<component>          → 204 when the component is ready again
 *   POST /apiserver?featureGates=...   → 200 {"kubeconfig": "...", "server": "..."}
 *   POST /cluster/<name>               → 200 {"stateFile": "..."}: a second, independent control
 *                                        plane (own etcd, PKI, API server and KWOK), one per name,
 *                                        shared by the tests that ask for it; stopped with the suite
 */
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { type Component, type ControlPlane, startControlPlane } from "./control-plane.ts";

const COMPONENTS: readonly Component[] = ["etcd", "kube-apiserver", "kube-controller-manager", "kwok"];

export interface ControlEndpoint {
  readonly url: string;
  readonly server: Server;
  /** Closes the endpoint and stops the control planes it started. */
  close(): Promise<void>;
}

const CLUSTER_NAME = /^[a-z0-9][-a-z0-9]{0,30}$/;

export function serveControl(plane: ControlPlane): Promise<ControlEndpoint> {
  const extraApiServers = new Map<string, Promise<{ kubeconfig: string; server: string }>>();
  const clusters = new Map<string, Promise<ControlPlane>>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const fail = (err: unknown) => {
      res.writeHead(500, { "content-type": "text/plain" }).end(err instanceof Error ? err.message : String(err));
    };
    if (req.method === "POST" && url.pathname.startsWith("/restart/")) {
      const component = url.pathname.slice("/restart/".length) as Component;
      if (!COMPONENTS.includes(component)) {
        res.writeHead(404).end(`unknown component ${component}`);
        return;
      }
      plane.restart(component).then(() => res.writeHead(204).end(), fail);
      return;
    }
    if (req.method === "POST" && url.pathname === "/apiserver") {
      const gates = url.searchParams.get("featureGates") ?? "";
      // One extra API server per gate set, shared by every test that asks for it.
      let started = extraApiServers.get(gates);
      if (!started) {
        started = plane.startExtraApiServer(gates);
        extraApiServers.set(gates, started);
      }
      started.then((info) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(info)), fail);
      return;
    }
    if (req.method === "POST" && url.pathname.startsWith("/cluster/")) {
      const name = url.pathname.slice("/cluster/".length);
      if (!CLUSTER_NAME.test(name)) {
        res.writeHead(400).end(`cluster name ${name} must be a short DNS label`);
        return;
      }
      let started = clusters.get(name);
      if (!started) {
        started = startControlPlane({ progress: (line) => process.stderr.write(`[cluster ${name}] ${line}\n`) });
        clusters.set(name, started);
      }
      started.then((second) => {
        const stateFile = join(second.state.workDir, "state.json");
        writeFileSync(stateFile, JSON.stringify(second.state));
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ stateFile }));
      }, fail);
      return;
    }
    res.writeHead(404).end();
  });
  const close = async () => {
    server.close();
    const planes = await Promise.allSettled(clusters.values());
    await Promise.all(planes.flatMap((p) => (p.status === "fulfilled" ? [p.value.stop()] : [])));
  };
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      resolve({ url: `http://127.0.0.1:${port}`, server, close });
    });
  });
}
