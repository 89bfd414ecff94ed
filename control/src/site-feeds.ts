/**
 * Where a tenant's monitor feed reaches the gateway (DESIGN §3: a mini-site may opt in to read its
 * tenant's monitor feed at `/__ms/status.json` on its own origin). The dispatch Worker reads no
 * database, so it gets copies in Workers KV (SITE_FEEDS, shared with it: dispatch/src/site-feeds.ts),
 * under the keys core names (core/src/monitors/feed.ts):
 *
 * - `feed/<tenant>`: the tenant's feed, the very serializer of the Service status macro
 *   (monitors/feed.ts) — names, states, latency, uptime, recent results, never URLs. No monitors, no
 *   key (the gateway answers `{monitors: []}` for an absent key).
 * - `optin/<site>/<version>`: "1" for a version published with `statusFeed`, written by the
 *   provisioning Workflow before the version can go live. Versions are immutable, so the key never
 *   changes; site deletion and tenant erasure remove it.
 *
 * When the feed is written, and why a failure is never fatal: after every cron pass that checked a
 * tenant's monitors, and after a monitor is added or removed. The feed is a status display, refreshed
 * at least once a minute while the tenant has monitors due; a failed KV write is logged
 * (`site_feeds.write_failed`) and the next pass — or reconcile, which compares every tenant's copy
 * with D1 — writes it again, so neither a cron pass nor an admin's API call fails because of it.
 * Two writers can interleave (a pass and an API call) so that the older value lands last; the next
 * pass corrects it, within a minute.
 *
 * The opt-in key is different: a version that opted in must never go live without it (a dashboard
 * would show "not found"), so the Workflow step fails and retries like any provisioning step, and a
 * publish asking for the feed on a deployment without the binding is refused (NOT_CONFIGURED).
 */

import {
  FEED_OPT_IN,
  feedKey,
  feedOptInKey,
  feedOptInPrefix,
  type SiteId,
  type TenantShortId,
} from "@mini-sites/core";
import { ApiError } from "./app/errors.ts";
import type { D1Database } from "./db/d1.ts";
import type { ControlEnv, SiteFeedStore } from "./env.ts";
import { tenantFeed } from "./monitors/feed.ts";

/** The binding, or NOT_CONFIGURED: an opt-in the gateway would never see must not be accepted. */
export function siteFeedStore(env: { readonly SITE_FEEDS?: SiteFeedStore }): SiteFeedStore {
  if (env.SITE_FEEDS === undefined)
    throw new ApiError(
      "NOT_CONFIGURED",
      "The SITE_FEEDS KV namespace binding is missing (wrangler-control.toml); status feeds are unavailable.",
    );
  return env.SITE_FEEDS;
}

/** The stored value of the tenant's feed at `now`; null when it has no monitors (no key). */
export async function storedFeed(db: D1Database, tenant: TenantShortId, now: number): Promise<string | null> {
  const feed = await tenantFeed(db, tenant, now);
  return feed.monitors.length === 0 ? null : JSON.stringify(feed);
}

/** Writes the tenant's feed as D1 has it now; rejects with the store's error. */
export async function publishTenantFeed(
  store: SiteFeedStore,
  db: D1Database,
  tenant: TenantShortId,
  now: number,
): Promise<void> {
  const value = await storedFeed(db, tenant, now);
  if (value === null) await store.delete(feedKey(tenant));
  else await store.put(feedKey(tenant), value);
}

/**
 * Refreshes the feeds of `tenants` after their monitors changed (a cron pass, a monitor added or
 * removed). Never rejects: a failure is logged and left to the next pass or reconcile. Answers the
 * tenants whose write failed.
 */
export async function refreshTenantFeeds(
  env: Pick<ControlEnv, "DB" | "SITE_FEEDS">,
  tenants: Iterable<TenantShortId>,
  now: number,
): Promise<TenantShortId[]> {
  const store = env.SITE_FEEDS;
  if (store === undefined) return [];
  const failed: TenantShortId[] = [];
  for (const tenant of new Set(tenants)) {
    try {
      await publishTenantFeed(store, env.DB, tenant, now);
    } catch (error) {
      failed.push(tenant);
      console.warn(
        JSON.stringify({
          level: "warn",
          event: "site_feeds.write_failed",
          tenant,
          error: error instanceof Error ? error.name : "unknown",
        }),
      );
    }
  }
  return failed;
}

/** Marks a version as allowed to read its tenant's feed (provisioning, before the flip). */
export async function writeFeedOptIn(store: SiteFeedStore, site: SiteId, version: number): Promise<void> {
  await store.put(feedOptInKey(site, version), FEED_OPT_IN);
}

/** Removes every opt-in key of a deleted site. */
export async function deleteSiteOptIns(store: SiteFeedStore, site: SiteId): Promise<void> {
  let cursor: string | undefined;
  for (;;) {
    const page = await store.list({
      prefix: feedOptInPrefix(site),
      ...(cursor === undefined ? {} : { cursor }),
    });
    await Promise.all(page.keys.map((key) => store.delete(key.name)));
    if (page.list_complete || page.cursor === undefined) return;
    cursor = page.cursor;
  }
}

/** Removes an erased tenant's feed and the opt-in keys of its sites. */
export async function deleteTenantFeeds(
  store: SiteFeedStore,
  tenant: TenantShortId,
  sites: readonly SiteId[],
): Promise<void> {
  await store.delete(feedKey(tenant));
  for (const site of sites) await deleteSiteOptIns(store, site);
}

export interface FeedResync {
  readonly feed: "unchanged" | "repaired";
  /** Opt-in keys of live versions that were missing and were written. */
  readonly optInsRepaired: number;
}

/**
 * Reconcile: rewrites the tenant's feed when the copy differs from D1 (a failed write, a hand edit),
 * and writes the opt-in key of every live version that opted in but has none. One read for the feed
 * and one per opted-in live site per pass; a write only on drift.
 */
export async function resyncTenantFeeds(
  store: SiteFeedStore,
  db: D1Database,
  tenant: TenantShortId,
  now: number,
): Promise<FeedResync> {
  const wanted = await storedFeed(db, tenant, now);
  const current = await store.get(feedKey(tenant), { type: "text" });
  let feed: FeedResync["feed"] = "unchanged";
  if (current !== wanted) {
    if (wanted === null) await store.delete(feedKey(tenant));
    else await store.put(feedKey(tenant), wanted);
    feed = "repaired";
  }
  const { results } = await db
    .prepare(
      `SELECT v.site_id, v.number FROM versions v
       JOIN sites s ON s.tenant_id = v.tenant_id AND s.id = v.site_id AND s.live_version = v.number
       WHERE v.tenant_id = ? AND v.status = 'live' AND v.status_feed = 1`,
    )
    .bind(tenant)
    .all<{ site_id: string; number: number }>();
  let optInsRepaired = 0;
  for (const row of results) {
    const key = feedOptInKey(row.site_id, row.number);
    if ((await store.get(key, { type: "text" })) === FEED_OPT_IN) continue;
    await store.put(key, FEED_OPT_IN);
    optInsRepaired++;
  }
  return { feed, optInsRepaired };
}
