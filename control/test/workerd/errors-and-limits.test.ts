/**
 * Bad input always gets a typed error, never a stack trace (DESIGN §6.10), and request bodies are
 * capped while they stream (DESIGN §6.9) — also when the sender declares no Content-Length.
 */

import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app.ts";
import {
  BODY_CAPS,
  MAX_CHUNK_BODY_BYTES,
  MAX_JSON_BODY_BYTES,
  MAX_UPLOAD_BODY_BYTES,
} from "../../src/app/limits.ts";
import worker from "../../src/index.ts";
import { createRouteMatcher } from "../../src/policy/match.ts";
import { ROUTE_POLICIES } from "../../src/policy/table.ts";
import { as, expectError, newTenant, principalFor, siteWithVersions, testEnv } from "./helpers.ts";

/** A body that arrives in chunks with no Content-Length (what a chunked upload looks like). */
function chunkedBody(totalBytes: number, chunkBytes = 16 * 1024): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= totalBytes) {
        controller.close();
        return;
      }
      const size = Math.min(chunkBytes, totalBytes - sent);
      sent += size;
      controller.enqueue(new Uint8Array(size).fill(0x20));
    },
  });
}

const JSON_HEADERS = { "content-type": "application/json" };

describe("typed errors", () => {
  it("answers an unknown route with 404 NOT_FOUND as JSON", async () => {
    const response = await worker.fetch(new Request("http://control.test/v2/anything"), testEnv, {});
    await expectError(response, 404, "NOT_FOUND");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("strict-transport-security")).toBe("max-age=31536000");
  });

  it("answers malformed JSON with 400 INVALID_REQUEST", async () => {
    const tenant = await newTenant();
    const { site } = await siteWithVersions(tenant, 1);
    const response = await as(principalFor(tenant))(`/v1/sites/${site.id}/rollback`, {
      method: "POST",
      headers: JSON_HEADERS,
      body: "{ not json",
    });
    await expectError(response, 400, "INVALID_REQUEST");
  });

  it("names the failing field of a body that does not match the schema", async () => {
    const tenant = await newTenant();
    const { site } = await siteWithVersions(tenant, 1);
    const request = as(principalFor(tenant));
    for (const body of [{ version: "2" }, { version: 0 }, { version: 1, extra: true }, {}]) {
      const response = await request(`/v1/sites/${site.id}/rollback`, {
        method: "POST",
        headers: JSON_HEADERS,
        body: JSON.stringify(body),
      });
      const error = await expectError(response, 400, "INVALID_REQUEST");
      expect(error.error.issues?.[0]?.path).toMatch(/^json(\.version)?$/);
      expect(error.error.message).toMatch(/^json/);
    }
  });

  it("answers a bug with 500 INTERNAL, a request id and neither the message nor a stack", async () => {
    const app = createApp();
    // A database that fails in a way no code expects: the first query of the request throws.
    const broken = {
      ...testEnv,
      DB: {
        prepare() {
          throw new Error("secret-internal-detail at /srv/control/src/thing.ts:12");
        },
      },
    };
    const errors: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args.join(" "));
    try {
      const response = await app.request(
        "http://control.test/v1/sites",
        { headers: { authorization: `Bearer ms_${"a".repeat(52)}` } },
        broken,
      );
      const body = await expectError(response, 500, "INTERNAL");
      expect(body.error.requestId).toMatch(/^[0-9a-f]{16}$/);
      expect(JSON.stringify(body)).not.toContain("secret-internal-detail");
    } finally {
      console.error = original;
    }
    expect(errors.join("\n")).toContain("unhandled_error");
  });

  it("answers a write route with 401 before authentication, and runs it only after", async () => {
    const tenant = await newTenant();
    const { site } = await siteWithVersions(tenant, 1);
    const unauthenticated = await worker.fetch(
      new Request(`http://control.test/v1/sites/${site.id}`, { method: "DELETE" }),
      testEnv,
      {},
    );
    await expectError(unauthenticated, 401, "AUTH_MISSING");
    expect((await as(principalFor(tenant))(`/v1/sites/${site.id}`)).status).toBe(200);
    // Provisioning is not configured in this env: the rows go at once, the Workers are left pending.
    const response = await as(principalFor(tenant))(`/v1/sites/${site.id}`, { method: "DELETE" });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id: site.id, deleted: true, workers: "pending" });
    expect((await as(principalFor(tenant))(`/v1/sites/${site.id}`)).status).toBe(404);
  });
});

describe("body caps", () => {
  it("gives JSON routes a 64 KiB cap, the publish upload the bundle cap and an editor chunk its own size", () => {
    const matcher = createRouteMatcher(ROUTE_POLICIES);
    const cap = (method: string, path: string) =>
      BODY_CAPS[matcher.match(method, path)?.policy.body ?? "none"];
    expect(cap("POST", "/v1/sites/abcdefghijklm/rollback")).toBe(MAX_JSON_BODY_BYTES);
    expect(cap("POST", "/v1/sites/abcdefghijklm/versions")).toBe(MAX_UPLOAD_BODY_BYTES);
    expect(cap("PUT", "/v1/macro/uploads/t/chunks/1")).toBe(MAX_CHUNK_BODY_BYTES);
    expect(cap("GET", "/v1/sites/abcdefghijklm/versions")).toBeLessThan(MAX_JSON_BODY_BYTES);
  });

  it("refuses a declared Content-Length over the cap with 413 BODY_TOO_LARGE before authentication", async () => {
    const response = await worker.fetch(
      new Request("http://control.test/v1/sites/abcdefghijklm/rollback", {
        method: "POST",
        headers: { ...JSON_HEADERS, "content-length": String(MAX_JSON_BODY_BYTES + 1) },
        body: "x".repeat(MAX_JSON_BODY_BYTES + 1),
      }),
      testEnv,
      {},
    );
    await expectError(response, 413, "BODY_TOO_LARGE");
  });

  it("stops a streamed body without Content-Length once it passes the cap: 413 BODY_TOO_LARGE", async () => {
    const tenant = await newTenant();
    const { site } = await siteWithVersions(tenant, 1);
    let pulled = 0;
    const source = chunkedBody(10 * MAX_JSON_BODY_BYTES);
    const reader = source.getReader();
    const counted = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        pulled += value.byteLength;
        controller.enqueue(value);
      },
    });
    const request = new Request(`http://control.test/v1/sites/${site.id}/rollback`, {
      method: "POST",
      headers: JSON_HEADERS,
      body: counted,
      duplex: "half",
    } as RequestInit);
    expect(request.headers.get("content-length")).toBeNull();
    const response = await as(principalFor(tenant))(`/v1/sites/${site.id}/rollback`, request);
    await expectError(response, 413, "BODY_TOO_LARGE");
    // The reader stopped near the cap instead of draining the whole body.
    expect(pulled).toBeLessThan(3 * MAX_JSON_BODY_BYTES);
  });

  it("lets a body at exactly the cap through to validation", async () => {
    const tenant = await newTenant();
    const { site } = await siteWithVersions(tenant, 1);
    const json = JSON.stringify({ version: 1 });
    const padded = json + " ".repeat(MAX_JSON_BODY_BYTES - json.length);
    const response = await as(principalFor(tenant))(`/v1/sites/${site.id}/rollback`, {
      method: "POST",
      headers: JSON_HEADERS,
      body: padded,
    });
    // Past the cap: the rollback handler itself answers (version 1 never went live).
    await expectError(response, 409, "VERSION_NOT_SERVABLE");
  });
});
