/**
 * The API-token management API (issue 4 items 3 and 8) through the real authentication middleware:
 * a token is shown once, works at once, stops working when revoked, is never listed with its text or
 * digest, never reaches across tenants, never grants more than its issuer holds, and every change is
 * in the audit chain without the token in it.
 */

import { env } from "cloudflare:test";
import { hexEncode, KEY_PURPOSE, keyringFor, requireIdentity, type TenantShortId } from "@mini-sites/core";
import { describe, expect, it } from "vitest";
import { tenantChain, verifyChain } from "../../src/audit/index.ts";
import { issueApiToken } from "../../src/auth/api-tokens.ts";
import { D1ApiTokenStore, recordApiTokenUse } from "../../src/db/api-tokens.ts";
import { TEST_APP_PID, TEST_APP_PSK } from "./fixtures.ts";
import { expectError, newTenant } from "./helpers.ts";
import {
  bearer,
  type NewTokenJson,
  postJson,
  type TokenJson,
  tenantWithAdminToken,
  tokenApp,
} from "./token-app.ts";

const send = tokenApp();

async function sha256Hex(text: string): Promise<string> {
  return hexEncode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))));
}

async function create(adminToken: string, body: unknown): Promise<NewTokenJson> {
  const response = await send("/v1/tokens", postJson(adminToken, body));
  expect(response.status).toBe(201);
  return (await response.json()) as NewTokenJson;
}

async function list(token: string, query = ""): Promise<{ tokens: TokenJson[]; nextCursor: string | null }> {
  const response = await send(`/v1/tokens${query}`, bearer(token));
  expect(response.status).toBe(200);
  return (await response.json()) as { tokens: TokenJson[]; nextCursor: string | null };
}

const revoke = (token: string, id: string) => send(`/v1/tokens/${id}`, bearer(token, { method: "DELETE" }));

async function tokenRows(tenant: string): Promise<number> {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM api_tokens WHERE tenant_id = ?")
    .bind(tenant)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

describe("POST /v1/tokens", () => {
  it("issues a token that is shown once and authenticates at once through the real middleware", async () => {
    const admin = await tenantWithAdminToken();
    const created = await create(admin.token, { label: "CI deploy", scopes: ["sites:read"] });
    expect(created.token).toMatch(/^ms_[a-z2-7]{52}$/);
    expect(created.displayPrefix).toBe(created.token.slice(0, 11));
    expect(created).toMatchObject({ label: "CI deploy", scopes: ["sites:read"] });
    expect(created.id).toMatch(/^tok_/);

    const sites = await send("/v1/sites", bearer(created.token));
    expect(sites.status).toBe(200);

    // Stored as a digest only: the text is nowhere in the row.
    const row = await env.DB.prepare("SELECT * FROM api_tokens WHERE id = ?").bind(created.id).first();
    expect(JSON.stringify(row)).not.toContain(created.token.slice(3));
    expect(row).toMatchObject({
      token_hash: await sha256Hex(created.token),
      created_by: `api-token:${admin.tokenId}`,
    });
  });

  it("never shows a token's text again: neither the listing nor the revocation carries it or its digest", async () => {
    const admin = await tenantWithAdminToken();
    const created = await create(admin.token, { label: "once", scopes: ["sites:read"] });
    const digest = await sha256Hex(created.token);
    const listing = await send("/v1/tokens", bearer(admin.token));
    const revoked = await revoke(admin.token, created.id);
    for (const text of [await listing.text(), await revoked.text()]) {
      expect(text).toContain(created.id);
      expect(text).not.toContain(created.token.slice(3));
      expect(text).not.toContain(admin.token.slice(3));
      expect(text).not.toContain(digest);
      expect(text).not.toMatch(/ms_[a-z2-7]{16,}/);
      expect(text).not.toMatch(/"token"|hash/i);
    }
  });

  it("refuses a sites:write-only token with 403 INSUFFICIENT_SCOPE, for every token route", async () => {
    const admin = await tenantWithAdminToken();
    const writer = await create(admin.token, { label: "publisher", scopes: ["sites:read", "sites:write"] });
    const before = await tokenRows(admin.tenant);
    await expectError(
      await send("/v1/tokens", postJson(writer.token, { label: "more", scopes: ["sites:read"] })),
      403,
      "INSUFFICIENT_SCOPE",
    );
    await expectError(await send("/v1/tokens", bearer(writer.token)), 403, "INSUFFICIENT_SCOPE");
    await expectError(await revoke(writer.token, admin.tokenId), 403, "INSUFFICIENT_SCOPE");
    expect(await tokenRows(admin.tenant)).toBe(before);
    expect((await send("/v1/sites", bearer(admin.token))).status).toBe(200);
  });

  it("refuses to grant a scope the issuing token does not hold, and stores nothing", async () => {
    const admin = await tenantWithAdminToken();
    const manager = await create(admin.token, { label: "manager", scopes: ["tokens:manage", "sites:read"] });
    const before = await tokenRows(admin.tenant);
    const refused = await expectError(
      await send(
        "/v1/tokens",
        postJson(manager.token, { label: "escalate", scopes: ["sites:read", "sites:write"] }),
      ),
      403,
      "INSUFFICIENT_SCOPE",
    );
    expect(refused.error.message).toContain("sites:write");
    expect(await tokenRows(admin.tenant)).toBe(before);
    // What it holds it may hand on, including tokens:manage itself.
    const handedOn = await create(manager.token, { label: "sub-manager", scopes: ["tokens:manage"] });
    expect(handedOn.scopes).toEqual(["tokens:manage"]);
  });

  it("refuses the tenant-less CI secret (403), issuing nothing", async () => {
    const tenant = await newTenant();
    const secret = ["token", "tests", "ci", "secret", "0123456789abcdef"].join("-");
    const ci = tokenApp({ ...env, CONTROL_SHARED_SECRET: secret });
    const body = {
      method: "POST",
      headers: { "content-type": "application/json", "x-mini-sites-secret": secret },
      body: '{"label":"x","scopes":["sites:read"]}',
    };
    await expectError(await ci("/v1/tokens", body), 403, "PRINCIPAL_NOT_ALLOWED");
    await expectError(
      await ci("/v1/tokens", { headers: { "x-mini-sites-secret": secret } }),
      403,
      "PRINCIPAL_NOT_ALLOWED",
    );
    expect(await tokenRows(tenant)).toBe(0);
  });

  it("answers 401 without a credential and 400 INVALID_REQUEST for a bad body, naming the field", async () => {
    const admin = await tenantWithAdminToken();
    await expectError(
      await send("/v1/tokens", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      }),
      401,
      "AUTH_MISSING",
    );
    const bad: [unknown, string][] = [
      [{ label: "", scopes: ["sites:read"] }, "json.label"],
      [{ label: "   ", scopes: ["sites:read"] }, "json.label"],
      [{ label: "x".repeat(201), scopes: ["sites:read"] }, "json.label"],
      [{ label: "bell\u0007", scopes: ["sites:read"] }, "json.label"],
      [{ label: "x", scopes: [] }, "json.scopes"],
      [{ label: "x", scopes: ["sites:admin"] }, "json.scopes"],
      [{ label: "x" }, "json.scopes"],
      [{ label: "x", scopes: ["sites:read"], tenantId: "other" }, "json"],
    ];
    for (const [body, path] of bad) {
      const error = await expectError(
        await send("/v1/tokens", postJson(admin.token, body)),
        400,
        "INVALID_REQUEST",
      );
      expect(error.error.issues?.some((issue) => issue.path.startsWith(path))).toBe(true);
    }
    await expectError(await send("/v1/tokens", postJson(admin.token, "{not json")), 400, "INVALID_REQUEST");
  });

  it("fails closed without the deployment secret: no audit key, no token", async () => {
    const admin = await tenantWithAdminToken();
    const before = await tokenRows(admin.tenant);
    const unconfigured = tokenApp({ ...env, APP_PSK: "" });
    await expectError(
      await unconfigured("/v1/tokens", postJson(admin.token, { label: "x", scopes: ["sites:read"] })),
      503,
      "NOT_CONFIGURED",
    );
    expect(await tokenRows(admin.tenant)).toBe(before);
  });
});

describe("DELETE /v1/tokens/{token}", () => {
  it("revokes a token so that its next use answers 401, and answers the same when repeated", async () => {
    const admin = await tenantWithAdminToken();
    const created = await create(admin.token, { label: "short-lived", scopes: ["sites:read"] });
    expect((await send("/v1/sites", bearer(created.token))).status).toBe(200);

    const first = await revoke(admin.token, created.id);
    expect(first.status).toBe(200);
    const revoked = (await first.json()) as TokenJson;
    expect(revoked.id).toBe(created.id);
    expect(revoked.revokedAt).not.toBeNull();

    const denied = await send("/v1/sites", bearer(created.token));
    expect(denied.status).toBe(401);

    const again = await revoke(admin.token, created.id);
    expect(again.status).toBe(200);
    expect(((await again.json()) as TokenJson).revokedAt).toBe(revoked.revokedAt);
  });

  it("lets a token revoke itself", async () => {
    const admin = await tenantWithAdminToken();
    expect((await revoke(admin.token, admin.tokenId)).status).toBe(200);
    expect((await send("/v1/tokens", bearer(admin.token))).status).toBe(401);
  });

  it("answers 404 for another tenant's token id, exactly as for a missing one, and leaves it working", async () => {
    const mine = await tenantWithAdminToken();
    const theirs = await tenantWithAdminToken();
    const victim = await create(theirs.token, { label: "theirs", scopes: ["sites:read"] });
    const foreign = await expectError(await revoke(mine.token, victim.id), 404, "NOT_FOUND");
    const missing = await expectError(await revoke(mine.token, "tok_aaaaaaaaaaaaaaaa"), 404, "NOT_FOUND");
    expect(foreign).toEqual(missing);
    expect((await send("/v1/sites", bearer(victim.token))).status).toBe(200);
    const rows = await env.DB.prepare("SELECT revoked_at FROM api_tokens WHERE id = ?")
      .bind(victim.id)
      .first();
    expect(rows).toEqual({ revoked_at: null });
  });

  it("answers 400 for something that is not a token id", async () => {
    const admin = await tenantWithAdminToken();
    await expectError(await revoke(admin.token, "..%2F..%2Fsites"), 400, "INVALID_REQUEST");
  });
});

describe("GET /v1/tokens", () => {
  it("lists only the caller's tenant, newest first, in pages, with revocation and last use", async () => {
    const admin = await tenantWithAdminToken();
    const other = await tenantWithAdminToken();
    await create(other.token, { label: "other tenant", scopes: ["sites:read"] });
    const a = await create(admin.token, { label: "a", scopes: ["sites:read"] });
    const b = await create(admin.token, { label: "b", scopes: ["sites:read", "sites:write"] });
    await revoke(admin.token, a.id);
    await recordApiTokenUse(env.DB, b.id, Date.parse("2026-01-02T03:04:05.000Z"));

    const first = await list(admin.token, "?limit=2");
    expect(first.tokens).toHaveLength(2);
    expect(first.nextCursor).not.toBeNull();
    const second = await list(admin.token, `?limit=2&cursor=${encodeURIComponent(first.nextCursor ?? "")}`);
    expect(second.nextCursor).toBeNull();
    const all = [...first.tokens, ...second.tokens];
    expect(new Set(all.map((t) => t.id))).toEqual(new Set([admin.tokenId, a.id, b.id]));
    const created = all.map((t) => t.createdAt);
    expect([...created].sort().reverse()).toEqual(created);

    const byId = new Map(all.map((t) => [t.id, t]));
    expect(byId.get(a.id)?.revokedAt).not.toBeNull();
    expect(byId.get(b.id)).toMatchObject({
      label: "b",
      displayPrefix: b.displayPrefix,
      scopes: ["sites:read", "sites:write"],
      lastUsedAt: "2026-01-02T03:04:05.000Z",
      revokedAt: null,
      createdBy: `api-token:${admin.tokenId}`,
    });
    expect(Object.keys(byId.get(b.id) ?? {}).sort()).toEqual(
      [
        "createdAt",
        "createdBy",
        "displayPrefix",
        "expiresAt",
        "id",
        "label",
        "lastUsedAt",
        "revokedAt",
        "scopes",
      ].sort(),
    );
  });

  it("refuses a cursor it did not issue", async () => {
    const admin = await tenantWithAdminToken();
    await expectError(
      await send("/v1/tokens?cursor=bm90LWEtY3Vyc29y", bearer(admin.token)),
      400,
      "INVALID_REQUEST",
    );
  });
});

describe("the audit log", () => {
  it("records every create and revoke with the actor, id, prefix and scopes, and never the token or its digest", async () => {
    const admin = await tenantWithAdminToken();
    const created = await create(admin.token, { label: "audited", scopes: ["sites:read", "sites:write"] });
    await revoke(admin.token, created.id);
    await revoke(admin.token, created.id);

    const { results } = await env.DB.prepare(
      "SELECT tenant_id, actor, action, target, detail FROM audit_entries WHERE target = ? ORDER BY seq",
    )
      .bind(`token:${created.id}`)
      .all<{ tenant_id: string; actor: string; action: string; target: string; detail: string }>();
    expect(results.map((r) => r.action)).toEqual(["token.create", "token.revoke", "token.revoke"]);
    for (const row of results) {
      expect(row.tenant_id).toBe(admin.tenant);
      expect(row.actor).toBe(`api-token:${admin.tokenId}`);
      expect(JSON.parse(row.detail)).toMatchObject({
        id: created.id,
        prefix: created.displayPrefix,
        scopes: ["sites:read", "sites:write"],
      });
    }
    expect(JSON.parse(results[1]?.detail ?? "{}")).toMatchObject({ alreadyRevoked: false });
    expect(JSON.parse(results[2]?.detail ?? "{}")).toMatchObject({ alreadyRevoked: true });

    const everything = JSON.stringify(
      (await env.DB.prepare("SELECT * FROM audit_entries WHERE tenant_id = ?").bind(admin.tenant).all())
        .results,
    );
    expect(everything).not.toContain(created.token.slice(3));
    expect(everything).not.toContain(admin.token.slice(3));
    expect(everything).not.toContain(await sha256Hex(created.token));
    expect(everything).not.toMatch(/ms_[a-z2-7]{16,}/);
  });

  it("keeps the chain verifiable after token changes", async () => {
    const admin = await tenantWithAdminToken();
    await revoke(admin.token, (await create(admin.token, { label: "v", scopes: ["sites:read"] })).id);
    const keyring = await keyringFor(
      requireIdentity({ APP_PID: TEST_APP_PID, APP_PSK: TEST_APP_PSK }),
      KEY_PURPOSE.audit,
    );
    expect(await verifyChain(env.DB, keyring, tenantChain(admin.tenant as never))).toMatchObject({
      ok: true,
    });
  });
});

describe("the OpenAPI document", () => {
  it("describes the token routes", async () => {
    const response = await send("/v1/openapi.json");
    const doc = (await response.json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths["/v1/tokens"] ?? {}).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths["/v1/tokens/{token}"] ?? {})).toEqual(["delete"]);
  });
});

describe("issued outside the API", () => {
  it("a token issued directly into a tenant is managed like one issued through the API", async () => {
    const admin = await tenantWithAdminToken();
    const { record } = await issueApiToken(new D1ApiTokenStore(env.DB), {
      tenantId: admin.tenant as TenantShortId,
      scopes: ["sites:read"],
      label: "direct",
    });
    expect((await list(admin.token)).tokens.map((t) => t.id)).toContain(record.id);
    expect((await revoke(admin.token, record.id)).status).toBe(200);
  });
});
