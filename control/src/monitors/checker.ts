/**
 * The monitors' cron pass (DESIGN §3): checks the monitors that are due, stores each result, and
 * turns state changes into signed reports.
 *
 *   claim      each due monitor's next check time is moved forward by a conditional UPDATE before it
 *              is checked, so two overlapping passes never check (or report) the same slot twice
 *   check      bounded concurrency (MONITOR_CONCURRENCY), a timeout per check covering every hop,
 *              redirects followed by hand with the SSRF guard run on every hop, no body read
 *   record     one D1 batch: the result, the monitor's last check and — if the state changed — the
 *              new state (guarded by the state it read) AND the queued report; then the history is
 *              pruned. A crash before the batch changes nothing (the next pass checks again); after
 *              it, the report waits in the outbox: the state is stored before any push
 *   feed       the feed of every tenant that had a monitor checked is copied to the gateway
 *              (site-feeds.ts), for its opted-in sites; a failed copy is logged, never fails the pass
 *   push       monitors/reports.ts sends due reports, signed, with retries
 *
 * What the runtime lets us see: workerd's fetch() neither exposes the address it connected to nor
 * offers a DNS API, so every hop's host NAME is first resolved through DNS-over-HTTPS (resolve.ts,
 * MONITOR_DNS_URL; one resolver, so one lookup per host, per pass) and refused if any address it
 * answers is; IP literals in every spelling, private-looking names and every redirect hop are refused
 * by the URL guard. fetch() resolves again, so a rebinding race remains; Cloudflare's own egress does
 * not route to private networks of ours (there are none behind the Worker), which is what bounds it
 * in production; docs/security.md says so.
 */

import { checkMonitorUrl, type TenantShortId } from "@mini-sites/core";
import type { ControlEnv } from "../env.ts";
import { refreshTenantFeeds } from "../site-feeds.ts";
import { MAX_REDIRECTS, MONITOR_CONCURRENCY, monitorBatch, resolverOf, targetPolicy } from "./config.ts";
import { queueReportStatement, type StateReport } from "./reports.ts";
import { checkResolvedHost, type Resolver } from "./resolve.ts";
import {
  type CheckResult,
  type Monitor,
  type MonitorRow,
  pruneResultsStatement,
  toMonitor,
} from "./store.ts";

export interface CheckerDeps {
  /** Outgoing requests; tests hand in their own. */
  readonly fetch?: (request: Request) => Promise<Response>;
  readonly now?: () => number;
  /** Host name → addresses; default the deployment's DNS-over-HTTPS resolver (none if unset). */
  readonly resolve?: Resolver;
}

export interface PassOutcome {
  readonly checked: number;
  readonly changed: number;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** One check: every hop guarded, the whole of it within the monitor's timeout. */
export async function checkMonitor(
  monitor: Pick<Monitor, "url" | "method" | "timeoutMs" | "expectedMin" | "expectedMax">,
  env: ControlEnv,
  deps: CheckerDeps = {},
): Promise<Omit<CheckResult, "checkedAt">> {
  const send = deps.fetch ?? ((request: Request) => fetch(request));
  const now = deps.now ?? Date.now;
  const policy = targetPolicy(env);
  const resolve = deps.resolve ?? resolverOf(env);
  const started = now();
  const signal = AbortSignal.timeout(monitor.timeoutMs);
  let url = monitor.url;
  try {
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const verdict = checkMonitorUrl(url, policy);
      if (!verdict.ok) return { ok: false, status: null, latencyMs: null, error: `target:${verdict.reason}` };
      if (resolve !== undefined) {
        // Within the monitor's own timeout, like the requests: lookups never stretch a check.
        const host = await untilAborted(checkResolvedHost(verdict.url, policy, resolve), signal);
        if (!host.ok)
          return {
            ok: false,
            status: null,
            latencyMs: null,
            error: host.reason === "dns" ? "dns" : `target:${host.reason}`,
          };
      }
      const response = await send(
        new Request(verdict.url.href, {
          method: monitor.method,
          redirect: "manual",
          signal,
          headers: { "user-agent": "mini-sites-monitor/1", accept: "*/*" },
        }),
      );
      await response.body?.cancel().catch(() => undefined);
      const location = response.headers.get("location");
      if (REDIRECT_STATUSES.has(response.status) && location !== null) {
        url = new URL(location, verdict.url).href;
        continue;
      }
      const latencyMs = Math.max(0, now() - started);
      const ok = response.status >= monitor.expectedMin && response.status <= monitor.expectedMax;
      return { ok, status: response.status, latencyMs, error: ok ? null : "status" };
    }
    return { ok: false, status: null, latencyMs: null, error: "redirects" };
  } catch (error) {
    const name = (error as Error).name;
    return {
      ok: false,
      status: null,
      latencyMs: null,
      error: name === "TimeoutError" || name === "AbortError" ? "timeout" : "network",
    };
  }
}

/** `work`, or a TimeoutError as soon as `signal` aborts (the work itself is bounded elsewhere). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", abort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", abort);
        reject(error);
      },
    );
  });
}

/**
 * Runs `work` over `items` with at most `limit` at once. One item's failure is logged and never ends
 * the others (they are other tenants' checks, already claimed).
 */
async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        console.error(
          JSON.stringify({
            level: "error",
            event: "monitor.check_failed",
            error: String((error as Error).name),
          }),
        );
      }
    }
  });
  await Promise.all(runners);
}

/** The cron pass: claim, check, record. Returns how many were checked and how many changed state. */
export async function checkDueMonitors(env: ControlEnv, deps: CheckerDeps = {}): Promise<PassOutcome> {
  const now = deps.now ?? Date.now;
  const passStart = now();
  // Round robin over tenants: every tenant's most overdue monitor first, then every tenant's second…
  // so a tenant with many (or slow) monitors cannot take a pass from the others.
  const { results } = await env.DB.prepare(
    `SELECT * FROM (
       SELECT *, ROW_NUMBER() OVER (PARTITION BY tenant_id ORDER BY next_check_at, id) AS turn
       FROM monitors WHERE next_check_at <= ?
     ) ORDER BY turn, next_check_at LIMIT ?`,
  )
    .bind(passStart, monitorBatch(env))
    .all<MonitorRow>();
  const claimed: Monitor[] = [];
  for (const row of results) {
    const monitor = toMonitor(row);
    const { meta } = await env.DB.prepare(
      "UPDATE monitors SET next_check_at = ? WHERE tenant_id = ? AND id = ? AND next_check_at = ?",
    )
      .bind(passStart + monitor.intervalSeconds * 1000, monitor.tenantId, monitor.id, monitor.nextCheckAt)
      .run();
    if (meta.changes === 1) claimed.push(monitor);
  }
  let changed = 0;
  // One resolver for the pass: monitors of one host cost one lookup.
  const resolve = deps.resolve ?? resolverOf(env);
  await pool(claimed, MONITOR_CONCURRENCY, async (monitor) => {
    const result = await checkMonitor(monitor, env, {
      ...deps,
      ...(resolve === undefined ? {} : { resolve }),
    });
    const checkedAt = now();
    if (await record(env, monitor, { ...result, checkedAt })) changed++;
  });
  await refreshTenantFeeds(
    env,
    claimed.map((m) => m.tenantId as TenantShortId),
    now(),
  );
  return { checked: claimed.length, changed };
}

/** Stores one result; queues a report if the state changed. Answers whether it did. */
async function record(env: ControlEnv, monitor: Monitor, result: CheckResult): Promise<boolean> {
  const db = env.DB;
  const tenant = monitor.tenantId as TenantShortId;
  const to = result.ok ? "up" : "down";
  const changes = to !== monitor.state;
  const statements = [
    db
      .prepare(
        // Only while the monitor exists: one deleted during its check leaves nothing (a plain INSERT
        // would fail the foreign key, and OR IGNORE does not cover foreign keys).
        `INSERT OR IGNORE INTO monitor_results (tenant_id, monitor_id, checked_at, ok, status, latency_ms, error)
         SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM monitors WHERE tenant_id = ? AND id = ?)`,
      )
      .bind(
        tenant,
        monitor.id,
        result.checkedAt,
        result.ok ? 1 : 0,
        result.status,
        result.latencyMs,
        result.error,
        tenant,
        monitor.id,
      ),
    db
      .prepare(
        `UPDATE monitors SET last_checked_at = ?, last_status = ?, last_latency_ms = ?, last_error = ?,
           state = ?, state_changed_at = CASE WHEN state = ? THEN state_changed_at ELSE ? END
         WHERE tenant_id = ? AND id = ? AND state = ?`,
      )
      .bind(
        result.checkedAt,
        result.status,
        result.latencyMs,
        result.error,
        to,
        to,
        result.checkedAt,
        tenant,
        monitor.id,
        monitor.state,
      ),
  ];
  if (changes) {
    const report: StateReport = {
      type: "monitor.state",
      // One id per monitor and check: a re-run of the same batch can never queue a second report.
      reportId: `rep_${monitor.id.slice(4)}_${result.checkedAt}`,
      tenant,
      monitorId: monitor.id,
      name: monitor.name,
      from: monitor.state,
      to,
      at: result.checkedAt,
      status: result.status,
      latencyMs: result.latencyMs,
      error: result.error,
    };
    statements.push(queueReportStatement(db, report, result.checkedAt));
  }
  statements.push(pruneResultsStatement(db, tenant, monitor.id, result.checkedAt));
  const outcome = await db.batch(statements);
  // The monitor was deleted meanwhile (or its state moved under us): nothing to report.
  return changes && (outcome[1]?.meta.changes ?? 0) === 1;
}
