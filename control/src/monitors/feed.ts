/**
 * A tenant's monitor feed: what the Service status macro shows (GET /v1/status/monitors) and what an
 * opted-in mini-site reads at `/__ms/status.json` (site-feeds.ts copies it to the gateway). One
 * serializer for both, so neither can show more than the other: names, states, latency, uptime and
 * the last results — never a monitor's URL, method or expected statuses, which only the tenant's
 * admins see (a URL can name an internal host or carry a token in its query).
 */

import type { TenantShortId } from "@mini-sites/core";
import type { D1Database } from "../db/d1.ts";
import { listMonitors, recentResultsByMonitor, uptimeOf } from "./store.ts";

/** Results per monitor in the feed: the status macro's chart. */
export const FEED_HISTORY_LENGTH = 30;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The tenant's feed at `now`, monitors by name; `{monitors: []}` for a tenant without any. */
export async function tenantFeed(db: D1Database, tenant: TenantShortId, now: number) {
  const [monitors, uptime, history] = await Promise.all([
    listMonitors(db, tenant),
    uptimeOf(db, tenant, now),
    recentResultsByMonitor(db, tenant, FEED_HISTORY_LENGTH),
  ]);
  return {
    monitors: monitors.map((m) => ({
      id: m.id,
      name: m.name,
      state: m.state,
      stateChangedAt: iso(m.stateChangedAt),
      latencyMs: m.lastLatencyMs,
      uptime: uptime.get(m.id) ?? { day: null, week: null },
      history: (history.get(m.id) ?? []).map((r) => ({
        at: new Date(r.checkedAt).toISOString(),
        ok: r.ok,
        latencyMs: r.latencyMs,
      })),
    })),
  };
}

export type MonitorFeed = Awaited<ReturnType<typeof tenantFeed>>;
