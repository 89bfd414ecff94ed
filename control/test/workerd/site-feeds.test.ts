/**
 * The monitor feed copy the gateway serves at `/__ms/status.json` (control/src/site-feeds.ts), with
 * the real D1, the real KV namespace and the production app: written after every cron pass that
 * checked the tenant's monitors and after a monitor is added or removed; exactly the Service status
 * macro's board (no URL, nothing of another tenant); a failed KV write never fails the pass or the
 * API call and is repaired by reconcile; erasure and site deletion leave no feed and no opt-in behind.
 */

import { env } from "cloudflare:test";
import { feedKey, feedOptInKey, type SiteId, type TenantShortId } from "@mini-sites/core";
import { describe, expect, it } from "vitest";
import type { ControlEnv, SiteFeedStore } from "../../src/env.ts";
import { InMemoryHostingProvider } from "../../src/hosting/memory.ts";
import { eraseTenant } from "../../src/lifecycle/erase.ts";
import { reconcilePass } from "../../src/lifecycle/reconcile.ts";
import { checkDueMonitors } from "../../src/monitors/checker.ts";
import { tenantFeed } from "../../src/monitors/feed.ts";
import { deleteTenantSite } from "../../src/publish/sites.ts";
import { resyncTenantFeeds } from "../../src/site-feeds.ts";
import { as, newTenant, principalFor, siteWithVersions } from "./helpers.ts";

const testEnv = env as unknown as ControlEnv;
const kv = env.SITE_FEEDS as SiteFeedStore;
const JSON_HEADERS = { "content-type": "application/json" };

/** The real namespace, with writes (put and delete) failing while `failing.on` is true. */
function failingWrites(): { store: SiteFeedStore; failing: { on: boolean } } {
  const failing = { on: true };
  const refuse = async () => {
    if (failing.on) throw new Error("KV PUT failed: 503 Service Unavailable");
  };
  const store: SiteFeedStore = {
    get: (key, options) => kv.get(key, options),
    list: (options) => kv.list(options),
    put: async (key, value) => {
      await refuse();
      await kv.put(key, value);
    },
    delete: async (key) => {
      await refuse();
      await kv.delete(key);
    },
  };
  return { store, failing };
}

const admin = (tenant: TenantShortId, environment: ControlEnv = testEnv) =>
  as(principalFor(tenant, ["tenant:admin"]), environment);

async function addMonitor(
  tenant: TenantShortId,
  name: string,
  url: string,
  environment: ControlEnv = testEnv,
): Promise<Response> {
  return admin(tenant, environment)("/v1/monitors", {
    method: "POST",
    headers: JSON_HEADERS,
    body: JSON.stringify({ name, url }),
  });
}

async function feedOf(tenant: TenantShortId): Promise<{ monitors: Record<string, unknown>[] } | null> {
  const text = await kv.get(feedKey(tenant), { type: "text" });
  return text === null ? null : JSON.parse(text);
}

/** A version row published with `statusFeed`, as the publish pipeline stores it. */
async function insertRawVersion(tenant: TenantShortId, site: SiteId, number: number, status: string) {
  await testEnv.DB.prepare(
    `INSERT INTO versions (tenant_id, site_id, number, content_hash, status, size_bytes, file_count,
       published_by, created_at, status_at, status_feed)
     VALUES (?, ?, ?, ?, ?, 1, 1, 'test', 0, 0, 1)`,
  )
    .bind(tenant, site, number, String(number).repeat(64).slice(0, 64), status)
    .run();
}

/** Leaves other tenants' due monitors (other test files share the database) for later. */
async function onlyDue(tenant: TenantShortId, clock: number): Promise<void> {
  await testEnv.DB.prepare(
    "UPDATE monitors SET next_check_at = next_check_at + 31536000000 WHERE tenant_id <> ? AND next_check_at < ?",
  )
    .bind(tenant, clock + 1)
    .run();
}

describe("the feed copy follows the tenant's monitors", () => {
  it("is written when a monitor is added and removed, and holds no URL", async () => {
    const tenant = await newTenant();
    expect(await feedOf(tenant)).toBeNull();
    const created = await addMonitor(
      tenant,
      "Orders",
      "https://orders.internal.example.com/health?key=s3cret",
    );
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };

    const feed = await feedOf(tenant);
    expect(feed?.monitors).toEqual([expect.objectContaining({ id, name: "Orders", state: "unknown" })]);
    const text = (await kv.get(feedKey(tenant), { type: "text" })) ?? "";
    expect(text).not.toContain("orders.internal.example.com");
    expect(text).not.toContain("s3cret");
    expect(Object.keys(feed?.monitors[0] ?? {})).not.toEqual(expect.arrayContaining(["url"]));

    const removed = await admin(tenant)(`/v1/monitors/${id}`, { method: "DELETE" });
    expect(removed.status).toBe(200);
    expect(await feedOf(tenant)).toBeNull();
  });

  it("is the Service status macro's board (one serializer), with exactly its fields", async () => {
    const tenant = await newTenant();
    await addMonitor(tenant, "Billing", "https://billing.example.com/");
    const now = Date.now();
    expect(await kv.get(feedKey(tenant), { type: "text" })).toBe(
      JSON.stringify(await tenantFeed(testEnv.DB, tenant, now)),
    );
    expect(Object.keys((await feedOf(tenant))?.monitors[0] ?? {}).sort()).toEqual(
      ["history", "id", "latencyMs", "name", "state", "stateChangedAt", "uptime"].sort(),
    );
  });

  it("is rewritten after a cron pass that checked the tenant's monitors, with the new state", async () => {
    const tenant = await newTenant();
    const other = await newTenant();
    await addMonitor(tenant, "Svc", "https://svc.example.com/health");
    await addMonitor(other, "Theirs", "https://theirs.example.com/health");
    const fetch = async (request: Request) =>
      new Response(null, { status: request.url.startsWith("https://svc.") ? 503 : 200 });
    const clock = Date.now() + 1000;
    await onlyDue(tenant, clock);
    const pass = await checkDueMonitors(testEnv, { fetch, now: () => clock });
    expect(pass.checked).toBe(1);

    const feed = await feedOf(tenant);
    expect(feed?.monitors).toEqual([
      expect.objectContaining({
        name: "Svc",
        state: "down",
        history: [expect.objectContaining({ ok: false })],
      }),
    ]);
    // The other tenant's monitor was not checked: its copy still says what it said, and neither copy
    // names the other's monitor.
    expect((await feedOf(other))?.monitors).toEqual([
      expect.objectContaining({ name: "Theirs", state: "unknown" }),
    ]);
    expect(JSON.stringify(feed)).not.toContain("Theirs");
  });

  it("never fails a cron pass or an API call when KV refuses the write; reconcile repairs the copy", async () => {
    const tenant = await newTenant();
    const { store, failing } = failingWrites();
    const broken = { ...testEnv, SITE_FEEDS: store };
    const created = await addMonitor(tenant, "Flaky", "https://flaky.example.com/", broken);
    expect(created.status).toBe(201);
    expect(await feedOf(tenant)).toBeNull();

    const clock = Date.now() + 1000;
    await onlyDue(tenant, clock);
    const pass = await checkDueMonitors(broken, { fetch: async () => new Response("ok"), now: () => clock });
    expect(pass).toEqual({ checked: 1, changed: 1 });
    expect(await feedOf(tenant)).toBeNull();

    failing.on = false;
    const hosting = new InMemoryHostingProvider();
    const report = await reconcilePass(broken, { hosting: () => hosting }, Date.now(), {
      fromStart: true,
      tenantsPerPass: 100_000,
    });
    expect(report.feedsRepaired).toContain(tenant);
    expect((await feedOf(tenant))?.monitors).toEqual([
      expect.objectContaining({ name: "Flaky", state: "up" }),
    ]);
  });
});

describe("opt-in keys", () => {
  it("reconcile writes the opt-in of a live version that opted in and lost its key, and no other", async () => {
    const tenant = await newTenant();
    const { site } = await siteWithVersions(tenant, 2, { live: 2 });
    await insertRawVersion(tenant, site.id, 3, "staging");
    // Version 2 is live without the opt-in, version 3 opted in but is not live: nothing to write.
    expect(await resyncTenantFeeds(kv, testEnv.DB, tenant, Date.now())).toEqual({
      feed: "unchanged",
      optInsRepaired: 0,
    });
    expect(await kv.get(feedOptInKey(site.id, 2), { type: "text" })).toBeNull();
    expect(await kv.get(feedOptInKey(site.id, 3), { type: "text" })).toBeNull();

    const { site: opted } = await siteWithVersions(tenant, 0);
    await insertRawVersion(tenant, opted.id, 1, "live");
    await testEnv.DB.prepare("UPDATE sites SET live_version = 1 WHERE id = ?").bind(opted.id).run();
    expect(await resyncTenantFeeds(kv, testEnv.DB, tenant, Date.now())).toEqual({
      feed: "unchanged",
      optInsRepaired: 1,
    });
    expect(await kv.get(feedOptInKey(opted.id, 1), { type: "text" })).toBe("1");
    expect((await resyncTenantFeeds(kv, testEnv.DB, tenant, Date.now())).optInsRepaired).toBe(0);
  });

  it("refuses to change a version's choice once it is stored", async () => {
    const tenant = await newTenant();
    const { site } = await siteWithVersions(tenant, 1);
    await expect(
      testEnv.DB.prepare("UPDATE versions SET status_feed = 1 WHERE site_id = ?").bind(site.id).run(),
    ).rejects.toThrow(/VERSION_IMMUTABLE/);
  });
});

describe("nothing is left behind", () => {
  it("deleting a site deletes its opt-in keys, and only its own", async () => {
    const tenant = await newTenant();
    const { site } = await siteWithVersions(tenant, 1, { live: 1 });
    const { site: kept } = await siteWithVersions(tenant, 1, { live: 1 });
    await kv.put(feedOptInKey(site.id, 1), "1");
    await kv.put(feedOptInKey(site.id, 7), "1");
    await kv.put(feedOptInKey(kept.id, 1), "1");
    const hosting = new InMemoryHostingProvider();
    await deleteTenantSite(testEnv, { hosting: () => hosting }, { tenant, actor: "test" }, site);
    expect(await kv.get(feedOptInKey(site.id, 1), { type: "text" })).toBeNull();
    expect(await kv.get(feedOptInKey(site.id, 7), { type: "text" })).toBeNull();
    expect(await kv.get(feedOptInKey(kept.id, 1), { type: "text" })).toBe("1");
  });

  it("erasing a tenant deletes its feed and its sites' opt-ins, and stays pending until it could", async () => {
    const tenant = await newTenant();
    const other = await newTenant();
    await addMonitor(tenant, "Gone soon", "https://gone.example.com/");
    await addMonitor(other, "Stays", "https://stays.example.com/");
    const { site } = await siteWithVersions(tenant, 1, { live: 1 });
    await kv.put(feedOptInKey(site.id, 1), "1");
    const { store, failing } = failingWrites();
    const hosting = new InMemoryHostingProvider();

    const pending = await eraseTenant({ ...testEnv, SITE_FEEDS: store }, tenant, "test:uninstall", {
      hosting: () => hosting,
    });
    expect(pending).toMatchObject({ state: "pending", statusFeeds: "pending" });
    expect(await feedOf(tenant)).not.toBeNull();

    failing.on = false;
    const done = await eraseTenant({ ...testEnv, SITE_FEEDS: store }, tenant, "test:uninstall", {
      hosting: () => hosting,
    });
    expect(done).toMatchObject({ state: "deleted", statusFeeds: "deleted" });
    expect(await feedOf(tenant)).toBeNull();
    expect(await kv.get(feedOptInKey(site.id, 1), { type: "text" })).toBeNull();
    expect((await feedOf(other))?.monitors).toEqual([expect.objectContaining({ name: "Stays" })]);
  });
});
