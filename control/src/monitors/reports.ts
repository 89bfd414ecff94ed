/**
 * Signed reports to the tenant's Forge web trigger (DESIGN §3): an outbox (monitor_reports) filled in
 * the same D1 batch that changes a monitor's state, and pushed from there until the web trigger
 * answers 2xx. Each attempt is signed at send time with the tenant's CURRENT key and a fresh nonce
 * and timestamp (core/src/reports), so a retry after a rotation or an outage is never stale. The web
 * trigger URL is re-checked by the SSRF guard before every push, and redirects are never followed.
 */

import { checkMonitorUrl, signReport, type TenantShortId } from "@mini-sites/core";
import type { D1Database } from "../db/d1.ts";
import type { ControlEnv } from "../env.ts";
import { REPORT_EXPIRY_MS, REPORT_RETRY_BASE_MS, REPORT_RETRY_MAX_MS, REPORT_TIMEOUT_MS } from "./config.ts";
import { signingKeyOf } from "./keys.ts";

export async function setReportChannel(db: D1Database, tenant: TenantShortId, url: string, now: number) {
  await db
    .prepare(
      `INSERT INTO report_channels (tenant_id, url, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (tenant_id) DO UPDATE SET url = excluded.url, updated_at = excluded.updated_at`,
    )
    .bind(tenant, url, now)
    .run();
}

export async function reportChannelOf(db: D1Database, tenant: TenantShortId): Promise<string | undefined> {
  const row = await db
    .prepare("SELECT url FROM report_channels WHERE tenant_id = ?")
    .bind(tenant)
    .first<{ url: string }>();
  return row?.url;
}

/** What a state-change report says. Only what the status macro shows: no response body of the target. */
export interface StateReport {
  readonly type: "monitor.state";
  readonly reportId: string;
  readonly tenant: string;
  readonly monitorId: string;
  readonly name: string;
  readonly from: "unknown" | "up" | "down";
  readonly to: "up" | "down";
  readonly at: number;
  readonly status: number | null;
  readonly latencyMs: number | null;
  readonly error: string | null;
}

/**
 * Queues `report` — only if the monitor now holds the state the report announces, changed at the
 * report's time: in the batch that changes the state, a guarded UPDATE that lost (a deleted monitor,
 * a state moved meanwhile) therefore queues nothing.
 */
export function queueReportStatement(db: D1Database, report: StateReport, now: number) {
  return db
    .prepare(
      `INSERT OR IGNORE INTO monitor_reports (tenant_id, id, monitor_id, body, created_at, next_attempt_at)
       SELECT ?1, ?2, ?3, ?4, ?5, ?5
       WHERE EXISTS (SELECT 1 FROM monitors WHERE tenant_id = ?1 AND id = ?3 AND state = ?6 AND state_changed_at = ?7)`,
    )
    .bind(
      report.tenant,
      report.reportId,
      report.monitorId,
      JSON.stringify(report),
      now,
      report.to,
      report.at,
    );
}

export interface PushDeps {
  readonly fetch?: (request: Request) => Promise<Response>;
  readonly now?: () => number;
}

export interface PushOutcome {
  readonly delivered: number;
  readonly failed: number;
  readonly abandoned: number;
}

interface Pending {
  tenant_id: string;
  id: string;
  body: string;
  created_at: number;
  attempts: number;
  next_attempt_at: number;
}

/** How long a pass holds a report it is sending: overlapping passes never send it twice meanwhile. */
const SEND_LEASE_MS = REPORT_TIMEOUT_MS + 20_000;
/** Delivered and abandoned reports are kept this long (for what-to-watch queries), then deleted. */
export const REPORT_RETENTION_MS = 24 * 60 * 60 * 1000;

const backoff = (attempts: number) =>
  Math.min(REPORT_RETRY_MAX_MS, REPORT_RETRY_BASE_MS * 2 ** Math.min(attempts, 16));

/** Pushes every due report (at most `limit`), oldest first. Never throws for one report's failure. */
export async function pushPendingReports(
  env: ControlEnv,
  deps: PushDeps = {},
  limit = 50,
): Promise<PushOutcome> {
  const now = deps.now ?? Date.now;
  const send = deps.fetch ?? ((request: Request) => fetch(request));
  // Round robin over tenants (each tenant's oldest first), so one tenant's backlog never starves others.
  const { results } = await env.DB.prepare(
    `SELECT tenant_id, id, body, created_at, attempts, next_attempt_at FROM (
       SELECT *, ROW_NUMBER() OVER (PARTITION BY tenant_id ORDER BY created_at, id) AS turn
       FROM monitor_reports
       WHERE delivered_at IS NULL AND abandoned_at IS NULL AND next_attempt_at <= ?
     ) ORDER BY turn, created_at LIMIT ?`,
  )
    .bind(now(), limit)
    .all<Pending>();
  const outcome = { delivered: 0, failed: 0, abandoned: 0 };
  const dev = env.DEV_ALLOW_LOOPBACK_HTTP === "true";
  for (const report of results) {
    const tenant = report.tenant_id as TenantShortId;
    // Claim it: a pass that read the same row and comes second finds it leased and skips it.
    const claim = await env.DB.prepare(
      `UPDATE monitor_reports SET next_attempt_at = ?
       WHERE tenant_id = ? AND id = ? AND next_attempt_at = ? AND delivered_at IS NULL AND abandoned_at IS NULL`,
    )
      .bind(now() + SEND_LEASE_MS, tenant, report.id, report.next_attempt_at)
      .run();
    if (claim.meta.changes !== 1) continue;
    let error: string | null = null;
    try {
      const channel = await reportChannelOf(env.DB, tenant);
      const key = await signingKeyOf(env, tenant);
      const target =
        channel === undefined ? undefined : checkMonitorUrl(channel, { allowHttp: dev, allowLoopback: dev });
      if (target === undefined) error = "no-channel";
      else if (!target.ok) error = "channel-forbidden";
      else if (key === undefined) error = "no-key";
      else {
        const headers = await signReport({
          signingKey: key.key,
          keyId: key.keyId,
          tenant,
          body: report.body,
          nowMs: now(),
        });
        const response = await send(
          new Request(target.url.href, {
            method: "POST",
            headers: { ...headers, "content-type": "application/json" },
            body: report.body,
            redirect: "manual",
            signal: AbortSignal.timeout(REPORT_TIMEOUT_MS),
          }),
        );
        await response.body?.cancel().catch(() => undefined);
        if (response.status < 200 || response.status > 299) error = `http-${response.status}`;
      }
    } catch (thrown) {
      error = (thrown as Error).name === "TimeoutError" ? "timeout" : "network";
    }
    const at = now();
    if (error === null) {
      outcome.delivered++;
      await env.DB.prepare(
        "UPDATE monitor_reports SET delivered_at = ?, attempts = attempts + 1 WHERE tenant_id = ? AND id = ?",
      )
        .bind(at, tenant, report.id)
        .run();
      continue;
    }
    const expired = at - report.created_at > REPORT_EXPIRY_MS;
    if (expired) outcome.abandoned++;
    else outcome.failed++;
    await env.DB.prepare(
      `UPDATE monitor_reports SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,
         abandoned_at = CASE WHEN ? THEN ? ELSE NULL END
       WHERE tenant_id = ? AND id = ?`,
    )
      .bind(error, at + backoff(report.attempts), expired ? 1 : 0, at, tenant, report.id)
      .run();
    console.warn(
      JSON.stringify({
        level: "warn",
        event: "monitor.report_failed",
        tenant,
        report: report.id,
        error,
        expired,
      }),
    );
  }
  return outcome;
}

/**
 * Deletes reports delivered or abandoned more than REPORT_RETENTION_MS ago, and any still pending for
 * a monitor that no longer exists (its state means nothing to anyone now): the outbox stays bounded.
 */
export async function pruneReports(env: ControlEnv, now: number = Date.now()): Promise<number> {
  const cutoff = now - REPORT_RETENTION_MS;
  const [done, orphaned] = await env.DB.batch([
    env.DB.prepare("DELETE FROM monitor_reports WHERE delivered_at < ? OR abandoned_at < ?").bind(
      cutoff,
      cutoff,
    ),
    env.DB.prepare(
      `DELETE FROM monitor_reports WHERE delivered_at IS NULL AND abandoned_at IS NULL
         AND NOT EXISTS (SELECT 1 FROM monitors m WHERE m.tenant_id = monitor_reports.tenant_id AND m.id = monitor_reports.monitor_id)`,
    ),
  ]);
  return (done?.meta.changes ?? 0) + (orphaned?.meta.changes ?? 0);
}
