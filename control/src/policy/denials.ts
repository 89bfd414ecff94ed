/**
 * Denied requests that carry no credential we could verify — no token, a malformed or forged one, a
 * revoked API token — are COUNTED, not audited one by one (DESIGN §6.8, §6.9). Appending each to an
 * audit chain would let anyone on the internet grow D1 without bound and make every tenant's real
 * appends fight them for the chain head (legitimate publishes then fail closed). So:
 *
 * - each isolate counts denials per one-minute window, per code and credential method, in memory;
 * - it writes its counts to D1 (`denial_counts`, one UPSERT per (window, code, method)) at most once
 *   per FLUSH_INTERVAL_MS, after the response — a flood costs a handful of writes per isolate per
 *   minute, whatever its rate;
 * - it logs the first SAMPLES_PER_WINDOW denials of each window (code, method, route — never a header
 *   or a token) so operators can see what is being tried.
 * Counts of an isolate that dies before its next flush are lost; they are statistics, not evidence.
 * Denials of AUTHENTICATED callers (a valid credential asking for what it may not have) stay audited
 * in the tenant's chain: they are few, and they name someone (policy/authorize.ts).
 */

import type { D1Database } from "../db/d1.ts";

export const DENIAL_WINDOW_MS = 60_000;
export const FLUSH_INTERVAL_MS = 10_000;
export const SAMPLES_PER_WINDOW = 20;
/** Distinct (code, method) pairs kept per window before further ones are folded into one bucket. */
const MAX_KEYS_PER_WINDOW = 64;
/** Windows older than this are deleted by the daily maintenance pass. */
export const DENIAL_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

export interface DenialRecord {
  readonly code: string;
  /** The credential method presented ("fit", "apiToken", "sharedSecret") or "none". */
  readonly method: string;
  /** The route pattern (never the raw path: it may carry ids an attacker chose). */
  readonly route: string;
}

export class DenialCounter {
  #window = 0;
  #samples = 0;
  #lastFlush = 0;
  readonly #pending = new Map<string, { window: number; code: string; method: string; count: number }>();

  /** Counts one denial; returns a flush to run after the response when one is due. */
  record(db: D1Database, denial: DenialRecord, now: number): Promise<void> | undefined {
    const window = now - (now % DENIAL_WINDOW_MS);
    if (window !== this.#window) {
      this.#window = window;
      this.#samples = 0;
    }
    if (this.#samples < SAMPLES_PER_WINDOW) {
      this.#samples++;
      console.warn(JSON.stringify({ level: "warn", event: "request.denied", ...denial }));
    }
    const keysInWindow = [...this.#pending.values()].filter((p) => p.window === window).length;
    let key = `${window}\n${denial.code}\n${denial.method}`;
    let entry = this.#pending.get(key);
    if (entry === undefined && keysInWindow >= MAX_KEYS_PER_WINDOW) {
      key = `${window}\nOTHER\nother`;
      entry = this.#pending.get(key);
    }
    if (entry === undefined) {
      const [, code, method] = key.split("\n") as [string, string, string];
      entry = { window, code, method, count: 0 };
      this.#pending.set(key, entry);
    }
    entry.count++;
    if (now - this.#lastFlush < FLUSH_INTERVAL_MS) return undefined;
    this.#lastFlush = now;
    return this.flush(db);
  }

  /** Writes and forgets what is pending. A failed write puts the counts back for the next flush. */
  async flush(db: D1Database): Promise<void> {
    const entries = [...this.#pending.values()];
    this.#pending.clear();
    if (entries.length === 0) return;
    try {
      await db.batch(
        entries.map((e) =>
          db
            .prepare(
              `INSERT INTO denial_counts (window_start, code, method, count) VALUES (?, ?, ?, ?)
               ON CONFLICT (window_start, code, method) DO UPDATE SET count = count + excluded.count`,
            )
            .bind(e.window, e.code, e.method, e.count),
        ),
      );
    } catch {
      for (const e of entries) {
        const key = `${e.window}\n${e.code}\n${e.method}`;
        const existing = this.#pending.get(key);
        if (existing === undefined) this.#pending.set(key, e);
        else existing.count += e.count;
      }
    }
  }
}

export interface DenialWindow {
  readonly windowStart: number;
  readonly code: string;
  readonly method: string;
  readonly count: number;
}

/** The counted denials since `since` (ms), newest window first. */
export async function recentDenials(db: D1Database, since: number, limit = 1_000): Promise<DenialWindow[]> {
  const { results } = await db
    .prepare(
      `SELECT window_start, code, method, count FROM denial_counts WHERE window_start >= ?
       ORDER BY window_start DESC, count DESC LIMIT ?`,
    )
    .bind(since, limit)
    .all<{ window_start: number; code: string; method: string; count: number }>();
  return results.map((r) => ({
    windowStart: r.window_start,
    code: r.code,
    method: r.method,
    count: r.count,
  }));
}

/** Deletes windows older than the retention; run by the maintenance cron. */
export async function pruneDenials(db: D1Database, now: number): Promise<void> {
  await db
    .prepare("DELETE FROM denial_counts WHERE window_start < ?")
    .bind(now - DENIAL_RETENTION_MS)
    .run();
}
