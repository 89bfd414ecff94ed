/**
 * Tenants: one installation of one Forge app on one Confluence site (DESIGN §6.3). The tenant's key
 * everywhere — rows, R2 prefixes, Worker tags, grants — is its 3-byte short id (core ids.ts), so the
 * id is allocated here at random under the table's PRIMARY KEY and retried on the rare collision.
 */

import { cryptoRandomBytes, newTenantShortId, type RandomBytes, type TenantShortId } from "@mini-sites/core";
import { type Clock, type D1Database, isUniqueViolation, systemClock } from "./d1.ts";

/**
 * Attempts at a fresh random short id before giving up. With 2^24 ids, even a deployment holding a
 * million tenants collides with probability 1/16 per attempt, so 8 attempts fail once in 4 × 10^9.
 */
export const TENANT_ID_ATTEMPTS = 8;

export type TenantStatus = "active" | "purging";

export interface Tenant {
  readonly id: TenantShortId;
  readonly forgeAppId: string;
  readonly cloudId: string;
  readonly installationId: string;
  readonly status: TenantStatus;
  readonly createdAt: number;
}

/** What identifies an installation; taken from a verified FIT (or the dev stack's default tenant), never from a request parameter. */
export interface Installation {
  readonly forgeAppId: string;
  readonly cloudId: string;
  readonly installationId: string;
}

interface TenantRow {
  id: string;
  forge_app_id: string;
  cloud_id: string;
  installation_id: string;
  status: TenantStatus;
  created_at: number;
}

function toTenant(row: TenantRow): Tenant {
  return {
    id: row.id as TenantShortId,
    forgeAppId: row.forge_app_id,
    cloudId: row.cloud_id,
    installationId: row.installation_id,
    status: row.status,
    createdAt: row.created_at,
  };
}

const COLUMNS = "id, forge_app_id, cloud_id, installation_id, status, created_at";

export async function getTenant(db: D1Database, id: TenantShortId): Promise<Tenant | undefined> {
  const row = await db.prepare(`SELECT ${COLUMNS} FROM tenants WHERE id = ?`).bind(id).first<TenantRow>();
  return row === null ? undefined : toTenant(row);
}

export async function findTenant(db: D1Database, installation: Installation): Promise<Tenant | undefined> {
  const row = await db
    .prepare(`SELECT ${COLUMNS} FROM tenants WHERE forge_app_id = ? AND cloud_id = ?`)
    .bind(installation.forgeAppId, installation.cloudId)
    .first<TenantRow>();
  return row === null ? undefined : toTenant(row);
}

export class TenantIdExhausted extends Error {
  constructor() {
    super(`no free tenant short id after ${TENANT_ID_ATTEMPTS} attempts`);
    this.name = "TenantIdExhausted";
  }
}

/**
 * The tenant of an installation, created on first sight. Safe under concurrency: two first requests
 * of one installation race on UNIQUE (forge_app_id, cloud_id) — `ON CONFLICT DO NOTHING` makes the
 * loser's insert a no-op and both read the winner's row — while a short-id collision with ANOTHER
 * tenant fails on the primary key and is retried with a new random id. An id whose audit chain exists
 * (a tenant erased earlier) is never handed out again, so a new tenant cannot read an old one's audit.
 * `created` says whether this call made the row.
 */
export async function ensureTenant(
  db: D1Database,
  installation: Installation,
  options: { now?: Clock; random?: RandomBytes } = {},
): Promise<Tenant & { readonly created: boolean }> {
  const existing = await findTenant(db, installation);
  if (existing !== undefined) return { ...existing, created: false };
  const now = options.now ?? systemClock;
  const random = options.random ?? cryptoRandomBytes;
  for (let attempt = 0; attempt < TENANT_ID_ATTEMPTS; attempt++) {
    const id = newTenantShortId(random);
    let inserted = 0;
    try {
      const result = await db
        .prepare(
          `INSERT INTO tenants (id, forge_app_id, cloud_id, installation_id, created_at)
           SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS (SELECT 1 FROM audit_entries WHERE chain = 'tenant:' || ?1)
           ON CONFLICT (forge_app_id, cloud_id) DO NOTHING`,
        )
        .bind(id, installation.forgeAppId, installation.cloudId, installation.installationId, now())
        .run();
      inserted = result.meta.changes;
    } catch (error) {
      if (isUniqueViolation(error, "tenants.id")) continue;
      throw error;
    }
    const found = await findTenant(db, installation);
    if (found !== undefined) return { ...found, created: inserted === 1 && found.id === id };
  }
  throw new TenantIdExhausted();
}
