import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiException } from "@kubernetes/client-node";
import {
  isAlreadyExists,
  isConflict,
  isForbidden,
  isGone,
  isNotFound,
  isTransient,
  reasonOf,
  statusCodeOf,
} from "../../../src/kube/errors.ts";

function apiError(code: number, reason?: string, asText = true): ApiException<unknown> {
  const status = { kind: "Status", apiVersion: "v1", status: "Failure", reason, code, message: "m" };
  return new ApiException(code, "Unknown API Status Code!", asText ? JSON.stringify(status) : status, {});
}

describe("kube errors", () => {
  const table: Array<{
    name: string;
    err: unknown;
    notFound: boolean;
    conflict: boolean;
    exists: boolean;
    gone: boolean;
    forbidden: boolean;
    transient: boolean;
  }> = [
    {
      name: "404 NotFound (text body)",
      err: apiError(404, "NotFound"),
      notFound: true,
      conflict: false,
      exists: false,
      gone: false,
      forbidden: false,
      transient: false,
    },
    {
      name: "409 Conflict",
      err: apiError(409, "Conflict"),
      notFound: false,
      conflict: true,
      exists: false,
      gone: false,
      forbidden: false,
      transient: true,
    },
    {
      name: "409 AlreadyExists (object body)",
      err: apiError(409, "AlreadyExists", false),
      notFound: false,
      conflict: false,
      exists: true,
      gone: false,
      forbidden: false,
      transient: false,
    },
    {
      name: "410 Gone",
      err: apiError(410, "Gone"),
      notFound: false,
      conflict: false,
      exists: false,
      gone: true,
      forbidden: false,
      transient: false,
    },
    {
      name: "watch ERROR Status object, Expired",
      err: { kind: "Status", code: 410, reason: "Expired" },
      notFound: false,
      conflict: false,
      exists: false,
      gone: true,
      forbidden: false,
      transient: false,
    },
    {
      name: "Watch HTTP error with statusCode",
      err: Object.assign(new Error("Forbidden"), { statusCode: 403 }),
      notFound: false,
      conflict: false,
      exists: false,
      gone: false,
      forbidden: true,
      transient: false,
    },
    {
      name: "401 without body",
      err: new ApiException(401, "Unauthorized", undefined, {}),
      notFound: false,
      conflict: false,
      exists: false,
      gone: false,
      forbidden: false,
      transient: false,
    },
    {
      name: "500 with HTML body",
      err: new ApiException(500, "x", "<html>", {}),
      notFound: false,
      conflict: false,
      exists: false,
      gone: false,
      forbidden: false,
      transient: true,
    },
    {
      name: "429",
      err: apiError(429, "TooManyRequests"),
      notFound: false,
      conflict: false,
      exists: false,
      gone: false,
      forbidden: false,
      transient: true,
    },
    {
      name: "network error",
      err: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
      notFound: false,
      conflict: false,
      exists: false,
      gone: false,
      forbidden: false,
      transient: true,
    },
  ];
  for (const row of table) {
    it(`classifies ${row.name}`, () => {
      assert.deepEqual(
        {
          notFound: isNotFound(row.err),
          conflict: isConflict(row.err),
          exists: isAlreadyExists(row.err),
          gone: isGone(row.err),
          forbidden: isForbidden(row.err),
          transient: isTransient(row.err),
        },
        {
          notFound: row.notFound,
          conflict: row.conflict,
          exists: row.exists,
          gone: row.gone,
          forbidden: row.forbidden,
          transient: row.transient,
        },
      );
    });
  }

  it("reads the code and reason from ApiException", () => {
    const err = apiError(404, "NotFound");
    assert.equal(statusCodeOf(err), 404);
    assert.equal(reasonOf(err), "NotFound");
    assert.equal(statusCodeOf(new Error("x")), undefined);
    assert.equal(statusCodeOf(Object.assign(new Error("x"), { code: "ECONNRESET" })), undefined);
  });
});
