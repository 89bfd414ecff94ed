/**
 * Reconcile at scale, inside workerd (DESIGN §3 Lifecycle; §6.9 blast radius): a tenant with 1,000
 * live sites, 10 of them drifted behind the product's back — 5 live Workers deleted, 5 Workers no row
 * knows — and exactly those are fixed: the 5 re-provisioned by jobs through the real Workflow binding,
 * the 5 unknown ones deleted only after two passes, never more per pass than the cap, every action
 * audited, and a failed listing changes nothing.
 */

import { env } from "cloudflare:test";
import { assetHash, type SiteId, type TenantShortId, tenantTag, workerNameFor } from "@mini-sites/core";
import { beforeAll, describe, expect, it } from "vitest";
import { InMemoryHostingProvider } from "../../src/hosting/memory.ts";
import { hostingError } from "../../src/hosting/provider.ts";
import { reconcilePass } from "../../src/lifecycle/reconcile.ts";
import { contentHash, newTenant } from "./helpers.ts";

const SITES = 1_000;
const hosting = new InMemoryHostingProvider();
const deps = { hosting: () => hosting };
let tenant: TenantShortId;
const siteIds: SiteId[] = [];

/** 1,000 sites, each with version 1 live, inserted in batches (as many statements as D1 allows per batch). */
async function seedSites(count: number): Promise<void> {
  const now = Date.now();
  for (let start = 0; start < count; start += 50) {
    const statements = [];
    for (let i = start; i < Math.min(count, start + 50); i++) {
      const id = `r${String(i).padStart(12, "0")}`.replace(
        /[0-9]/g,
        (d) => "abcdefghij"[Number(d)] as string,
      ) as SiteId;
      siteIds.push(id);
      statements.push(
        env.DB.prepare(
          "INSERT INTO sites (tenant_id, id, name, live_version, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?)",
        ).bind(tenant, id, `site ${i}`, now, now),
        env.DB.prepare(
          `INSERT INTO versions (tenant_id, site_id, number, content_hash, status, size_bytes, file_count, published_by, created_at, status_at)
           VALUES (?, ?, 1, ?, 'live', 1, 1, 'api-token:seed', ?, ?)`,
        ).bind(tenant, id, contentHash(i), now, now),
      );
    }
    await env.DB.batch(statements);
  }
}

const PAGE = new Uint8Array([0x3c]);
let pageHash = "";

async function createWorker(name: string) {
  pageHash ||= await assetHash("index.html", PAGE);
  const result = await hosting.createWorker({
    name,
    files: [{ path: "index.html", hash: pageHash, size: PAGE.length, contentType: "text/html" }],
    readFile: async () => PAGE,
    tags: [tenantTag(tenant), "site-reconcile"],
    assets: { notFoundHandling: "none" },
  });
  if (!result.ok) throw new Error(result.error.message);
}

async function present(): Promise<Set<string>> {
  const listed = await hosting.listByTag(tenantTag(tenant));
  if (!listed.ok) throw new Error(listed.error.message);
  return new Set(listed.value.map((w) => w.name));
}

const missing: string[] = [];
const orphans: string[] = [];

beforeAll(async () => {
  tenant = await newTenant();
  await seedSites(SITES);
  for (const site of siteIds) await createWorker(workerNameFor(site, 1));
  // Drift behind the product's back: five live Workers vanish, five Workers no row knows appear.
  for (const site of siteIds.slice(100, 105)) {
    const name = workerNameFor(site, 1);
    await hosting.delete(name);
    missing.push(name);
  }
  for (let i = 0; i < 5; i++) {
    const name = `s-zzzzzzzzzzzz${"abcde"[i]}-v1`;
    await createWorker(name);
    orphans.push(name);
  }
}, 120_000);

describe("a reconcile pass over 1,000 sites with 10 drifted", () => {
  it("fails safe: a listing Cloudflare cannot answer changes nothing", async () => {
    hosting.failNext("listByTag", hostingError("HOSTING_UNAVAILABLE", "injected outage"), 1);
    const report = await reconcilePass(env, deps, Date.now(), { fromStart: true, tenantsPerPass: 10_000 });
    expect(report.skipped).toContainEqual({ tenant, code: "HOSTING_UNAVAILABLE" });
    expect(report.reprovisioned).toEqual([]);
    expect(report.deleted).toEqual([]);
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM reconcile_orphans WHERE tenant_id = ?")
      .bind(tenant)
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
  });

  it("re-provisions exactly the missing live Workers, and only notes the unknown ones on the first pass", async () => {
    const report = await reconcilePass(env, deps, Date.now(), { fromStart: true, tenantsPerPass: 10_000 });
    expect([...report.reprovisioned].sort()).toEqual([...missing].sort());
    expect([...report.orphansSeen].sort()).toEqual([...orphans].sort());
    expect(report.deleted).toEqual([]);
    const jobs = await env.DB.prepare(
      "SELECT site_id, version, kind FROM jobs WHERE tenant_id = ? AND kind = 'reprovision'",
    )
      .bind(tenant)
      .all<{ site_id: string; version: number }>();
    expect(jobs.results.map((j) => workerNameFor(j.site_id as SiteId, j.version)).sort()).toEqual(
      [...missing].sort(),
    );
    // Nothing else was touched: 995 live Workers and the 5 unknown ones are all still there.
    expect((await present()).size).toBe(SITES - 5 + 5);
  }, 120_000);

  it("deletes the unknown Workers on the second pass, each audited, and nothing else", async () => {
    const report = await reconcilePass(env, deps, Date.now(), { fromStart: true, tenantsPerPass: 10_000 });
    expect([...report.deleted].sort()).toEqual([...orphans].sort());
    const now = await present();
    for (const name of orphans) expect(now.has(name)).toBe(false);
    for (const site of siteIds.filter((_, i) => i < 100 || i >= 105))
      expect(now.has(workerNameFor(site, 1))).toBe(true);
    const audited = await env.DB.prepare(
      "SELECT action, target FROM audit_entries WHERE tenant_id = ? AND action LIKE 'reconcile.%'",
    )
      .bind(tenant)
      .all<{ action: string; target: string }>();
    expect(
      audited.results
        .filter((a) => a.action === "reconcile.delete")
        .map((a) => a.target)
        .sort(),
    ).toEqual(orphans.map((o) => `worker:${o}`).sort());
    expect(audited.results.filter((a) => a.action === "reconcile.reprovision")).toHaveLength(missing.length);
  }, 120_000);

  it("never deletes more Workers per pass than its cap", async () => {
    const extra: string[] = [];
    for (let i = 0; i < 14; i++) {
      const name = `s-yyyyyyyyyyy${"abcdefghijklmn"[i]}a-v1`;
      await createWorker(name);
      extra.push(name);
    }
    const capped = { ...env, RECONCILE_MAX_DELETES: "10" };
    await reconcilePass(capped, deps, Date.now(), { fromStart: true, tenantsPerPass: 10_000 });
    const second = await reconcilePass(capped, deps, Date.now(), { fromStart: true, tenantsPerPass: 10_000 });
    expect(second.deleted).toHaveLength(10);
    expect(second.deferred).toBeGreaterThanOrEqual(4);
    const third = await reconcilePass(capped, deps, Date.now(), { fromStart: true, tenantsPerPass: 10_000 });
    expect(third.deleted).toHaveLength(4);
    const now = await present();
    for (const name of extra) expect(now.has(name)).toBe(false);
  }, 120_000);
});
