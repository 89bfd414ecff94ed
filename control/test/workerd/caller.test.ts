/**
 * The seam between control/src/auth/ and the routes: a verified principal becomes a tenant-scoped
 * caller, API token records live in D1 as digests only, and a credential without a tenant (the CI
 * shared secret) cannot reach tenant-scoped routes.
 */

import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app.ts";
import { callerFor } from "../../src/app/caller.ts";
import { createApiToken } from "../../src/auth/api-tokens.ts";
import { D1ApiTokenStore } from "../../src/db/api-tokens.ts";
import { getTenant } from "../../src/db/tenants.ts";
import { expectError, newTenant, testEnv } from "./helpers.ts";

describe("callerFor", () => {
  it("scopes an API token principal to the tenant it was issued in", async () => {
    const tenant = await newTenant();
    const caller = await callerFor(testEnv.DB, {
      kind: "apiToken",
      tenantId: tenant,
      tokenId: "tok_abcdefghijklmnop",
      scopes: ["sites:read"],
    });
    expect(caller).toEqual({
      kind: "api-token",
      tenantId: tenant,
      actor: "api-token:tok_abcdefghijklmnop",
      scopes: ["sites:read"],
    });
  });

  it("answers 403 FORBIDDEN to the shared secret on a tenant-scoped route", async () => {
    expect(await callerFor(testEnv.DB, { kind: "sharedSecret" })).toBeUndefined();
    const app = createApp({
      authenticate: async (c, next) => {
        c.set("principal", { kind: "sharedSecret" });
        await next();
      },
    });
    await expectError(await app.request("http://control.test/v1/sites", {}, testEnv), 403, "FORBIDDEN");
  });
});

describe("D1ApiTokenStore", () => {
  it("keeps only the digest, finds a token by it, and revokes only within the token's tenant", async () => {
    const tenant = await newTenant();
    const store = new D1ApiTokenStore(testEnv.DB);
    const { token, record } = await createApiToken({ tenantId: tenant, scopes: ["sites:read"], label: "ci" });
    await store.insert(record);
    const row = JSON.stringify(
      await testEnv.DB.prepare("SELECT * FROM api_tokens WHERE id = ?").bind(record.id).first(),
    );
    expect(row).not.toContain(token);
    expect(await store.findByHash(record.hash)).toMatchObject({
      id: record.id,
      tenantId: tenant,
      scopes: ["sites:read"],
    });
    expect(await store.revoke(await newTenant(), record.id, 5)).toBe(false);
    expect((await store.findByHash(record.hash))?.revokedAt).toBeUndefined();
    expect(await store.revoke(tenant, record.id, 5)).toBe(true);
    expect((await store.findByHash(record.hash))?.revokedAt).toBe(5);
    expect(await getTenant(testEnv.DB, tenant)).toBeDefined();
  });
});
