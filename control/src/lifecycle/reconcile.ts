/**
 * Reconcile (DESIGN §3 Lifecycle): keeps the namespace in step with D1 without ever serving what should
 * be gone or deleting what should stay.
 *
 * Per active tenant — a batch of tenants per pass, resuming where the last pass stopped — it lists the
 * tenant's user Workers by tag and compares them with the version rows:
 * - a live version whose Worker is missing is re-provisioned from the archived bundle (a `reprovision`
 *   job through the ProvisionVersion Workflow: provision, smoke-check, no flip);
 * - a Worker no row knows is an orphan: it is deleted only once it stayed unknown for two passes (a
 *   Worker provisioned between the listing and the query is never lost), and never more than
 *   `reconcileMaxDeletes` per pass, so a broken listing or a bug cannot wipe a namespace;
 * - the gateway's copy of the tenant's CSP allow-lists (Workers KV, tenant-csp.ts) is compared with
 *   D1's record and rewritten where it drifted (a save whose KV write failed, lists saved before the
 *   copy existed, a hand edit): one KV read per tenant per pass, a write only on drift;
 * - the same for the tenant's monitor feed (Workers KV SITE_FEEDS, site-feeds.ts), and the feed opt-in
 *   key of each live version published with `statusFeed` is written if it is missing;
 * - every action is audited in the tenant's chain.
 * Fail-safe: a Cloudflare error on a tenant's listing skips that tenant (nothing is changed on a
 * partial picture), and a KV error leaves that tenant's copy for the next pass; a D1 error aborts the
 * pass. Jobs stuck past their TTL are reaped by recoverJobs,
 * which the same cron runs.
 */

import { type SiteId, type TenantShortId, tenantTag, workerNameFor } from "@mini-sites/core";
import { audit } from "../audit/log.ts";
import type { D1Database } from "../db/d1.ts";
import { activeTenantsAfter, type Tenant } from "../db/tenants.ts";
import type { ControlEnv } from "../env.ts";
import { readPublishConfig } from "../publish/config.ts";
import { ensureStarted } from "../publish/jobs.ts";
import { hostingFor, type PublishDeps } from "../publish/services.ts";
import { getJob, insertJob, newJobId } from "../publish/store.ts";
import { resyncTenantFeeds } from "../site-feeds.ts";
import { resyncAllowLists } from "../tenant-csp.ts";

/** Tenants compared per pass; the next pass continues after the last one. */
export const RECONCILE_TENANTS_PER_PASS = 50;
/** How many passes a Worker must stay unknown before it is deleted. */
export const ORPHAN_PASSES_BEFORE_DELETE = 2;

export const RECONCILE_ACTOR = "reconcile";

export interface ReconcileReport {
  readonly tenantsChecked: number;
  readonly reprovisioned: readonly string[];
  readonly orphansSeen: readonly string[];
  readonly deleted: readonly string[];
  /** Tenants left as they were because their listing failed (fail-safe). */
  readonly skipped: readonly { tenant: string; code: string }[];
  /** Deletions or re-provisions left for a later pass by the per-pass caps. */
  readonly deferred: number;
  /** Tenants whose gateway copy of the allow-lists differed from D1 and was rewritten. */
  readonly allowListsRepaired: readonly string[];
  /** Tenants whose copy could not be compared or written (KV failing): left for the next pass. */
  readonly allowListsSkipped: readonly string[];
  /** Tenants whose monitor feed copy differed from D1 and was rewritten. */
  readonly feedsRepaired: readonly string[];
  /** Live versions' feed opt-in keys that were missing and were written, summed over the pass's tenants. */
  readonly feedOptInsRepaired: number;
  /** Tenants whose feed or opt-ins could not be compared or written (KV failing): left for the next pass. */
  readonly feedsSkipped: readonly string[];
  readonly nextAfter: string;
}

interface VersionRow {
  site_id: string;
  number: number;
  status: string;
  live_version: number | null;
}

/** Worker names the rows know (every version that is not failed) and the live ones among them. */
async function expectedWorkers(db: D1Database, tenant: TenantShortId) {
  const { results } = await db
    .prepare(
      `SELECT v.site_id, v.number, v.status, s.live_version FROM versions v
       JOIN sites s ON s.tenant_id = v.tenant_id AND s.id = v.site_id
       WHERE v.tenant_id = ? AND v.status <> 'failed'`,
    )
    .bind(tenant)
    .all<VersionRow>();
  const known = new Set<string>();
  const live = new Map<string, { site: SiteId; version: number }>();
  for (const row of results) {
    const name = workerNameFor(row.site_id as SiteId, row.number);
    known.add(name);
    if (row.status === "live" && row.live_version === row.number)
      live.set(name, { site: row.site_id as SiteId, version: row.number });
  }
  return { known, live };
}

async function unfinishedReprovision(db: D1Database, tenant: TenantShortId, site: SiteId, version: number) {
  const row = await db
    .prepare(
      `SELECT id FROM jobs WHERE tenant_id = ? AND site_id = ? AND version = ? AND kind = 'reprovision'
       AND state IN ('queued', 'running') LIMIT 1`,
    )
    .bind(tenant, site, version)
    .first<{ id: string }>();
  return row !== null;
}

/** Counts one more pass for each unknown Worker; answers how many passes each has now been unknown. */
async function countOrphans(
  db: D1Database,
  tenant: TenantShortId,
  unknown: readonly string[],
  now: number,
): Promise<Map<string, number>> {
  // Rows of this tenant for Workers that are no longer unknown (gone, or known now) are forgotten.
  const { results } = await db
    .prepare("SELECT worker_name, passes FROM reconcile_orphans WHERE tenant_id = ?")
    .bind(tenant)
    .all<{ worker_name: string; passes: number }>();
  const stillUnknown = new Set(unknown);
  const forget = results.filter((r) => !stillUnknown.has(r.worker_name)).map((r) => r.worker_name);
  const statements = [
    ...forget.map((name) => db.prepare("DELETE FROM reconcile_orphans WHERE worker_name = ?").bind(name)),
    ...unknown.map((name) =>
      db
        .prepare(
          `INSERT INTO reconcile_orphans (worker_name, tenant_id, first_seen_at, passes) VALUES (?, ?, ?, 1)
           ON CONFLICT (worker_name) DO UPDATE SET passes = passes + 1`,
        )
        .bind(name, tenant, now),
    ),
  ];
  if (statements.length > 0) await db.batch(statements);
  const passes = new Map<string, number>();
  const previous = new Map(results.map((r) => [r.worker_name, r.passes]));
  for (const name of unknown) passes.set(name, (previous.get(name) ?? 0) + 1);
  return passes;
}

export async function reconcilePass(
  env: ControlEnv,
  deps: PublishDeps,
  now: number,
  options: { tenantsPerPass?: number; fromStart?: boolean } = {},
): Promise<ReconcileReport> {
  const config = readPublishConfig(env);
  const hosting = hostingFor(env, deps);
  const state = await env.DB.prepare("SELECT after_tenant FROM reconcile_state WHERE id = 1").first<{
    after_tenant: string;
  }>();
  const after = options.fromStart === true ? "" : (state?.after_tenant ?? "");
  let tenants: Tenant[] = await activeTenantsAfter(
    env.DB,
    after,
    options.tenantsPerPass ?? RECONCILE_TENANTS_PER_PASS,
  );
  // Past the last tenant: wrap around to the first.
  if (tenants.length === 0 && after !== "")
    tenants = await activeTenantsAfter(env.DB, "", options.tenantsPerPass ?? RECONCILE_TENANTS_PER_PASS);

  let deletesLeft = config.reconcileMaxDeletes;
  let reprovisionsLeft = config.reconcileMaxReprovisions;
  let deferred = 0;
  const reprovisioned: string[] = [];
  const orphansSeen: string[] = [];
  const deleted: string[] = [];
  const skipped: { tenant: string; code: string }[] = [];
  const allowListsRepaired: string[] = [];
  const allowListsSkipped: string[] = [];
  const feedsRepaired: string[] = [];
  const feedsSkipped: string[] = [];
  let feedOptInsRepaired = 0;

  for (const tenant of tenants) {
    if (env.SITE_FEEDS !== undefined) {
      const synced = await resyncTenantFeeds(env.SITE_FEEDS, env.DB, tenant.id, now).catch(() => undefined);
      if (synced === undefined) feedsSkipped.push(tenant.id);
      else {
        if (synced.feed === "repaired") feedsRepaired.push(tenant.id);
        feedOptInsRepaired += synced.optInsRepaired;
      }
    }
    if (env.TENANT_CSP !== undefined) {
      const store = env.TENANT_CSP;
      const synced = await resyncAllowLists(store, env.DB, tenant.id).catch(() => "failed" as const);
      if (synced === "failed") allowListsSkipped.push(tenant.id);
      if (synced === "repaired") {
        allowListsRepaired.push(tenant.id);
        await audit(env, {
          tenantId: tenant.id,
          actor: RECONCILE_ACTOR,
          action: "reconcile.tenant_csp",
          target: `tenant:${tenant.id}`,
          detail: { reason: "the gateway's copy of the allow-lists differed from the record" },
        });
      }
    }

    const listed = await hosting.listByTag(tenantTag(tenant.id));
    if (!listed.ok) {
      skipped.push({ tenant: tenant.id, code: listed.error.code });
      continue;
    }
    const present = new Set(listed.value.map((w) => w.name));
    const { known, live } = await expectedWorkers(env.DB, tenant.id);

    for (const [name, { site, version }] of live) {
      if (present.has(name) || (await unfinishedReprovision(env.DB, tenant.id, site, version))) continue;
      if (reprovisionsLeft <= 0) {
        deferred++;
        continue;
      }
      reprovisionsLeft--;
      const jobId = newJobId();
      await insertJob(env.DB, tenant.id, site, { id: jobId, version, kind: "reprovision" }, now);
      await audit(env, {
        tenantId: tenant.id,
        actor: RECONCILE_ACTOR,
        action: "reconcile.reprovision",
        target: `site:${site}/v${version}`,
        detail: { worker: name, job: jobId, reason: "live version's Worker missing" },
      });
      const job = await getJob(env.DB, tenant.id, jobId);
      if (job !== undefined) await ensureStarted(env, job, now);
      reprovisioned.push(name);
    }

    const unknown = [...present].filter((name) => !known.has(name));
    orphansSeen.push(...unknown);
    const passes = await countOrphans(env.DB, tenant.id, unknown, now);
    for (const name of unknown) {
      if ((passes.get(name) ?? 0) < ORPHAN_PASSES_BEFORE_DELETE) continue;
      if (deletesLeft <= 0) {
        deferred++;
        continue;
      }
      const removed = await hosting.delete(name);
      if (!removed.ok) continue; // Left for the next pass.
      deletesLeft--;
      await env.DB.prepare("DELETE FROM reconcile_orphans WHERE worker_name = ?").bind(name).run();
      await audit(env, {
        tenantId: tenant.id,
        actor: RECONCILE_ACTOR,
        action: "reconcile.delete",
        target: `worker:${name}`,
        detail: { reason: `unknown to every row for ${ORPHAN_PASSES_BEFORE_DELETE} passes` },
      });
      deleted.push(name);
    }
  }

  const nextAfter = tenants.at(-1)?.id ?? "";
  await env.DB.prepare(
    `INSERT INTO reconcile_state (id, after_tenant) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET after_tenant = excluded.after_tenant`,
  )
    .bind(nextAfter)
    .run();
  return {
    tenantsChecked: tenants.length,
    reprovisioned,
    orphansSeen,
    deleted,
    skipped,
    deferred,
    allowListsRepaired,
    allowListsSkipped,
    feedsRepaired,
    feedOptInsRepaired,
    feedsSkipped,
    nextAfter,
  };
}
