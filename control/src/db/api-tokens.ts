/**
 * The D1 store behind API tokens (control/src/auth/api-tokens.ts defines the token format, hashing and
 * verification; this file only keeps records). Only the SHA-256 digest is stored; revocation is
 * tenant-scoped like every other write.
 */

import type { ApiTokenRecord, ApiTokenScope, ApiTokenStore } from "../auth/api-tokens.ts";
import type { D1Database } from "./d1.ts";

interface ApiTokenRow {
  tenant_id: string;
  id: string;
  token_hash: string;
  prefix: string;
  label: string;
  scopes: string;
  created_by: string | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
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
