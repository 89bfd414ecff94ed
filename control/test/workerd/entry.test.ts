/**
 * The deployed entry point (src/index.ts) end to end inside workerd: the route policy in front of the
 * routes, with API tokens stored hashed in D1; denials without a valid credential are counted for
 * operators, never appended to an audit chain.
 */

import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { issueApiToken } from "../../src/auth/index.ts";
import { D1ApiTokenStore } from "../../src/db/api-tokens.ts";
import worker from "../../src/index.ts";
import { newTenant, siteWithVersions } from "./helpers.ts";

const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} };

async function call(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return await worker.fetch(new Request(`http://control.test${path}`, { headers }), env, ctx);
}

const SECRET = ["entry", "test", "ci", "secret", "0123456789abcdef"].join("-");

async function denialCounts(): Promise<{ code: string; method: string; count: number }[]> {
  const response = await worker.fetch(
    new Request("http://control.test/v1/admin/denials", { headers: { "x-mini-sites-secret": SECRET } }),
    { ...env, CONTROL_SHARED_SECRET: SECRET },
    ctx,
  );
  return ((await response.json()) as { windows: { code: string; method: string; count: number }[] }).windows;
}

describe("the control Worker's entry point", () => {
  it("lets an API token list its own tenant's sites, and hides another tenant's site behind a 404", async () => {
    const mine = await newTenant();
    const theirs = await newTenant();
    const { site } = await siteWithVersions(mine, 1);
    const { site: other } = await siteWithVersions(theirs, 1);
    const { token } = await issueApiToken(new D1ApiTokenStore(env.DB), {
      tenantId: mine,
      scopes: ["sites:read"],
      label: "ci",
    });
    const list = await call("/v1/sites", { authorization: `Bearer ${token}` });
    expect(list.status).toBe(200);
    const body = (await list.json()) as { sites: { id: string }[] };
    expect(body.sites.map((s) => s.id)).toEqual([site.id]);
    const foreign = await call(`/v1/sites/${other.id}`, { authorization: `Bearer ${token}` });
    expect(foreign.status).toBe(404);
  });

  it("records when a token was last used, for the token list", async () => {
    const tenant = await newTenant();
    const { token, record } = await issueApiToken(new D1ApiTokenStore(env.DB), {
      tenantId: tenant,
      scopes: ["sites:read", "tokens:manage"],
      label: "ci",
    });
    expect((await call("/v1/sites", { authorization: `Bearer ${token}` })).status).toBe(200);
    let lastUsed: number | null = null;
    for (let i = 0; i < 50 && lastUsed === null; i++) {
      const row = await env.DB.prepare("SELECT last_used_at FROM api_tokens WHERE id = ?")
        .bind(record.id)
        .first<{ last_used_at: number | null }>();
      lastUsed = row?.last_used_at ?? null;
      if (lastUsed === null) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(lastUsed).not.toBeNull();
    const list = await call("/v1/tokens", { authorization: `Bearer ${token}` });
    const body = (await list.json()) as { tokens: { id: string; lastUsedAt: unknown }[] };
    expect(body.tokens.find((t) => t.id === record.id)?.lastUsedAt).not.toBeNull();
  });

  it("answers a wrong token 401 with a typed error, counts the denial for operators, and keeps no trace of the token", async () => {
    const forged = `ms_${"a".repeat(52)}`;
    const chainRows = async () =>
      (await env.DB.prepare("SELECT COUNT(*) AS n FROM audit_entries").first<{ n: number }>())?.n ?? 0;
    const before = await chainRows();
    const response = await call("/v1/sites", { authorization: `Bearer ${forged}` });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("AUTH_INVALID_TOKEN");
    expect(await chainRows()).toBe(before);
    const counts = await denialCounts();
    expect(
      counts.find((c) => c.code === "AUTH_INVALID_TOKEN:unknown" && c.method === "apiToken")?.count,
    ).toBeGreaterThan(0);
    expect(JSON.stringify(counts)).not.toContain(forged);
  });

  it("answers a request with no credential 401 and a revoked token 401", async () => {
    expect((await call("/v1/sites")).status).toBe(401);
    const store = new D1ApiTokenStore(env.DB);
    const tenant = await newTenant();
    const { token, record } = await issueApiToken(store, {
      tenantId: tenant,
      scopes: ["sites:read"],
      label: "x",
    });
    await store.revoke(tenant, record.id, Date.now());
    expect((await call("/v1/sites", { authorization: `Bearer ${token}` })).status).toBe(401);
  });

  it("refuses the CI shared secret when the deployment has none", async () => {
    const response = await call("/v1/sites", { "x-mini-sites-secret": "x".repeat(40) });
    expect(response.status).toBe(401);
  });
});
