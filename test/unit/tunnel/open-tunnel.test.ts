import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { after, describe, it } from "node:test";
import { setImmediate as tick } from "node:timers/promises";
import { KubeConfig } from "@kubernetes/client-node";
import { type WebSocket, WebSocketServer } from "ws";
import { systemClock } from "../../../src/tunnel/clock.ts";
import { openTunnel } from "../../../src/tunnel/open-tunnel.ts";
import { TunnelError } from "../../../src/tunnel/tunnel-error.ts";
import { WsPeerTransport } from "../../support/ws-peer-transport.ts";
import { FakeClock } from "./fake-clock.ts";
import { TestSpdyServer } from "./spdy-test-server.ts";

type Mode = "tunnel" | "refuse-tunnel-400" | "forbidden" | "not-found";

interface ApiServer {
  url: string;
  requests: IncomingMessage[];
  /** Sec-WebSocket-Protocol of each request, as offered. */
  offered: string[];
  sockets: Duplex[];
  spdyServers: TestSpdyServer[];
  mode: Mode;
  server: Server;
}

/** An HTTP server that answers portforward upgrades the way kube-apiserver does. */
async function startApiServer(mode: Mode): Promise<ApiServer> {
  const wss = new WebSocketServer({ noServer: true });
  const api: ApiServer = { url: "", requests: [], offered: [], sockets: [], spdyServers: [], mode, server: createServer() };
  api.server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    api.requests.push(request);
    api.sockets.push(socket);
    const offered = String(request.headers["sec-websocket-protocol"] ?? "");
    api.offered.push(offered);
    const status = (code: number, body: string): void => {
      socket.end(`HTTP/1.1 ${code} X\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    };
    if (api.mode === "forbidden") return status(403, JSON.stringify({ kind: "Status", message: "forbidden by RBAC", code: 403 }));
    if (api.mode === "not-found") return status(404, JSON.stringify({ kind: "Status", message: 'pods "p" not found', code: 404 }));
    if (api.mode === "refuse-tunnel-400" && offered.startsWith("SPDY/3.1+")) return status(400, "missing port");
    // ws's server rejects "/" in subprotocols (not an RFC 6455 token); answer it by hand like the API server.
    delete request.headers["sec-websocket-protocol"];
    wss.once("headers", (headers: string[]) => headers.push(`Sec-WebSocket-Protocol: ${offered}`));
    wss.handleUpgrade(request, socket, head, (ws: WebSocket) => {
      if (offered.startsWith("SPDY/3.1+")) {
        const transport = new WsPeerTransport(ws, { clock: systemClock });
        api.spdyServers.push(new TestSpdyServer(transport));
      } else {
        serveV4Echo(ws, Number(new URL(request.url!, "http://x").searchParams.get("ports")));
      }
    });
  });
  api.server.listen(0, "127.0.0.1");
  await once(api.server, "listening");
  api.url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  return api;
}

/** The runtime side of v4: port prefix on both channels, then echo on channel 0; close on "bye". */
function serveV4Echo(ws: WebSocket, port: number): void {
  const prefix = [port & 0xff, port >> 8];
  ws.send(Buffer.from([0, ...prefix]));
  ws.send(Buffer.from([1, ...prefix]));
  ws.on("message", (data: Buffer) => {
    if (data[0] !== 0) return;
    const payload = data.subarray(1);
    if (payload.toString() === "refuse") {
      ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(`error forwarding port ${port}: connection refused`)]));
      ws.close(1000);
      return;
    }
    ws.send(Buffer.concat([Buffer.from([0]), payload]));
  });
}

function kubeConfigFor(server: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: "c", server, skipTLSVerify: true }],
    users: [{ name: "u", token: "secret-token" }],
    contexts: [{ name: "ctx", cluster: "c", user: "u" }],
    currentContext: "ctx",
  });
  return kubeConfig;
}

async function echo(connection: Duplex, text: string): Promise<string> {
  connection.write(text);
  const [chunk] = (await once(connection, "data")) as [Buffer];
  return chunk.toString();
}

const servers: ApiServer[] = [];
after(() => {
  for (const api of servers) for (const socket of api.sockets) socket.destroy();
  for (const api of servers) api.server.closeAllConnections();
  for (const api of servers) api.server.close();
});

async function apiServer(mode: Mode): Promise<ApiServer> {
  const api = await startApiServer(mode);
  servers.push(api);
  return api;
}

function isCode(code: string): (error: unknown) => boolean {
  return (error) => error instanceof TunnelError && error.code === code;
}

describe("openTunnel against an HTTP server speaking the portforward upgrade", () => {
  it("opens the SPDY tunnel with the subprotocol, path and bearer token from the KubeConfig", async () => {
    const api = await apiServer("tunnel");
    const tunnel = await openTunnel({ kubeConfig: kubeConfigFor(api.url), namespace: "ns", pod: "p", keepaliveIntervalMs: 0 });
    assert.equal(tunnel.protocol, "SPDY/3.1+portforward.k8s.io");
    const request = api.requests[0]!;
    assert.equal(request.url, "/api/v1/namespaces/ns/pods/p/portforward");
    assert.deepEqual(api.offered, ["SPDY/3.1+portforward.k8s.io"]);
    assert.equal(request.headers.authorization, "Bearer secret-token");
    const connections = [tunnel.connect(8080), tunnel.connect(8081)];
    assert.deepEqual(await Promise.all(connections.map((c, i) => echo(c, `hello ${i}`))), ["hello 0", "hello 1"]);
    assert.equal(tunnel.counters.activeConnections, 2);
    assert.equal(tunnel.counters.totalConnections, 2);
    assert.ok(tunnel.counters.bytesOut >= 14 && tunnel.counters.bytesIn >= 14);
    for (const c of connections) c.destroy();
    tunnel.close();
    assert.deepEqual(await tunnel.closed, { reason: "Closed", message: "the tunnel was closed", error: null });
    assert.equal(tunnel.state.kind, "closed");
  });

  it("falls back to v4.channel.k8s.io in Auto when the tunnel upgrade gets a non-101", async () => {
    const api = await apiServer("refuse-tunnel-400");
    const tunnel = await openTunnel({ kubeConfig: kubeConfigFor(api.url), namespace: "ns", pod: "p", keepaliveIntervalMs: 0 });
    assert.equal(tunnel.protocol, "v4.channel.k8s.io");
    const connection = tunnel.connect(8080);
    assert.equal(await echo(connection, "over v4"), "over v4");
    const v4Request = api.requests[1]!;
    assert.equal(v4Request.url, "/api/v1/namespaces/ns/pods/p/portforward?ports=8080");
    assert.equal(api.offered[1], "v4.channel.k8s.io");
    connection.write("refuse");
    await assert.rejects(once(connection, "end"), isCode("PF_ERR_PORT_FORWARD"));
    tunnel.close();
  });

  it("does not fall back in Tunnel mode: a non-101 rejects with PF_ERR_UPGRADE_FAILED", async () => {
    const api = await apiServer("refuse-tunnel-400");
    await assert.rejects(
      openTunnel({ kubeConfig: kubeConfigFor(api.url), namespace: "ns", pod: "p", protocol: "Tunnel" }),
      isCode("PF_ERR_UPGRADE_FAILED"),
    );
  });

  it("rejects 403 with PF_ERR_FORBIDDEN (no fallback) naming the permission", async () => {
    const api = await apiServer("forbidden");
    await assert.rejects(openTunnel({ kubeConfig: kubeConfigFor(api.url), namespace: "ns", pod: "p" }), (error: unknown) => {
      assert.ok(isCode("PF_ERR_FORBIDDEN")(error));
      assert.match((error as Error).message, /`get` and `create` on `pods\/portforward` in namespace ns: forbidden by RBAC/);
      return true;
    });
    assert.equal(api.requests.length, 1);
  });

  it("rejects 404 with PF_ERR_POD_NOT_FOUND", async () => {
    const api = await apiServer("not-found");
    await assert.rejects(openTunnel({ kubeConfig: kubeConfigFor(api.url), namespace: "ns", pod: "p" }), isCode("PF_ERR_POD_NOT_FOUND"));
  });

  it("rejects an unreachable API server with PF_ERR_NETWORK and does not fall back", async () => {
    const api = await apiServer("tunnel");
    const url = api.url;
    api.server.close();
    await once(api.server, "close");
    await assert.rejects(openTunnel({ kubeConfig: kubeConfigFor(url), namespace: "ns", pod: "p" }), isCode("PF_ERR_NETWORK"));
  });

  it("in Legacy mode, a 404 on the first connection closes the tunnel with PodGone", async () => {
    const api = await apiServer("not-found");
    const tunnel = await openTunnel({ kubeConfig: kubeConfigFor(api.url), namespace: "ns", pod: "p", protocol: "Legacy" });
    const connection = tunnel.connect(80);
    await assert.rejects(once(connection, "data"), isCode("PF_ERR_POD_NOT_FOUND"));
    assert.equal((await tunnel.closed).reason, "PodGone");
  });

  it("declares the tunnel dead with KeepaliveTimeout when SPDY PINGs go unanswered", async () => {
    const api = await apiServer("tunnel");
    const clock = new FakeClock();
    const tunnel = await openTunnel({ kubeConfig: kubeConfigFor(api.url), namespace: "ns", pod: "p", clock, keepaliveIntervalMs: 10_000 });
    await tick();
    api.spdyServers[0]!.answerPings = false;
    const connection = tunnel.connect(80);
    connection.on("error", () => {});
    for (let i = 0; i < 5; i++) {
      clock.advance(10_000);
      for (let j = 0; j < 20; j++) await tick();
    }
    const closed = await tunnel.closed;
    assert.equal(closed.reason, "KeepaliveTimeout");
    assert.equal(closed.error?.code, "PF_ERR_KEEPALIVE_TIMEOUT");
    assert.match(closed.message, /SPDY PING/);
    assert.ok(connection.destroyed);
  });
});
