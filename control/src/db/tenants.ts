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
  /** While `purging`: when its erasure may start (an uninstall's grace period); null otherwise. */
  readonly purgeAfter: number | null;
  /** The Marketplace license as the latest production FIT said (null: never told; not enforced). */
  readonly licenseState: "active" | "inactive" | null;
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
  purge_after: number | null;
  license_state: "active" | "inactive" | null;
  created_at: number;
}

function toTenant(row: TenantRow): Tenant {
  return {
    id: row.id as TenantShortId,
    forgeAppId: row.forge_app_id,
    cloudId: row.cloud_id,
    installationId: row.installation_id,
    status: row.status,
    purgeAfter: row.purge_after,
    licenseState: row.license_state,
    createdAt: row.created_at,
  };
}

const COLUMNS = "id, forge_app_id, cloud_id, installation_id, status, purge_after, license_state, created_at";

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

/**
 * Uninstall (Forge's preUninstall): the tenant is `purging` from now on — no new grants, its tokens
 * refused, every Forge caller answered TENANT_PURGING — and may be erased from `purgeAfter`. Only the
 * installation the tenant belongs to can schedule it (a late event of an earlier installation changes
 * nothing), and a second call keeps the first deadline. Returns whether the tenant is now purging.
 */
export async function scheduleTenantPurge(
  db: D1Database,
  tenant: TenantShortId,
  installationId: string,
  purgeAfter: number,
): Promise<boolean> {
  await db
    .prepare(
      `UPDATE tenants SET status = 'purging', purge_after = COALESCE(purge_after, ?)
       WHERE id = ? AND installation_id = ?`,
    )
    .bind(purgeAfter, tenant, installationId)
    .run();
  const row = await getTenant(db, tenant);
  return row?.status === "purging" && row.installationId === installationId;
}

/**
 * Reinstall within the grace period (`avi:forge:installed:app`): the tenant serves again, now as the
 * installation that was just installed (Forge may give a reinstall a new installation id). Refused
 * once the erasure may have started (`purgeAfter` passed): what is half-erased is finished, and the
 * next install gets a fresh tenant. Returns the tenant as it now is.
 */
export async function restoreTenant(
  db: D1Database,
  tenant: TenantShortId,
  installationId: string,
  now: number,
): Promise<Tenant | undefined> {
  await db
    .prepare(
      `UPDATE tenants SET status = 'active', purge_after = NULL, installation_id = ?
       WHERE id = ? AND status = 'purging' AND purge_after > ?`,
    )
    .bind(installationId, tenant, now)
    .run();
  return getTenant(db, tenant);
}

/**
 * An active tenant recorded for another installation id of the same app and site: Forge's signed
 * install event names the installation that is the app's now, and the tenant follows it.
 */
export async function reassignInstallation(
  db: D1Database,
  tenant: TenantShortId,
  installationId: string,
): Promise<Tenant | undefined> {
  await db
    .prepare("UPDATE tenants SET installation_id = ? WHERE id = ? AND status = 'active'")
    .bind(installationId, tenant)
    .run();
  return getTenant(db, tenant);
}

/** Records the license a production FIT carried (only when it changed: one write per change). */
export async function recordLicense(
  db: D1Database,
  tenant: TenantShortId,
  state: "active" | "inactive",
): Promise<void> {
  await db
    .prepare("UPDATE tenants SET license_state = ? WHERE id = ? AND license_state IS NOT ?")
    .bind(state, tenant, state)
    .run();
}

/** Tenants whose uninstall grace period is over: the cron erases them (and retries until done). */
export async function tenantsDueForPurge(db: D1Database, now: number, limit: number): Promise<Tenant[]> {
  const { results } = await db
    .prepare(
      `SELECT ${COLUMNS} FROM tenants WHERE status = 'purging' AND purge_after IS NOT NULL AND purge_after <= ?
       ORDER BY purge_after LIMIT ?`,
    )
    .bind(now, limit)
    .all<TenantRow>();
  return results.map(toTenant);
}

/** Active tenants, page by page (reconcile). */
export async function activeTenantsAfter(db: D1Database, after: string, limit: number): Promise<Tenant[]> {
  const { results } = await db
    .prepare(`SELECT ${COLUMNS} FROM tenants WHERE status = 'active' AND id > ? ORDER BY id LIMIT ?`)
    .bind(after, limit)
    .all<TenantRow>();
  return results.map(toTenant);
}
