/**
 * A small HTTP endpoint on 127.0.0.1 through which test files (which run in child processes)
 * ask the suite runner, the owner of the control plane, to restart a component or start a
 * second API server with other feature gates. Its URL reaches tests in
 * `TUNNELKEEPER_TEST_CONTROL_URL`.
 *
 *   POST /restart/<component>          → 204 when the component is ready again
 *   POST /apiserver?featureGates=...   → 200 {"kubeconfig": "...", "server": "..."}
 */
import { createServer, type Server } from "node:http";
import type { Component, ControlPlane } from "./control-plane.ts";

const COMPONENTS: readonly Component[] = ["etcd", "kube-apiserver", "kube-controller-manager", "kwok"];

export function serveControl(plane: ControlPlane): Promise<{ url: string; server: Server }> {
  const extraApiServers = new Map<string, Promise<{ kubeconfig: string; server: string }>>();
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
    res.writeHead(404).end();
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      resolve({ url: `http://127.0.0.1:${port}`, server });
    });
  });
}
