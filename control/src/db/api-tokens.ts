/**
 * The D1 store behind API tokens (control/src/auth/api-tokens.ts defines the token format, hashing and
 * verification; this file only keeps records). Only the SHA-256 digest is stored; revocation is
 * tenant-scoped like every other write.
 */

import type { ApiTokenRecord, ApiTokenScope, ApiTokenStore } from "../auth/api-tokens.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import type { D1Database } from "./d1.ts";
import { InvalidCursor, type Page } from "./sites.ts";

/** The columns of a summary (ApiTokenSummaryRow below) but `last_used_at`, plus the tenant and digest. */
interface ApiTokenRow extends Omit<ApiTokenSummaryRow, "last_used_at"> {
  tenant_id: string;
  token_hash: string;
}

function toRecord(row: ApiTokenRow): ApiTokenRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    hash: row.token_hash,
    displayPrefix: row.prefix,
    scopes: JSON.parse(row.scopes) as ApiTokenScope[],
    label: row.label,
    createdAt: row.created_at,
    ...(row.created_by === null ? {} : { createdBy: row.created_by }),
    ...(row.expires_at === null ? {} : { expiresAt: row.expires_at }),
    ...(row.revoked_at === null ? {} : { revokedAt: row.revoked_at }),
  };
}

export class D1ApiTokenStore implements ApiTokenStore {
  readonly #db: D1Database;
  constructor(db: D1Database) {
    this.#db = db;
  }

  async findByHash(hash: string): Promise<ApiTokenRecord | undefined> {
    const row = await this.#db
      .prepare(
        `SELECT tenant_id, id, token_hash, prefix, label, scopes, created_by, created_at, expires_at, revoked_at
         FROM api_tokens WHERE token_hash = ?`,
      )
      .bind(hash)
      .first<ApiTokenRow>();
    return row === null ? undefined : toRecord(row);
  }

  async insert(record: ApiTokenRecord): Promise<void> {
    await this.#db
      .prepare(
        `INSERT INTO api_tokens (tenant_id, id, token_hash, prefix, label, scopes, created_by, created_at, expires_at, revoked_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(
        record.tenantId,
        record.id,
        record.hash,
        record.displayPrefix,
        record.label,
        JSON.stringify(record.scopes),
        record.createdBy ?? null,
        record.createdAt,
        record.expiresAt ?? null,
        record.revokedAt ?? null,
      )
      .run();
  }

  async revoke(tenantId: string, tokenId: string, at: number): Promise<boolean> {
    const result = await this.#db
      .prepare("UPDATE api_tokens SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL")
      .bind(at, tenantId, tokenId)
      .run();
    if (result.meta.changes === 1) return true;
    // Already revoked still counts as "this tenant's token": revocation is idempotent.
    const row = await this.#db
      .prepare("SELECT 1 AS found FROM api_tokens WHERE tenant_id = ? AND id = ?")
      .bind(tenantId, tokenId)
      .first<{ found: number }>();
    return row !== null;
  }
}

/**
 * A token as its tenant's managers see it (`GET /v1/tokens`). Read from columns that exclude
 * `token_hash`, so no listing can leak a digest, whatever a route later does with the object.
 */
export interface ApiTokenSummary {
  readonly id: string;
  readonly displayPrefix: string;
  readonly label: string;
  readonly scopes: readonly ApiTokenScope[];
  readonly createdAt: number;
  readonly createdBy: string | null;
  readonly expiresAt: number | null;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
}

interface ApiTokenSummaryRow {
  id: string;
  prefix: string;
  label: string;
  scopes: string;
  created_by: string | null;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

const SUMMARY_COLUMNS =
  "id, prefix, label, scopes, created_by, created_at, expires_at, last_used_at, revoked_at";
const TOKENS_LISTING = "api-tokens";

function toSummary(row: ApiTokenSummaryRow): ApiTokenSummary {
  return {
    id: row.id,
    displayPrefix: row.prefix,
    label: row.label,
    scopes: JSON.parse(row.scopes) as ApiTokenScope[],
    createdAt: row.created_at,
    createdBy: row.created_by,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

/** One of `tenantId`'s tokens; another tenant's id reads as missing. */
export async function getApiToken(
  db: D1Database,
  tenantId: string,
  tokenId: string,
): Promise<ApiTokenSummary | undefined> {
  const row = await db
    .prepare(`SELECT ${SUMMARY_COLUMNS} FROM api_tokens WHERE tenant_id = ? AND id = ?`)
    .bind(tenantId, tokenId)
    .first<ApiTokenSummaryRow>();
  return row === null ? undefined : toSummary(row);
}

/** A tenant's tokens, newest first, revoked ones included; keyset-paginated like the sites listing. */
export async function listApiTokens(
  db: D1Database,
  tenantId: string,
  page: { limit: number; cursor?: string | undefined },
): Promise<Page<ApiTokenSummary>> {
  const take = page.limit + 1;
  let statement: ReturnType<D1Database["prepare"]>;
  if (page.cursor === undefined) {
    statement = db
      .prepare(
        `SELECT ${SUMMARY_COLUMNS} FROM api_tokens WHERE tenant_id = ?
         ORDER BY created_at DESC, id DESC LIMIT ?`,
      )
      .bind(tenantId, take);
  } else {
    const key = decodeCursor(TOKENS_LISTING, page.cursor, ["integer", "string"]);
    if (key === undefined) throw new InvalidCursor();
    const [createdAt, id] = key;
    statement = db
      .prepare(
        `SELECT ${SUMMARY_COLUMNS} FROM api_tokens WHERE tenant_id = ? AND (created_at, id) < (?, ?)
         ORDER BY created_at DESC, id DESC LIMIT ?`,
      )
      .bind(tenantId, createdAt, id, take);
  }
  const { results } = await statement.all<ApiTokenSummaryRow>();
  const items = results.slice(0, page.limit).map(toSummary);
  const last = items[items.length - 1];
  const nextCursor =
    results.length > page.limit && last !== undefined
      ? encodeCursor(TOKENS_LISTING, [last.createdAt, last.id])
      : null;
  return { items, nextCursor };
}

/**
 * How stale `last_used_at` may get: a busy CI token would otherwise cost a D1 write per request. A
 * minute is precise enough to answer "is this token still in use?", the question the column is for.
 */
export const LAST_USED_GRANULARITY_MS = 60_000;

/** Notes that a token authenticated a request (at most one write per token per LAST_USED_GRANULARITY_MS). */
export async function recordApiTokenUse(db: D1Database, tokenId: string, at: number): Promise<void> {
  await db
    .prepare(
      "UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)",
    )
    .bind(at, tokenId, at - LAST_USED_GRANULARITY_MS)
    .run();
}
