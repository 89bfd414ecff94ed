/**
 * The personal data the product stores, and nothing else: Atlassian account ids. A Forge user is
 * named `forge:<accountId>` (policy/kinds.ts actorOf) in the columns below, and audit rows name them
 * by pseudonym (audit_actors, pseudonyms.ts). This module is the one list of those places: what is
 * reported to Atlassian (report.ts) and what is rewritten when Atlassian says an account was closed.
 *
 * Atlassian account ids are 1–128 characters of letters, digits, `-` and `:`
 * (developer.atlassian.com/platform/forge/user-privacy-guidelines), the one pattern the FIT check
 * also uses (core ACCOUNT_ID_PATTERN): an id accepted at the door is always pseudonymized, reported
 * and anonymized. `~` can never appear in one:
 * `forge:~<hex>` (a pseudonym) and `forge:closed~<hex>` (an anonymized account) cannot be mistaken
 * for a real account.
 */

import { ACCOUNT_ID_PATTERN, hexEncode } from "@mini-sites/core";
import type { D1Database, D1PreparedStatement } from "../db/d1.ts";

export const FORGE_USER_PREFIX = "forge:";
/** What a closed account becomes in stored rows: `forge:closed~<random>`. */
export const CLOSED_ACTOR_PREFIX = "forge:closed~";
/** An account id as Atlassian issues them, and as the FIT check accepts them. */
export const ACCOUNT_ID = ACCOUNT_ID_PATTERN;
/** The same test in SQL, on the value after `forge:` (GLOB: no character outside the set). */
const SQL_ACCOUNT_ID = (expr: string) =>
  `(length(${expr}) BETWEEN 1 AND 128 AND ${expr} NOT GLOB '*[^A-Za-z0-9:-]*')`;

/** The account id of a `forge:<accountId>` actor; undefined for anything else (tokens, apps, closed). */
export function accountIdOfActor(actor: string): string | undefined {
  if (!actor.startsWith(FORGE_USER_PREFIX)) return undefined;
  const accountId = actor.slice(FORGE_USER_PREFIX.length);
  return ACCOUNT_ID.test(accountId) ? accountId : undefined;
}

/**
 * Every column that holds `forge:<accountId>`, with the time that says how fresh the row is (the
 * report's `updatedAt`). A new column that stores an actor must be added here — the privacy test reads
 * the schema and fails on any `*_by` column this list does not name.
 */
export const ACCOUNT_COLUMNS = [
  { table: "versions", column: "published_by", at: "created_at" },
  { table: "macro_bindings", column: "created_by", at: "updated_at" },
  { table: "upload_tickets", column: "created_by", at: "created_at" },
  { table: "api_tokens", column: "created_by", at: "created_at" },
  { table: "tenant_settings", column: "updated_by", at: "updated_at" },
  { table: "accepted_findings", column: "accepted_by", at: "accepted_at" },
  { table: "monitors", column: "created_by", at: "created_at" },
] as const;

export interface StoredAccount {
  readonly accountId: string;
  /** When a stored row naming the account was last written (ms). */
  readonly updatedAt: number;
}

/**
 * The tenant's stored account ids after `cursor` (exclusive), in order, at most `limit`, with the
 * latest time each was written. Rows whose value is not a well-formed account id are left out (they
 * are pseudonyms, anonymized accounts or app actors).
 */
export async function storedAccounts(
  db: D1Database,
  tenantId: string,
  options: { after?: string; limit: number },
): Promise<StoredAccount[]> {
  const after = options.after ?? "";
  // One query per place (D1 caps a compound SELECT at a handful of terms), in one round trip: each
  // gives its first `limit` accounts after the cursor, so together they hold the first `limit` overall.
  const perColumn = ACCOUNT_COLUMNS.map(({ table, column, at }) =>
    db
      .prepare(
        // Ill-formed values are left out here, before LIMIT counts them: a page of them must never
        // push a well-formed account past the cursor unreported.
        `SELECT substr(${column}, ${FORGE_USER_PREFIX.length + 1}) AS account_id, MAX(${at}) AS at FROM ${table}
         WHERE tenant_id = ?1 AND ${column} GLOB 'forge:*' AND ${column} > ?2
           AND ${SQL_ACCOUNT_ID(`substr(${column}, ${FORGE_USER_PREFIX.length + 1})`)}
         GROUP BY ${column} ORDER BY ${column} LIMIT ?3`,
      )
      .bind(tenantId, `${FORGE_USER_PREFIX}${after}`, options.limit),
  );
  const pseudonymized = db
    .prepare(
      `SELECT account_id, first_seen_at AS at FROM audit_actors WHERE tenant_id = ?1 AND account_id > ?2
         AND ${SQL_ACCOUNT_ID("account_id")}
       ORDER BY account_id LIMIT ?3`,
    )
    .bind(tenantId, after, options.limit);
  const latest = new Map<string, number>();
  for (const result of await db.batch<{ account_id: string; at: number }>([...perColumn, pseudonymized]))
    for (const row of result.results)
      if (ACCOUNT_ID.test(row.account_id))
        latest.set(row.account_id, Math.max(latest.get(row.account_id) ?? 0, row.at));
  return [...latest]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, options.limit)
    .map(([accountId, updatedAt]) => ({ accountId, updatedAt }));
}

/**
 * The statements that remove closed accounts from every stored row of the tenant — one per column and
 * one for the pseudonyms however many accounts closed, for the caller to run in ONE batch with its own
 * bookkeeping (D1 runs a batch as a transaction): each column naming an account gets
 * `forge:closed~<random>` (the same value everywhere for one account, so "these were one person" stays
 * true), and its audit pseudonym's mapping is deleted (the audit rows keep the pseudonym and verify).
 */
export function anonymizeStatements(
  db: D1Database,
  tenantId: string,
  accountIds: readonly string[],
): D1PreparedStatement[] {
  const ids = [...new Set(accountIds.filter((id) => ACCOUNT_ID.test(id)))];
  if (ids.length === 0) return [];
  // {"forge:<accountId>": "forge:closed~<random>"}, read in SQL with json_each.
  const replacements = JSON.stringify(
    Object.fromEntries(
      ids.map((id) => [
        `${FORGE_USER_PREFIX}${id}`,
        `${CLOSED_ACTOR_PREFIX}${hexEncode(crypto.getRandomValues(new Uint8Array(8)))}`,
      ]),
    ),
  );
  return [
    ...ACCOUNT_COLUMNS.map(({ table, column }) =>
      db
        .prepare(
          `UPDATE ${table} SET ${column} = (SELECT value FROM json_each(?1) WHERE key = ${table}.${column})
           WHERE tenant_id = ?2 AND ${column} IN (SELECT key FROM json_each(?1))`,
        )
        .bind(replacements, tenantId),
    ),
    db
      .prepare(
        "DELETE FROM audit_actors WHERE tenant_id = ?1 AND account_id IN (SELECT value FROM json_each(?2))",
      )
      .bind(tenantId, JSON.stringify(ids)),
  ];
}

/** Anonymizes one closed account now (anonymizeStatements, alone in a batch); how many rows changed. */
export async function anonymizeAccount(db: D1Database, tenantId: string, accountId: string): Promise<number> {
  const statements = anonymizeStatements(db, tenantId, [accountId]);
  if (statements.length === 0) return 0;
  const results = await db.batch(statements);
  return results.reduce((sum, result) => sum + (result.meta.changes ?? 0), 0);
}
