/**
 * Monitors in D1 (migration 0009): every query names the tenant, so a tenant's monitors, results and
 * reports are invisible to every other tenant (DESIGN §6.3).
 */

import { base32Encode, type TenantShortId } from "@mini-sites/core";
import { type D1Database, isUniqueViolation } from "../db/d1.ts";
import { MAX_MONITORS_PER_TENANT, MAX_RESULTS_PER_MONITOR, RESULT_RETENTION_MS } from "./config.ts";

export type MonitorState = "unknown" | "up" | "down";
export type MonitorMethod = "GET" | "HEAD";

export interface Monitor {
  readonly tenantId: TenantShortId;
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly method: MonitorMethod;
  readonly expectedMin: number;
  readonly expectedMax: number;
  readonly timeoutMs: number;
  readonly intervalSeconds: number;
  readonly state: MonitorState;
  readonly stateChangedAt: number | null;
  readonly lastCheckedAt: number | null;
  readonly lastStatus: number | null;
  readonly lastLatencyMs: number | null;
  readonly lastError: string | null;
  readonly nextCheckAt: number;
  readonly createdBy: string;
  readonly createdAt: number;
}

export interface MonitorRow {
  tenant_id: string;
  id: string;
  name: string;
  url: string;
  method: MonitorMethod;
  expected_min: number;
  expected_max: number;
  timeout_ms: number;
  interval_seconds: number;
  state: MonitorState;
  state_changed_at: number | null;
  last_checked_at: number | null;
  last_status: number | null;
  last_latency_ms: number | null;
  last_error: string | null;
  next_check_at: number;
  created_by: string;
  created_at: number;
}

export const toMonitor = (row: MonitorRow): Monitor => ({
  tenantId: row.tenant_id as TenantShortId,
  id: row.id,
  name: row.name,
  url: row.url,
  method: row.method,
  expectedMin: row.expected_min,
  expectedMax: row.expected_max,
  timeoutMs: row.timeout_ms,
  intervalSeconds: row.interval_seconds,
  state: row.state,
  stateChangedAt: row.state_changed_at,
  lastCheckedAt: row.last_checked_at,
  lastStatus: row.last_status,
  lastLatencyMs: row.last_latency_ms,
  lastError: row.last_error,
  nextCheckAt: row.next_check_at,
  createdBy: row.created_by,
  createdAt: row.created_at,
});

/** `mon_` + 16 base32 characters (10 random bytes). */
export const MONITOR_ID = /^mon_[a-z2-7]{16}$/;

export function newMonitorId(): string {
  return `mon_${base32Encode(crypto.getRandomValues(new Uint8Array(10)))}`;
}

export async function getMonitor(
  db: D1Database,
  tenant: TenantShortId,
  id: string,
): Promise<Monitor | undefined> {
  const row = await db
    .prepare("SELECT * FROM monitors WHERE tenant_id = ? AND id = ?")
    .bind(tenant, id)
    .first<MonitorRow>();
  return row === null ? undefined : toMonitor(row);
}

export async function listMonitors(db: D1Database, tenant: TenantShortId): Promise<Monitor[]> {
  const { results } = await db
    .prepare("SELECT * FROM monitors WHERE tenant_id = ? ORDER BY name COLLATE NOCASE LIMIT ?")
    .bind(tenant, MAX_MONITORS_PER_TENANT)
    .all<MonitorRow>();
  return results.map(toMonitor);
}

export interface NewMonitor {
  readonly name: string;
  readonly url: string;
  readonly method: MonitorMethod;
  readonly expectedMin: number;
  readonly expectedMax: number;
  readonly timeoutMs: number;
  readonly intervalSeconds: number;
}

export type CreateResult =
  | { readonly kind: "created"; readonly monitor: Monitor }
  | { readonly kind: "full" }
  | { readonly kind: "nameTaken" };

/** Creates a monitor, due at once. The quota check and the insert are one statement. */
export async function createMonitor(
  db: D1Database,
  tenant: TenantShortId,
  input: NewMonitor,
  actor: string,
  now: number,
): Promise<CreateResult> {
  const id = newMonitorId();
  try {
    const { meta } = await db
      .prepare(
        `INSERT INTO monitors (tenant_id, id, name, url, method, expected_min, expected_max, timeout_ms,
           interval_seconds, next_check_at, created_by, created_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?10
         WHERE (SELECT COUNT(*) FROM monitors WHERE tenant_id = ?1) < ?12`,
      )
      .bind(
        tenant,
        id,
        input.name,
        input.url,
        input.method,
        input.expectedMin,
        input.expectedMax,
        input.timeoutMs,
        input.intervalSeconds,
        now,
        actor,
        MAX_MONITORS_PER_TENANT,
      )
      .run();
    if (meta.changes === 0) return { kind: "full" };
  } catch (error) {
    // Names are unique per tenant ignoring case (monitors_name): the CLI and the macro name them.
    if (isUniqueViolation(error, "monitors.name")) return { kind: "nameTaken" };
    throw error;
  }
  const monitor = await getMonitor(db, tenant, id);
  if (monitor === undefined) throw new Error("monitor vanished after insert");
  return { kind: "created", monitor };
}

export type MonitorChanges = Partial<NewMonitor>;

export type UpdateResult =
  | { readonly kind: "updated"; readonly monitor: Monitor }
  | { readonly kind: "missing" }
  | { readonly kind: "nameTaken" };

/**
 * Changes a monitor's settings in one statement (the expected range always changes as a whole, so the
 * table's CHECK never sees a half of it). What is checked changed, so the monitor is due at once; its
 * state and history stay until that check.
 */
export async function updateMonitor(
  db: D1Database,
  tenant: TenantShortId,
  id: string,
  changes: MonitorChanges,
  now: number,
): Promise<UpdateResult> {
  try {
    const { meta } = await db
      .prepare(
        `UPDATE monitors SET name = COALESCE(?3, name), url = COALESCE(?4, url), method = COALESCE(?5, method),
           expected_min = COALESCE(?6, expected_min), expected_max = COALESCE(?7, expected_max),
           timeout_ms = COALESCE(?8, timeout_ms), interval_seconds = COALESCE(?9, interval_seconds),
           next_check_at = ?10
         WHERE tenant_id = ?1 AND id = ?2`,
      )
      .bind(
        tenant,
        id,
        changes.name ?? null,
        changes.url ?? null,
        changes.method ?? null,
        changes.expectedMin ?? null,
        changes.expectedMax ?? null,
        changes.timeoutMs ?? null,
        changes.intervalSeconds ?? null,
        now,
      )
      .run();
    if (meta.changes === 0) return { kind: "missing" };
  } catch (error) {
    if (isUniqueViolation(error, "monitors.name")) return { kind: "nameTaken" };
    throw error;
  }
  const monitor = await getMonitor(db, tenant, id);
  return monitor === undefined ? { kind: "missing" } : { kind: "updated", monitor };
}

export async function deleteMonitor(db: D1Database, tenant: TenantShortId, id: string): Promise<boolean> {
  const [, deleted] = await db.batch([
    db.prepare("DELETE FROM monitor_results WHERE tenant_id = ? AND monitor_id = ?").bind(tenant, id),
    db.prepare("DELETE FROM monitors WHERE tenant_id = ? AND id = ?").bind(tenant, id),
  ]);
  return (deleted?.meta.changes ?? 0) > 0;
}

export interface CheckResult {
  readonly checkedAt: number;
  readonly ok: boolean;
  readonly status: number | null;
  readonly latencyMs: number | null;
  /** An error class (`timeout`, `network`, `dns`, `status`, `redirects`, `target:<reason>`), never a message from the target. */
  readonly error: string | null;
}

export async function recentResults(
  db: D1Database,
  tenant: TenantShortId,
  monitorId: string,
  limit: number,
): Promise<CheckResult[]> {
  const { results } = await db
    .prepare(
      `SELECT checked_at, ok, status, latency_ms, error FROM monitor_results
       WHERE tenant_id = ? AND monitor_id = ? ORDER BY checked_at DESC LIMIT ?`,
    )
    .bind(tenant, monitorId, limit)
    .all<{
      checked_at: number;
      ok: number;
      status: number | null;
      latency_ms: number | null;
      error: string | null;
    }>();
  return results
    .map((r) => ({
      checkedAt: r.checked_at,
      ok: r.ok === 1,
      status: r.status,
      latencyMs: r.latency_ms,
      error: r.error,
    }))
    .reverse();
}

export interface Uptime {
  /** Share of checks that passed, 0–1, or null with no checks in the window. */
  readonly day: number | null;
  readonly week: number | null;
}

/** Uptime over the last 24 h and 7 d for each of the tenant's monitors, in one query. */
export async function uptimeOf(
  db: D1Database,
  tenant: TenantShortId,
  now: number,
): Promise<Map<string, Uptime>> {
  const dayAgo = now - 24 * 60 * 60 * 1000;
  const weekAgo = now - RESULT_RETENTION_MS;
  const { results } = await db
    .prepare(
      `SELECT monitor_id,
              SUM(CASE WHEN checked_at >= ?2 THEN ok ELSE 0 END) AS day_ok,
              SUM(CASE WHEN checked_at >= ?2 THEN 1 ELSE 0 END) AS day_n,
              SUM(ok) AS week_ok, COUNT(*) AS week_n
       FROM monitor_results WHERE tenant_id = ?1 AND checked_at >= ?3 GROUP BY monitor_id`,
    )
    .bind(tenant, dayAgo, weekAgo)
    .all<{ monitor_id: string; day_ok: number; day_n: number; week_ok: number; week_n: number }>();
  const uptime = new Map<string, Uptime>();
  for (const r of results)
    uptime.set(r.monitor_id, {
      day: r.day_n === 0 ? null : r.day_ok / r.day_n,
      week: r.week_n === 0 ? null : r.week_ok / r.week_n,
    });
  return uptime;
}

/** Drops results beyond the retention age and the per-monitor count. */
export function pruneResultsStatement(db: D1Database, tenant: TenantShortId, monitorId: string, now: number) {
  return db
    .prepare(
      `DELETE FROM monitor_results WHERE tenant_id = ?1 AND monitor_id = ?2 AND (checked_at < ?3 OR checked_at <= (
         SELECT checked_at FROM monitor_results WHERE tenant_id = ?1 AND monitor_id = ?2
         ORDER BY checked_at DESC LIMIT 1 OFFSET ?4))`,
    )
    .bind(tenant, monitorId, now - RESULT_RETENTION_MS, MAX_RESULTS_PER_MONITOR);
}

/** The last `perMonitor` results of every monitor of the tenant, oldest first, in one query. */
export async function recentResultsByMonitor(
  db: D1Database,
  tenant: TenantShortId,
  perMonitor: number,
): Promise<Map<string, CheckResult[]>> {
  const { results } = await db
    .prepare(
      `SELECT monitor_id, checked_at, ok, status, latency_ms, error FROM (
         SELECT *, ROW_NUMBER() OVER (PARTITION BY monitor_id ORDER BY checked_at DESC) AS n
         FROM monitor_results WHERE tenant_id = ?)
       WHERE n <= ? ORDER BY monitor_id, checked_at`,
    )
    .bind(tenant, perMonitor)
    .all<{
      monitor_id: string;
      checked_at: number;
      ok: number;
      status: number | null;
      latency_ms: number | null;
      error: string | null;
    }>();
  const byMonitor = new Map<string, CheckResult[]>();
  for (const r of results) {
    const list = byMonitor.get(r.monitor_id) ?? [];
    list.push({
      checkedAt: r.checked_at,
      ok: r.ok === 1,
      status: r.status,
      latencyMs: r.latency_ms,
      error: r.error,
    });
    byMonitor.set(r.monitor_id, list);
  }
  return byMonitor;
}
