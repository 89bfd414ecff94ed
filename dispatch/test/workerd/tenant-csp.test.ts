/**
 * A tenant's CSP allow-lists reach its sites, and only its sites, through the real dispatch Worker and
 * a real KV namespace (DESIGN §3 Serve: "network calls leave the site only to hosts the tenant
 * allows"). What is stored is distrusted: an entry that would widen or break the policy is dropped,
 * a value not in the format gives the deployment's policy, and a store that fails gives the fail-safe
 * policy — never anything wider. The per-isolate cache is driven by an injected clock.
 */

import { env } from "cloudflare:test";
import { encodeTenantAllowLists, newTenantShortId, type TenantShortId } from "@mini-sites/core";
import { describe, expect, it } from "vitest";
import { DEFAULT_TENANT_CSP_CACHE_SECONDS, type GatewayConfig, readConfig } from "../../src/config.ts";
import type { DispatchEnv } from "../../src/index.ts";
import { FAILED_READ_CACHE_MS, type TenantCspStore, TenantCsps } from "../../src/tenant-csp.ts";
import { SITE_A } from "./fixtures.ts";
import {
  cookieHeader,
  FRAME_NAVIGATION,
  grantFor,
  SAME_ORIGIN_FETCH,
  send,
  siteOrigin,
  testEnv,
} from "./helpers.ts";

const kv = env.TENANT_CSP;

function configOf(environment: DispatchEnv): GatewayConfig {
  const state = readConfig(environment);
  if (!state.ok) throw new Error(state.message);
  return state.config;
}

/** The CSP of SITE_A's bytes for a viewer whose grant names `tenant`. */
async function servedCsp(tenant: TenantShortId, environment: DispatchEnv = testEnv): Promise<string> {
  const response = await send(
    `${siteOrigin(SITE_A)}/assets/app.js`,
    { headers: { ...cookieHeader(await grantFor(SITE_A, { tenantId: tenant })), ...SAME_ORIGIN_FETCH } },
    environment,
  );
  expect(response.status).toBe(200);
  await response.text();
  return response.headers.get("content-security-policy") ?? "";
}

/** The sources of one directive, e.g. `connect-src` → ["'self'", "https://api.example.com"]. */
function directive(csp: string, name: string): string[] {
  const found = csp.split("; ").find((part) => part.startsWith(`${name} `));
  return found?.split(" ").slice(1) ?? [];
}

/** A policy has exactly the deployment's directives, each once, none emptied or added. */
function expectWellFormed(csp: string, reference: string): void {
  const names = (text: string) => text.split("; ").map((part) => part.split(" ")[0]);
  expect(names(csp)).toEqual(names(reference));
  expect(csp).not.toMatch(/[,\n\r]/);
}

async function store(tenant: TenantShortId, value: string): Promise<void> {
  await kv.put(tenant, value);
}

describe("a site's bytes carry its own tenant's allow-lists", () => {
  it("adds the tenant's CDN sources to script, style, image and font sources, and its hosts to connect-src", async () => {
    const tenant = newTenantShortId();
    await store(
      tenant,
      encodeTenantAllowLists({
        cdn: ["https://cdn.tenant-a.example"],
        connect: ["https://api.tenant-a.example"],
      }),
    );
    const csp = await servedCsp(tenant);
    for (const name of ["script-src", "style-src", "img-src", "font-src"])
      expect(directive(csp, name), name).toContain("https://cdn.tenant-a.example");
    expect(directive(csp, "connect-src")).toEqual(["'self'", "https://api.tenant-a.example"]);
    expect(directive(csp, "script-src")).toContain("https://cdn.jsdelivr.net");
    expectWellFormed(csp, configOf(testEnv).csp);
  });

  it("never shows one tenant's sources on a site viewed with another tenant's grant", async () => {
    const [a, b] = [newTenantShortId(), newTenantShortId()];
    await store(
      a,
      encodeTenantAllowLists({ cdn: ["https://cdn.only-a.example"], connect: ["wss://only-a.example"] }),
    );
    await store(b, encodeTenantAllowLists({ cdn: ["https://cdn.only-b.example"], connect: [] }));
    const forA = await servedCsp(a);
    const forB = await servedCsp(b);
    expect(forA).toContain("https://cdn.only-a.example");
    expect(forA).not.toContain("only-b");
    expect(forB).toContain("https://cdn.only-b.example");
    expect(forB).not.toContain("only-a");
  });

  it("applies to HTML documents too, where the bootstrap script is injected", async () => {
    const tenant = newTenantShortId();
    await store(tenant, encodeTenantAllowLists({ cdn: [], connect: ["https://api.html.example"] }));
    const response = await send(`${siteOrigin(SITE_A)}/`, {
      headers: { ...cookieHeader(await grantFor(SITE_A, { tenantId: tenant })), ...FRAME_NAVIGATION },
    });
    expect(await response.text()).toContain("data-mini-sites-bootstrap");
    expect(directive(response.headers.get("content-security-policy") ?? "", "connect-src")).toContain(
      "https://api.html.example",
    );
  });

  it("gives the deployment's policy to a tenant with no stored lists", async () => {
    expect(await servedCsp(newTenantShortId())).toBe(configOf(testEnv).csp);
  });

  it("adds the tenant's hosts on top of the deployment's own connect-src sources", async () => {
    const environment: DispatchEnv = { ...testEnv, CONNECT_ALLOW_LIST: "https://deployment.example" };
    const tenant = newTenantShortId();
    await store(tenant, encodeTenantAllowLists({ cdn: [], connect: ["https://api.mine.example"] }));
    expect(directive(await servedCsp(tenant, environment), "connect-src")).toEqual([
      "'self'",
      "https://deployment.example",
      "https://api.mine.example",
    ]);
  });
});

describe("a stored value is distrusted", () => {
  const hostile = [
    "https://a.com; script-src *",
    "https://a.example.com; script-src *",
    "*",
    "'unsafe-hashes'",
    "'unsafe-eval'",
    "'self'",
    "http://plain.example.com",
    "data:",
    "blob:",
    "https:",
    "https://*",
    "https://*.com",
    "https://ok.example.com,https://evil.example.com",
    "https://ok.example.com https://evil.example.com",
    "https://ok.example.com\nscript-src *",
    "HTTPS://UPPER.example.com",
  ];

  it("drops every entry that would widen or break the policy and keeps the good one", async () => {
    const tenant = newTenantShortId();
    await store(
      tenant,
      JSON.stringify({
        v: 1,
        cdn: [...hostile, "https://good.example.com"],
        connect: [...hostile, 42, null],
      }),
    );
    const csp = await servedCsp(tenant);
    const reference = configOf(testEnv);
    expectWellFormed(csp, reference.csp);
    expect(directive(csp, "script-src")).toEqual([
      ...directive(reference.csp, "script-src"),
      "https://good.example.com",
    ]);
    expect(directive(csp, "connect-src")).toEqual(["'self'"]);
    for (const bad of [
      "script-src *",
      "'unsafe-hashes'",
      "http://plain",
      "evil.example.com",
      "UPPER",
      "*.com",
    ])
      expect(csp, bad).not.toContain(bad);
  });

  it("ignores a value that is oversized, not JSON, of another format version, or a list over the cap", async () => {
    const reference = configOf(testEnv).csp;
    const long = Array.from({ length: 33 }, (_, i) => `https://c${i}.example.com`);
    const values = [
      JSON.stringify({ v: 1, cdn: ["https://fine.example.com"], connect: [], pad: "x".repeat(20_000) }),
      "{not json",
      JSON.stringify({ v: 2, cdn: ["https://future.example.com"], connect: [] }),
      JSON.stringify(["https://array.example.com"]),
      JSON.stringify({ v: 1, cdn: long, connect: [] }),
    ];
    for (const value of values) {
      const tenant = newTenantShortId();
      await store(tenant, value);
      expect(await servedCsp(tenant), value.slice(0, 60)).toBe(reference);
    }
  });
});

describe("when the store cannot answer, the policy is the fail-safe one, never wider", () => {
  const failing: TenantCspStore = {
    get: async () => {
      throw new Error("KV GET failed: 503 Service Unavailable");
    },
  };

  it("serves the deployment's CDN list and connect-src 'self' only when a read fails", async () => {
    const environment = {
      ...testEnv,
      CONNECT_ALLOW_LIST: "https://deployment.example",
      TENANT_CSP: failing,
    } as DispatchEnv;
    const csp = await servedCsp(newTenantShortId(), environment);
    expect(directive(csp, "connect-src")).toEqual(["'self'"]);
    expect(directive(csp, "script-src")).toContain("https://cdn.jsdelivr.net");
    expectWellFormed(csp, configOf(testEnv).csp);
  });

  it("serves the fail-safe policy when no namespace is bound, and says so on /.well-known", async () => {
    const { TENANT_CSP: _unbound, ...environment } = { ...testEnv };
    const csp = await servedCsp(newTenantShortId(), environment as DispatchEnv);
    expect(directive(csp, "connect-src")).toEqual(["'self'"]);
    const report = await send(
      "http://gw.localhost:8787/.well-known/mini-sites",
      {},
      environment as DispatchEnv,
    );
    expect(await report.json()).toMatchObject({ config: { tenantCsp: "missing" } });
  });

  it("reads again soon after a failure: the failure is kept only briefly", async () => {
    const tenant = newTenantShortId();
    await store(tenant, encodeTenantAllowLists({ cdn: [], connect: ["https://api.back.example"] }));
    let fail = true;
    const flaky: TenantCspStore = {
      get: (key, options) => (fail ? failing.get(key, options) : kv.get(key, options)),
    };
    const csps = new TenantCsps(configOf(testEnv), flaky);
    expect(directive(await csps.cspFor(tenant, 0), "connect-src")).toEqual(["'self'"]);
    fail = false;
    expect(directive(await csps.cspFor(tenant, FAILED_READ_CACHE_MS - 1), "connect-src")).toEqual(["'self'"]);
    expect(directive(await csps.cspFor(tenant, FAILED_READ_CACHE_MS), "connect-src")).toContain(
      "https://api.back.example",
    );
  });
});

describe("the per-isolate cache", () => {
  /** The real namespace, with its reads counted. */
  function counted(): { store: TenantCspStore; reads: () => number } {
    let reads = 0;
    return {
      store: {
        get: (key, options) => {
          reads++;
          return kv.get(key, options);
        },
      },
      reads: () => reads,
    };
  }

  it("reads KV once per tenant per TTL: every other request is a lookup of the finished header", async () => {
    const tenant = newTenantShortId();
    await store(tenant, encodeTenantAllowLists({ cdn: ["https://cdn.hot.example"], connect: [] }));
    const { store: reader, reads } = counted();
    const csps = new TenantCsps(configOf(testEnv), reader);
    const first = await csps.cspFor(tenant, 1_000);
    for (let i = 0; i < 100; i++) expect(csps.cspFor(tenant, 1_000 + i * 100)).toBe(first);
    expect(reads()).toBe(1);
  });

  it("picks up a changed allow-list once the TTL has passed, and not before", async () => {
    const tenant = newTenantShortId();
    await store(tenant, encodeTenantAllowLists({ cdn: [], connect: ["https://old.example.com"] }));
    const csps = new TenantCsps(configOf(testEnv), kv);
    const ttl = DEFAULT_TENANT_CSP_CACHE_SECONDS * 1000;
    expect(await csps.cspFor(tenant, 0)).toContain("https://old.example.com");
    await store(tenant, encodeTenantAllowLists({ cdn: [], connect: ["https://new.example.com"] }));
    expect(await csps.cspFor(tenant, ttl - 1)).toContain("https://old.example.com");
    const after = await csps.cspFor(tenant, ttl);
    expect(after).toContain("https://new.example.com");
    expect(after).not.toContain("https://old.example.com");
    await kv.delete(tenant);
    expect(await csps.cspFor(tenant, 2 * ttl)).toBe(configOf(testEnv).csp);
  });

  it("keeps at most its capacity, dropping the least recently used tenant", async () => {
    const [a, b, c] = [newTenantShortId(), newTenantShortId(), newTenantShortId()];
    const { store: reader, reads } = counted();
    const csps = new TenantCsps(configOf(testEnv), reader, { capacity: 2 });
    await csps.cspFor(a, 0);
    await csps.cspFor(b, 0);
    await csps.cspFor(a, 1); // a is now the most recent
    await csps.cspFor(c, 2); // b goes
    expect(csps.size).toBe(2);
    expect(reads()).toBe(3);
    expect(typeof csps.cspFor(a, 3)).toBe("string");
    await csps.cspFor(b, 3);
    expect(reads()).toBe(4);
  });

  it("takes its TTL from TENANT_CSP_CACHE_SECONDS, and the default for a value it cannot use", () => {
    const ttl = (value: string | undefined) =>
      configOf({ ...testEnv, TENANT_CSP_CACHE_SECONDS: value }).tenantCspCacheSeconds;
    expect(ttl(undefined)).toBe(30);
    expect(ttl("0")).toBe(0);
    expect(ttl("60")).toBe(60);
    for (const bad of ["-1", "1.5", "ten", "301", ""]) expect(ttl(bad), bad).toBe(30);
  });
});
