/**
 * Atlassian's personal data reporting (developer.atlassian.com/platform/forge/user-privacy-guidelines):
 * an app that stores account ids reports them periodically with `POST /app/report-accounts/`
 * `{accounts: [{accountId, updatedAt}]}` — at most 90 per request (`@forge/api` privacy LIMIT) — and
 * Atlassian answers 204 (nothing to do) or 200 `{accounts: [{accountId, status: "closed"|"updated"}]}`;
 * 429 with `Retry-After` when the app calls too often. A closed account's data must be erased; an
 * updated one's refreshed — the product stores no profile data (names, emails), only ids, so there is
 * nothing to refresh and the answer is counted.
 *
 * The call is the app's own (the same one `privacy.reportPersonalData` of `@forge/api` makes as the
 * app), authenticated with the app system token Forge hands the remote in `x-forge-oauth-system` on the
 * scheduled trigger's request. So the cycle is driven by that trigger (hourly, per installation): each
 * run reports the tenant's accounts in order from where the last one stopped, a bounded number of
 * requests at a time, and a cycle ends when every account was reported; the next starts once
 * `PERSONAL_DATA_CYCLE_SECONDS` (7 days, Atlassian's default cycle period, never more often) have passed.
 * Progress is kept in D1 after every request: a crash, a timeout or a 429 loses nothing.
 */

import { ApiError } from "../app/errors.ts";
import { acceptableApiBaseUrl } from "../confluence/permissions.ts";
import type { D1Database } from "../db/d1.ts";
import { ACCOUNT_ID, anonymizeStatements, type StoredAccount, storedAccounts } from "./accounts.ts";

/** `@forge/api` privacy.LIMIT: accounts per request. */
export const ACCOUNTS_PER_REPORT = 90;
/** Requests per run: a run answers Forge's trigger in seconds, and the next hour continues. */
export const REPORTS_PER_RUN = 20;
/**
 * Time one run may spend before it stops and keeps its progress. With one request's own limit on top,
 * a run answers within 4.5 s, inside the 5 s Forge waits for a remote's scheduled trigger; a trigger
 * Forge retries anyway only continues from the kept cursor.
 */
export const RUN_BUDGET_MS = 2_000;
/** Each request's own limit. */
export const REPORT_TIMEOUT_MS = 2_500;
/**
 * A new cycle starts this long after the last one ended: Atlassian's default cycle period is 7 days,
 * and an app should not report more often than that (developer.atlassian.com/platform/forge/
 * user-privacy-guidelines; docs/marketplace.md says what was verified).
 */
export const DEFAULT_CYCLE_SECONDS = 7 * 24 * 60 * 60;
/** Longest wait a `Retry-After` may impose before the next run tries again. */
const MAX_RETRY_AFTER_SECONDS = 24 * 60 * 60;
const DEFAULT_RETRY_AFTER_SECONDS = 60;
export const DEFAULT_ATLASSIAN_API_BASE_URL = "https://api.atlassian.com";

export interface PrivacyVars {
  /** Where `/app/report-accounts/` is; Atlassian's by default, the stand-in's in the dev stack. */
  readonly ATLASSIAN_API_BASE_URL?: string;
  readonly PERSONAL_DATA_CYCLE_SECONDS?: string;
  readonly DEV_ALLOW_LOOPBACK_HTTP?: string;
}

export type ReportState =
  /** The last cycle ended recently; nothing to do until `nextAt`. */
  | "current"
  /** Atlassian asked us to wait (429); the run after `retryAt` continues. */
  | "waiting"
  /** This run reported some accounts; later runs continue the cycle. */
  | "in-progress"
  /** This run reported the cycle's last accounts. */
  | "completed"
  /**
   * Atlassian failed after this run had reported some accounts: what was reported (and anonymized) is
   * kept and counted, `failure` says what went wrong, and the next run continues from there.
   */
  | "interrupted";

export interface ReportOutcome {
  readonly state: ReportState;
  /** Accounts reported in this run. */
  readonly reported: number;
  /** Of which Atlassian said closed; each was anonymized in every stored row. */
  readonly closed: number;
  readonly updated: number;
  /** ms: when the next cycle is due (`current`) or when Atlassian lets us call again (`waiting`). */
  readonly nextAt?: number;
  /** `interrupted` only: the ATLASSIAN_UNAVAILABLE error that stopped the run. */
  readonly failure?: ApiError;
}

interface CycleRow {
  cycle_started_at: number | null;
  cursor: string | null;
  completed_at: number | null;
  retry_after: number | null;
}

/** The reporting endpoint for this deployment, or NOT_CONFIGURED when the base URL is not acceptable. */
export function reportAccountsUrl(env: PrivacyVars): string {
  const base = acceptableApiBaseUrl(
    env.ATLASSIAN_API_BASE_URL || DEFAULT_ATLASSIAN_API_BASE_URL,
    env.DEV_ALLOW_LOOPBACK_HTTP === "true",
  );
  if (base === undefined)
    throw new ApiError("NOT_CONFIGURED", "ATLASSIAN_API_BASE_URL must be an https URL.");
  return `${base.href.replace(/\/+$/, "")}/app/report-accounts/`;
}

function cycleSeconds(env: PrivacyVars): number {
  const n = Number(env.PERSONAL_DATA_CYCLE_SECONDS);
  return Number.isSafeInteger(n) && n > 0 ? n : DEFAULT_CYCLE_SECONDS;
}

/**
 * One run of the tenant's reporting cycle with the app's system token. Throws ATLASSIAN_UNAVAILABLE
 * when Atlassian fails or refuses the token — after keeping whatever was reported before.
 */
export async function reportPersonalData(
  env: PrivacyVars & { readonly DB: D1Database },
  tenantId: string,
  systemToken: string,
  clock: () => number = Date.now,
): Promise<ReportOutcome> {
  const db = env.DB;
  const url = reportAccountsUrl(env);
  const started = clock();
  const row = await db
    .prepare(
      "SELECT cycle_started_at, cursor, completed_at, retry_after FROM personal_data_reports WHERE tenant_id = ?",
    )
    .bind(tenantId)
    .first<CycleRow>();
  const none = { reported: 0, closed: 0, updated: 0 };
  if (row?.retry_after != null && row.retry_after > started)
    return { state: "waiting", ...none, nextAt: row.retry_after };
  let cursor = row?.cursor ?? undefined;
  if (row?.cycle_started_at == null) {
    const nextAt = row?.completed_at == null ? 0 : row.completed_at + cycleSeconds(env) * 1000;
    if (nextAt > started) return { state: "current", ...none, nextAt };
    await db
      .prepare(
        `INSERT INTO personal_data_reports (tenant_id, cycle_started_at, cursor, accounts, closed, updated, retry_after)
         VALUES (?1, ?2, NULL, 0, 0, 0, NULL)
         ON CONFLICT (tenant_id) DO UPDATE SET cycle_started_at = ?2, cursor = NULL, accounts = 0, closed = 0,
           updated = 0, retry_after = NULL`,
      )
      .bind(tenantId, started)
      .run();
    cursor = undefined;
  }

  const totals = { reported: 0, closed: 0, updated: 0 };
  for (let request = 0; request < REPORTS_PER_RUN && clock() - started < RUN_BUDGET_MS; request++) {
    const batch = await storedAccounts(db, tenantId, {
      limit: ACCOUNTS_PER_REPORT,
      ...(cursor === undefined ? {} : { after: cursor }),
    });
    if (batch.length === 0) {
      await db
        .prepare(
          "UPDATE personal_data_reports SET cycle_started_at = NULL, cursor = NULL, completed_at = ? WHERE tenant_id = ?",
        )
        .bind(clock(), tenantId)
        .run();
      return { state: "completed", ...totals };
    }
    let answer: ReportAnswer;
    try {
      answer = await postReport(url, systemToken, batch);
    } catch (error) {
      // Nothing done yet: the caller sees the error. Something done: it is kept, and said (audited).
      if (totals.reported === 0 || !(error instanceof ApiError)) throw error;
      return { state: "interrupted", ...totals, failure: error };
    }
    if (answer.kind === "wait") {
      const retryAt = clock() + answer.seconds * 1000;
      await db
        .prepare("UPDATE personal_data_reports SET retry_after = ? WHERE tenant_id = ?")
        .bind(retryAt, tenantId)
        .run();
      return { state: "waiting", ...totals, nextAt: retryAt };
    }
    // Only accounts this request reported can be closed by its answer.
    const asked = new Set(batch.map((account) => account.accountId));
    const closedIds = new Set<string>();
    let updated = 0;
    for (const { accountId, status } of answer.accounts) {
      if (!asked.has(accountId)) continue;
      if (status === "closed") closedIds.add(accountId);
      else updated++;
    }
    const closed = closedIds.size;
    cursor = (batch.at(-1) as StoredAccount).accountId;
    // The anonymization and the cursor move together, in one transaction of a fixed number of
    // statements: a crash or a timeout between them can neither lose a closure nor report twice.
    await db.batch([
      ...anonymizeStatements(db, tenantId, [...closedIds]),
      db
        .prepare(
          `UPDATE personal_data_reports SET cursor = ?, accounts = accounts + ?, closed = closed + ?,
             updated = updated + ?, retry_after = NULL WHERE tenant_id = ?`,
        )
        .bind(cursor, batch.length, closed, updated, tenantId),
    ]);
    totals.reported += batch.length;
    totals.closed += closed;
    totals.updated += updated;
  }
  return { state: "in-progress", ...totals };
}

type ReportAnswer =
  | {
      readonly kind: "answered";
      readonly accounts: readonly { accountId: string; status: "closed" | "updated" }[];
    }
  | { readonly kind: "wait"; readonly seconds: number };

async function postReport(
  url: string,
  token: string,
  batch: readonly StoredAccount[],
): Promise<ReportAnswer> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        accept: "application/json",
      },
      body: JSON.stringify({
        accounts: batch.map((a) => ({
          accountId: a.accountId,
          updatedAt: new Date(a.updatedAt).toISOString(),
        })),
      }),
      redirect: "manual",
      signal: AbortSignal.timeout(REPORT_TIMEOUT_MS),
    });
  } catch {
    throw new ApiError("ATLASSIAN_UNAVAILABLE", "Atlassian's personal data reporting API did not answer.");
  }
  if (response.status === 204) return { kind: "answered", accounts: [] };
  if (response.status === 429) {
    await response.body?.cancel();
    return { kind: "wait", seconds: retryAfterSeconds(response.headers.get("retry-after")) };
  }
  if (response.status === 200) {
    const accounts = parseAnswer(await response.json().catch(() => undefined));
    if (accounts !== undefined) return { kind: "answered", accounts };
    throw new ApiError(
      "ATLASSIAN_UNAVAILABLE",
      "Atlassian's personal data reporting API answered an unexpected body.",
    );
  }
  await response.body?.cancel();
  throw new ApiError(
    "ATLASSIAN_UNAVAILABLE",
    `Atlassian's personal data reporting API answered ${response.status}${
      response.status === 401 || response.status === 403 ? " (the app's system token was refused)" : ""
    }.`,
  );
}

/** `{accounts: [{accountId, status}]}`; entries of another shape or status are ignored, not trusted. */
function parseAnswer(body: unknown): { accountId: string; status: "closed" | "updated" }[] | undefined {
  const list = (body as { accounts?: unknown } | undefined)?.accounts;
  if (!Array.isArray(list)) return undefined;
  const accounts: { accountId: string; status: "closed" | "updated" }[] = [];
  for (const item of list) {
    const { accountId, status } = (item ?? {}) as { accountId?: unknown; status?: unknown };
    if (typeof accountId !== "string" || !ACCOUNT_ID.test(accountId)) continue;
    if (status === "closed" || status === "updated") accounts.push({ accountId, status });
  }
  return accounts;
}

/** `Retry-After` in seconds (or an HTTP date), bounded; a missing or odd value waits a minute. */
function retryAfterSeconds(header: string | null): number {
  if (header === null) return DEFAULT_RETRY_AFTER_SECONDS;
  const seconds = /^\d{1,10}$/.test(header.trim())
    ? Number(header.trim())
    : (Date.parse(header) - Date.now()) / 1000;
  if (!Number.isFinite(seconds) || seconds < 1) return DEFAULT_RETRY_AFTER_SECONDS;
  return Math.min(Math.ceil(seconds), MAX_RETRY_AFTER_SECONDS);
}
