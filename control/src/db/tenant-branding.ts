/**
 * A tenant's branding (migration 0011): the display name and support link its admin page shows.
 *
 * Who may write what: the owning Forge app proposes values at every registration, and they are kept
 * only where none is set yet — per field, decided by the database in ONE statement, so two sibling
 * control Workers registering the same tenant at once, a replayed registration, or a later app
 * version with other defaults can never overwrite a name the app, its sibling or the tenant's admin
 * already set. The tenant's admin replaces them (tenant settings, audited).
 */

import type { Branding, TenantShortId } from "@mini-sites/core";
import type { D1Database } from "./d1.ts";

export const NO_BRANDING: Branding = { displayName: null, supportUrl: null };

export async function getTenantBranding(db: D1Database, tenant: TenantShortId): Promise<Branding> {
  const row = await db
    .prepare("SELECT display_name, support_url FROM tenant_branding WHERE tenant_id = ?")
    .bind(tenant)
    .first<{ display_name: string | null; support_url: string | null }>();
  return row === null ? NO_BRANDING : { displayName: row.display_name, supportUrl: row.support_url };
}

/**
 * Registration: sets each proposed value only where the tenant has none. Answers whether anything
 * was written (for the audit log); a no-op proposal (both null) writes nothing.
 */
export async function proposeTenantBranding(
  db: D1Database,
  tenant: TenantShortId,
  proposed: Branding,
  now: number,
): Promise<boolean> {
  if (proposed.displayName === null && proposed.supportUrl === null) return false;
  // In an UPSERT's DO UPDATE, bare column names are the stored row and `excluded.` the proposal;
  // the WHERE makes a proposal that fills nothing a no-op (changes = 0), not a rewrite of equal values.
  const result = await db
    .prepare(
      `INSERT INTO tenant_branding (tenant_id, display_name, support_url, updated_by, updated_at)
       VALUES (?1, ?2, ?3, 'registration', ?4)
       ON CONFLICT (tenant_id) DO UPDATE SET
         display_name = COALESCE(display_name, excluded.display_name),
         support_url = COALESCE(support_url, excluded.support_url),
         updated_by = excluded.updated_by,
         updated_at = excluded.updated_at
       WHERE (display_name IS NULL AND excluded.display_name IS NOT NULL)
          OR (support_url IS NULL AND excluded.support_url IS NOT NULL)`,
    )
    .bind(tenant, proposed.displayName, proposed.supportUrl, now)
    .run();
  return result.meta.changes > 0;
}

/** The tenant's admin: replaces the fields given (`undefined` keeps a field as it is). */
export async function setTenantBranding(
  db: D1Database,
  tenant: TenantShortId,
  change: { readonly displayName?: string; readonly supportUrl?: string },
  now: number,
): Promise<void> {
  if (change.displayName === undefined && change.supportUrl === undefined) return;
  await db
    .prepare(
      `INSERT INTO tenant_branding (tenant_id, display_name, support_url, updated_by, updated_at)
       VALUES (?1, ?2, ?3, 'admin', ?4)
       ON CONFLICT (tenant_id) DO UPDATE SET
         display_name = COALESCE(excluded.display_name, display_name),
         support_url = COALESCE(excluded.support_url, support_url),
         updated_by = excluded.updated_by,
         updated_at = excluded.updated_at`,
    )
    .bind(tenant, change.displayName ?? null, change.supportUrl ?? null, now)
    .run();
}
