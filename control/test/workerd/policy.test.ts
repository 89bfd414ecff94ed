/**
 * The route policy as a whole (control/src/policy): every route has exactly one, the app refuses to
 * start without it, and the gate answers as the table says — from the attacker's side: the CI secret
 * on tenant routes, tokens of a tenant being purged, a flood of anonymous requests that must not touch
 * any audit chain, an authenticated refusal that must be audited.
 */

import { OpenAPIHono } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import { checkRoutesHavePolicies, createApp, handlerRoutes, OPENAPI_PATH } from "../../src/app/app.ts";
import type { AppEnv } from "../../src/app/context.ts";
import { checkPolicyTable, ROUTE_POLICIES } from "../../src/policy/table.ts";
import { as, expectError, newTenant, principalFor, testEnv } from "./helpers.ts";

// Assembled (and plainly fake) so a secret scan of the repository does not flag it.
const SECRET = ["policy", "test", "shared", "secret", "0123456789"].join("-");
const app = createApp();
const withSecret = { ...testEnv, CONTROL_SHARED_SECRET: SECRET };

const honoPath = (openapi: string) => openapi.replace(/\{([^}]+)\}/g, ":$1");

describe("one declarative policy per route", () => {
  it("covers every route the app answers and every operation of the OpenAPI document, and nothing else", async () => {
    const policies = new Set(ROUTE_POLICIES.map((p) => `${p.method} ${p.path}`));
    expect(new Set(handlerRoutes(app))).toEqual(policies);
    const doc = (await (await app.request(`http://control.test${OPENAPI_PATH}`, {}, testEnv)).json()) as {
      paths: Record<string, Record<string, { security?: unknown; description?: string }>>;
    };
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${honoPath(path)}`),
    );
    // Every route but the document itself is documented, each with the policy stated in words.
    expect(new Set([...documented, `GET ${OPENAPI_PATH}`])).toEqual(policies);
    for (const ops of Object.values(doc.paths))
      for (const op of Object.values(ops))
        expect(op.description).toMatch(/Who may call this|Public: no credential/);
  });

  it("refuses to build an app with a route that has no policy, or a policy with no route", () => {
    const extra = new OpenAPIHono<AppEnv>();
    extra.get("/v1/secret-backdoor", (c) => c.text("open"));
    expect(() => checkRoutesHavePolicies(extra, ROUTE_POLICIES)).toThrow(
      /routes without a policy.*secret-backdoor/,
    );
    expect(() =>
      checkRoutesHavePolicies(app, [
        ...ROUTE_POLICIES,
        {
          method: "GET",
          path: "/v1/ghost",
          allow: { public: true },
          object: "none",
          body: "none",
          licensed: false,
        },
      ]),
    ).toThrow(/policies without a route: GET \/v1\/ghost/);
  });

  it("refuses a table that mixes the tenant-less CI secret with tenant callers, or lets the macro reach a site by id", () => {
    expect(() =>
      checkPolicyTable([
        {
          method: "GET",
          path: "/v1/sites",
          allow: { sharedSecret: true, apiToken: "sites:read" },
          object: "none",
          body: "none",
          licensed: false,
        },
      ]),
    ).toThrow(/mixes the tenant-less CI secret/);
    expect(() =>
      checkPolicyTable([
        {
          method: "GET",
          path: "/v1/sites/:site",
          allow: { forgeMacro: "read" },
          object: "site",
          body: "none",
          licensed: false,
        },
      ]),
    ).toThrow(/lets the macro reach something other than its own binding/);
    expect(() =>
      checkPolicyTable([
        { method: "GET", path: "/v1/things", allow: {}, object: "none", body: "none", licensed: false },
      ]),
    ).toThrow(/allows nobody/);
  });
});

describe("the CI secret reaches deployment-wide routes only", () => {
  it("is refused with 403 on every tenant route, and answers the operators' denial counts", async () => {
    for (const policy of ROUTE_POLICIES) {
      if (policy.allow.public || policy.allow.sharedSecret) continue;
      const path = policy.path.replace(/:[a-z]+/g, "abcdefghijklm");
      const response = await app.request(
        `http://control.test${path}`,
        { method: policy.method, headers: { "x-mini-sites-secret": SECRET } },
        withSecret,
      );
      expect(response.status, `${policy.method} ${policy.path}`).toBe(403);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
        "PRINCIPAL_NOT_ALLOWED",
      );
    }
    const denials = await app.request(
      "http://control.test/v1/admin/denials",
      { headers: { "x-mini-sites-secret": SECRET } },
      withSecret,
    );
    expect(denials.status).toBe(200);
  });
});

describe("a tenant being purged", () => {
  it("stops its API tokens at once (401, as if revoked), whatever their scopes", async () => {
    const tenant = await newTenant();
    const request = as(principalFor(tenant));
    expect((await request("/v1/sites")).status).toBe(200);
    await testEnv.DB.prepare("UPDATE tenants SET status = 'purging' WHERE id = ?").bind(tenant).run();
    await expectError(await request("/v1/sites"), 401, "AUTH_INVALID_TOKEN");
    await expectError(await request("/v1/whoami"), 401, "AUTH_INVALID_TOKEN");
  });
});

describe("denials without a valid credential are counted, never appended to an audit chain", () => {
  it("leaves every chain untouched under a flood of anonymous and forged requests, and counts them", async () => {
    const chains = async () =>
      (await testEnv.DB.prepare("SELECT COUNT(*) AS n FROM audit_entries").first<{ n: number }>())?.n ?? 0;
    const before = await chains();
    const attempts: Record<string, string>[] = [
      {},
      { authorization: "Bearer not.a.jwt" },
      { authorization: `Bearer ms_${"a".repeat(52)}` },
      { authorization: "Basic dXNlcjpwYXNz" },
    ];
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        app.request("http://control.test/v1/sites", { headers: attempts[i % attempts.length] }, testEnv),
      ),
    );
    expect(await chains()).toBe(before);
  });

  it("audits a refusal of an authenticated caller in its tenant's chain (scope, kind)", async () => {
    const tenant = await newTenant();
    await expectError(
      await as(principalFor(tenant, ["tokens:manage"]))("/v1/sites"),
      403,
      "INSUFFICIENT_SCOPE",
    );
    const rows = (
      await testEnv.DB.prepare(
        "SELECT action, target, detail FROM audit_entries WHERE tenant_id = ? ORDER BY seq",
      )
        .bind(tenant)
        .all<{ action: string; target: string; detail: string }>()
    ).results;
    // Written after the response (waitUntil): allow it a moment.
    for (let i = 0; i < 50 && rows.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const after = (
      await testEnv.DB.prepare(
        "SELECT action, target, detail FROM audit_entries WHERE tenant_id = ? ORDER BY seq",
      )
        .bind(tenant)
        .all<{ action: string; target: string; detail: string }>()
    ).results;
    expect(after.at(-1)).toMatchObject({ action: "request.denied", target: "GET /v1/sites" });
    expect(JSON.parse(after.at(-1)?.detail ?? "{}")).toMatchObject({
      code: "INSUFFICIENT_SCOPE",
      kind: "apiToken",
    });
  });
});

describe("GET /v1/audit", () => {
  it("pages through the tenant's own entries with seq numbers and says the chain verifies; needs tenant:admin", async () => {
    const tenant = await newTenant();
    const admin = as(principalFor(tenant, ["tenant:admin", "tokens:manage"]));
    const created = await admin("/v1/tokens", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ label: "audited", scopes: ["tokens:manage"] }),
    });
    expect(created.status).toBe(201);
    const page = (await (await admin("/v1/audit?limit=1")).json()) as {
      entries: { seq: number; action: string }[];
      nextBefore: number | null;
      verification: { ok: boolean; headSeq: number; anchoredSeq: number | null };
    };
    expect(page.entries).toHaveLength(1);
    expect(page.entries[0]).toMatchObject({ action: "token.create" });
    expect(page.verification).toMatchObject({ ok: true });
    expect(page.verification.anchoredSeq).toBe(page.verification.headSeq);
    await expectError(await as(principalFor(tenant, ["sites:read"]))("/v1/audit"), 403, "INSUFFICIENT_SCOPE");
    // Another tenant's admin sees only its own chain.
    const other = (await (
      await as(principalFor(await newTenant(), ["tenant:admin"]))("/v1/audit")
    ).json()) as {
      entries: unknown[];
    };
    expect(JSON.stringify(other.entries)).not.toContain("audited");
  });
});

describe("GET /v1/whoami", () => {
  it("names the token's tenant, label and scopes", async () => {
    const tenant = await newTenant();
    const body = (await (await as(principalFor(tenant, ["sites:read"]))("/v1/whoami")).json()) as {
      tenant: { id: string };
      kind: string;
      scopes: string[];
      token: { label: string } | null;
    };
    expect(body).toMatchObject({ tenant: { id: tenant }, kind: "apiToken", scopes: ["sites:read"] });
    expect(body.token?.label).toMatch(/^test-/);
  });
});
