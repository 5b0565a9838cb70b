import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { classifyHandshakeFailure, statusMessage } from "../../../src/tunnel/handshake-failure.ts";
import { closeReasonFor } from "../../../src/tunnel/tunnel.ts";

const target = { namespace: "team-a", pod: "db-0", protocol: "SPDY/3.1+portforward.k8s.io" };
const forbiddenStatus = JSON.stringify({
  kind: "Status",
  apiVersion: "v1",
  status: "Failure",
  message: 'pods "db-0" is forbidden: User "alice" cannot get resource "pods/portforward" in the namespace "team-a"',
  reason: "Forbidden",
  code: 403,
});

describe("classifyHandshakeFailure", () => {
  it("maps 403 to PF_ERR_FORBIDDEN naming get and create on pods/portforward in the namespace", () => {
    const error = classifyHandshakeFailure(403, forbiddenStatus, target);
    assert.equal(error.code, "PF_ERR_FORBIDDEN");
    assert.equal(error.status, 403);
    assert.match(error.message, /`get` and `create` on `pods\/portforward` in namespace team-a/);
    assert.match(error.message, /cannot get resource "pods\/portforward"/);
    assert.equal(closeReasonFor(error).reason, "Forbidden");
  });

  it("maps 401 to Forbidden as well", () => {
    assert.equal(classifyHandshakeFailure(401, "Unauthorized", target).code, "PF_ERR_FORBIDDEN");
  });

  it("maps 404 to PF_ERR_POD_NOT_FOUND / PodGone", () => {
    const error = classifyHandshakeFailure(404, JSON.stringify({ message: 'pods "db-0" not found' }), target);
    assert.equal(error.code, "PF_ERR_POD_NOT_FOUND");
    assert.equal(closeReasonFor(error).reason, "PodGone");
  });

  it("maps any other status to PF_ERR_UPGRADE_FAILED / ProtocolUnsupported, keeping plain-text bodies", () => {
    const error = classifyHandshakeFailure(400, "unable to upgrade: missing ports\n", target);
    assert.equal(error.code, "PF_ERR_UPGRADE_FAILED");
    assert.match(error.message, /HTTP 400: unable to upgrade: missing ports$/);
    assert.equal(closeReasonFor(error).reason, "ProtocolUnsupported");
  });

  it("reads metav1.Status messages only from JSON objects", () => {
    assert.equal(statusMessage('{"message":"x"}'), "x");
    assert.equal(statusMessage("not json"), null);
    assert.equal(statusMessage("[1]"), null);
  });
});
