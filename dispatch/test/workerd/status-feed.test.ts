/**
 * `/__ms/status.json`, from the attacker's side, through the real dispatch Worker and a real KV
 * namespace written as the control Worker writes it (DESIGN §3: a mini-site that opted in reads its
 * tenant's monitor feed at a reserved same-origin path, grant-checked like every request).
 *
 * Invariants: no feed without a valid grant for this host's site; a version that did not opt in gets
 * the plain 404 of an unknown `/__ms/` path, even while another version of the site opted in; the
 * tenant is the verified grant's, never the request's, so one tenant never reads another's feed; only
 * GET and HEAD; a failing store is a typed 503 that carries nothing; and the answer is never cached.
 */

import { env } from "cloudflare:test";
import {
  EMPTY_FEED,
  feedKey,
  feedOptInKey,
  newSiteId,
  newTenantShortId,
  type SiteId,
  STATUS_FEED_PATH,
  type TenantShortId,
} from "@mini-sites/core";
import { describe, expect, it } from "vitest";
import type { DispatchEnv } from "../../src/index.ts";
import { SITE_FEED_CACHE_SECONDS, type SiteFeedStore, SiteFeeds } from "../../src/site-feeds.ts";
import {
  cookieHeader,
  expectSecurityHeaders,
  foreignKeyring,
  grantFor,
  grantOrigin,
  SAME_ORIGIN_FETCH,
  send,
  siteOrigin,
  testEnv,
} from "./helpers.ts";

const kv = env.SITE_FEEDS;

const feedOf = (name: string) =>
  JSON.stringify({
    monitors: [
      {
        id: "mon_aaaaaaaaaaaaaaaa",
        name,
        state: "up",
        stateChangedAt: null,
        latencyMs: 12,
        uptime: { day: 1, week: 1 },
        history: [],
      },
    ],
  });

interface World {
  readonly site: SiteId;
  readonly tenant: TenantShortId;
  readonly other: TenantShortId;
}

/**
 * A fresh site of a fresh tenant whose version 2 opted in and version 1 did not, a second tenant
 * with a feed of its own: what the control Worker would have written.
 */
async function world(): Promise<World> {
  const site = newSiteId();
  const tenant = newTenantShortId();
  const other = newTenantShortId();
  await kv.put(feedOptInKey(site, 2), "1");
  await kv.put(feedKey(tenant), feedOf("Ours"));
  await kv.put(feedKey(other), feedOf("Theirs"));
  return { site, tenant, other };
}

async function feedRequest(
  site: SiteId,
  grant: string | undefined,
  init: RequestInit & { path?: string } = {},
  environment: DispatchEnv = testEnv,
): Promise<Response> {
  const headers = { ...SAME_ORIGIN_FETCH, ...(grant === undefined ? {} : cookieHeader(grant)) };
  return send(
    `${siteOrigin(site)}${init.path ?? STATUS_FEED_PATH}`,
    { ...init, headers: { ...headers, ...(init.headers as Record<string, string> | undefined) } },
    environment,
  );
}

/** A refusal: the status and code expected, and not a byte of any tenant's feed. */
async function expectRefused(response: Response, status: number, code: string): Promise<string> {
  const body = await response.text();
  expect(response.status).toBe(status);
  expect(response.headers.get("x-mini-sites-error")).toBe(code);
  expect(body).not.toContain("monitors");
  expectSecurityHeaders(response);
  return body;
}

describe("an opted-in version with a valid grant", () => {
  it("gets its tenant's feed as JSON, never cached, with the security headers", async () => {
    const { site, tenant } = await world();
    const response = await feedRequest(site, await grantFor(site, { version: 2, tenantId: tenant }));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("no-store");
    expectSecurityHeaders(response);
    expect(await response.text()).toBe(feedOf("Ours"));
  });

  it("answers HEAD with the headers and no body", async () => {
    const { site, tenant } = await world();
    const grant = await grantFor(site, { version: 2, tenantId: tenant });
    const response = await feedRequest(site, grant, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("");
  });

  it("gets an empty feed when its tenant has no monitors", async () => {
    const { site } = await world();
    const lonely = newTenantShortId();
    const response = await feedRequest(site, await grantFor(site, { version: 2, tenantId: lonely }));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(EMPTY_FEED);
  });

  it("works on the grant-in-hostname fallback origin, where the other /__ms/ paths stay 404", async () => {
    const { site, tenant } = await world();
    const grant = await grantFor(site, { version: 2, tenantId: tenant });
    const feed = await send(`${grantOrigin(grant)}${STATUS_FEED_PATH}`, { headers: SAME_ORIGIN_FETCH });
    expect(feed.status).toBe(200);
    expect(await feed.text()).toBe(feedOf("Ours"));
    await expectRefused(
      await send(`${grantOrigin(grant)}/__ms/check`, { headers: SAME_ORIGIN_FETCH }),
      404,
      "NOT_FOUND",
    );
  });
});

describe("without a valid grant for this site, nothing", () => {
  it("refuses a request without a grant: GRANT_MISSING", async () => {
    const { site } = await world();
    await expectRefused(await feedRequest(site, undefined), 401, "GRANT_MISSING");
  });

  it("refuses an expired grant: GRANT_EXPIRED", async () => {
    const { site, tenant } = await world();
    const grant = await grantFor(site, {
      version: 2,
      tenantId: tenant,
      ttlSeconds: 60,
      now: Date.now() - 61_000,
    });
    await expectRefused(await feedRequest(site, grant), 401, "GRANT_EXPIRED");
  });

  it("refuses a tampered grant and one signed by another deployment", async () => {
    const { site, tenant } = await world();
    const grant = await grantFor(site, { version: 2, tenantId: tenant });
    const index = Math.floor(grant.length / 2);
    const tampered = grant.slice(0, index) + (grant[index] === "a" ? "b" : "a") + grant.slice(index + 1);
    const refused = await feedRequest(site, tampered);
    expect(refused.status).toBe(401);
    expect(["GRANT_MALFORMED", "GRANT_BAD_SIGNATURE", "GRANT_KEY_UNKNOWN"]).toContain(
      refused.headers.get("x-mini-sites-error"),
    );
    expect(await refused.text()).not.toContain("monitors");
    const foreign = await grantFor(site, { version: 2, tenantId: tenant, keyring: await foreignKeyring() });
    await expectRefused(await feedRequest(site, foreign), 401, "GRANT_KEY_UNKNOWN");
  });

  it("refuses another site's grant on this site's origin, even when that site opted in: GRANT_WRONG_SITE", async () => {
    const ours = await world();
    const theirs = await world();
    const theirGrant = await grantFor(theirs.site, { version: 2, tenantId: theirs.tenant });
    await expectRefused(await feedRequest(ours.site, theirGrant), 401, "GRANT_WRONG_SITE");
  });

  it("refuses a cross-site fetch of the feed, grant or not: CROSS_SITE_REQUEST_REFUSED", async () => {
    const { site, tenant } = await world();
    const grant = await grantFor(site, { version: 2, tenantId: tenant });
    const response = await feedRequest(site, grant, { headers: { "sec-fetch-site": "same-site" } });
    await expectRefused(response, 403, "CROSS_SITE_REQUEST_REFUSED");
  });
});

describe("a version that did not opt in", () => {
  it("gets the 404 of any unknown /__ms/ path while another version of the site opted in", async () => {
    const { site, tenant } = await world();
    const grant = await grantFor(site, { version: 1, tenantId: tenant });
    const feed = await feedRequest(site, grant);
    const unknown = await feedRequest(site, grant, { path: "/__ms/nothing-here" });
    const body = await expectRefused(feed, 404, "NOT_FOUND");
    expect(body).toBe(await unknown.text());
    expect([...feed.headers].sort()).toEqual([...unknown.headers].sort());
  });

  it("gets the same 404 whether or not its tenant has monitors", async () => {
    const { site, tenant } = await world();
    const empty = newTenantShortId();
    const withMonitors = await feedRequest(site, await grantFor(site, { version: 1, tenantId: tenant }));
    const without = await feedRequest(site, await grantFor(site, { version: 1, tenantId: empty }));
    expect(await expectRefused(withMonitors, 404, "NOT_FOUND")).toBe(
      await expectRefused(without, 404, "NOT_FOUND"),
    );
  });

  it("cannot reach the feed by another spelling of the path", async () => {
    const { site, tenant } = await world();
    const grant = await grantFor(site, { version: 2, tenantId: tenant });
    for (const path of [
      "/__MS/status.json",
      "/__ms/status.json/",
      "/__ms/Status.json",
      "/__ms//status.json",
    ]) {
      const response = await feedRequest(site, grant, { path });
      expect(response.status, path).toBe(404);
      expect(await response.text(), path).not.toContain("Ours");
    }
  });
});

describe("the tenant is the grant's, never the request's", () => {
  it("a grant of one tenant never yields another tenant's feed, whatever the request says", async () => {
    const { site, tenant, other } = await world();
    const grant = await grantFor(site, { version: 2, tenantId: tenant });
    const response = await feedRequest(site, grant, {
      path: `${STATUS_FEED_PATH}?tenant=${other}&tenantId=${other}`,
      headers: { "x-mini-sites-tenant": other, cookie: `__Host-ms=${grant}; tenant=${other}` },
    });
    expect(response.status).toBe(200);
    const body = await response.text();
    expect(body).toBe(feedOf("Ours"));
    expect(body).not.toContain("Theirs");
  });

  it("the site's bytes cannot widen it: a grant naming the other tenant reads only that tenant's feed", async () => {
    const { site, other } = await world();
    const response = await feedRequest(site, await grantFor(site, { version: 2, tenantId: other }));
    const body = await response.text();
    expect(body).toBe(feedOf("Theirs"));
    expect(body).not.toContain("Ours");
  });
});

describe("methods, failures and configuration", () => {
  it("refuses every method but GET and HEAD with 405", async () => {
    const { site, tenant } = await world();
    const grant = await grantFor(site, { version: 2, tenantId: tenant });
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
      const response = await feedRequest(site, grant, { method });
      expect(response.status, method).toBe(405);
      expect(response.headers.get("allow")).toBe("GET, HEAD");
      expect(await response.text()).not.toContain("Ours");
    }
  });

  it("answers 503 STATUS_FEED_UNAVAILABLE when the store fails, carrying nothing, and reads again next time", async () => {
    const { site, tenant } = await world();
    let failing = "optin";
    const flaky: SiteFeedStore = {
      get: async (key, options) => {
        if (key.startsWith(failing)) throw new Error("KV GET failed: 503 Service Unavailable");
        return kv.get(key, options);
      },
    };
    const environment = { ...testEnv, SITE_FEEDS: flaky } as DispatchEnv;
    const grant = await grantFor(site, { version: 2, tenantId: tenant });
    const first = await feedRequest(site, grant, {}, environment);
    await expectRefused(first, 503, "STATUS_FEED_UNAVAILABLE");
    failing = "feed";
    await expectRefused(await feedRequest(site, grant, {}, environment), 503, "STATUS_FEED_UNAVAILABLE");
    failing = "none";
    const recovered = await feedRequest(site, grant, {}, environment);
    expect(recovered.status).toBe(200);
    expect(await recovered.text()).toBe(feedOf("Ours"));
  });

  it("has no status feed without the binding, and says so on /.well-known/mini-sites", async () => {
    const { site, tenant } = await world();
    const { SITE_FEEDS: _unbound, ...environment } = { ...testEnv };
    const grant = await grantFor(site, { version: 2, tenantId: tenant });
    await expectRefused(await feedRequest(site, grant, {}, environment as DispatchEnv), 404, "NOT_FOUND");
    const report = await send(
      "http://gw.localhost:8787/.well-known/mini-sites",
      {},
      environment as DispatchEnv,
    );
    expect(await report.json()).toMatchObject({ config: { siteFeeds: "missing" } });
    const bound = await send("http://gw.localhost:8787/.well-known/mini-sites");
    expect(await bound.json()).toMatchObject({ config: { siteFeeds: "bound" } });
  });

  it("keeps a feed per isolate for SITE_FEED_CACHE_SECONDS, then reads the new copy", async () => {
    const { site, tenant } = await world();
    const feeds = new SiteFeeds(kv);
    const claims = { siteId: site, version: 2, tenantId: tenant, expiresAt: 0 } as Parameters<
      SiteFeeds["feedFor"]
    >[1];
    expect(await feeds.feedFor(site, claims, 1_000)).toBe(feedOf("Ours"));
    await kv.put(feedKey(tenant), feedOf("Ours, later"));
    expect(await feeds.feedFor(site, claims, 1_000 + SITE_FEED_CACHE_SECONDS * 1000 - 1)).toBe(
      feedOf("Ours"),
    );
    expect(await feeds.feedFor(site, claims, 1_000 + SITE_FEED_CACHE_SECONDS * 1000)).toBe(
      feedOf("Ours, later"),
    );
  });
});
