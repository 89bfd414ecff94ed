/**
 * A tenant's own settings (migration 0004): today the CSP allow-lists its admin sets for its sites.
 * No row means the deployment's defaults (empty lists on top of them).
 */

import type { TenantShortId } from "@mini-sites/core";
import type { D1Database } from "./d1.ts";

export interface TenantSettings {
  readonly cdnAllowList: readonly string[];
  readonly connectAllowList: readonly string[];
  readonly updatedBy: string | null;
  readonly updatedAt: number | null;
}

export const DEFAULT_TENANT_SETTINGS: TenantSettings = {
  cdnAllowList: [],
  connectAllowList: [],
  updatedBy: null,
  updatedAt: null,
};

export async function getTenantSettings(db: D1Database, tenant: TenantShortId): Promise<TenantSettings> {
  const row = await db
    .prepare(
      "SELECT cdn_allow_list, connect_allow_list, updated_by, updated_at FROM tenant_settings WHERE tenant_id = ?",
    )
    .bind(tenant)
    .first<{ cdn_allow_list: string; connect_allow_list: string; updated_by: string; updated_at: number }>();
  if (row === null) return DEFAULT_TENANT_SETTINGS;
  return {
    cdnAllowList: JSON.parse(row.cdn_allow_list) as string[],
    connectAllowList: JSON.parse(row.connect_allow_list) as string[],
    updatedBy: row.updated_by,
    updatedAt: row.updated_at,
  };
}

export async function putTenantSettings(
  db: D1Database,
  tenant: TenantShortId,
  settings: { cdnAllowList: readonly string[]; connectAllowList: readonly string[] },
  actor: string,
  now: number,
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO tenant_settings (tenant_id, cdn_allow_list, connect_allow_list, updated_by, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5)
       ON CONFLICT (tenant_id) DO UPDATE SET cdn_allow_list = ?2, connect_allow_list = ?3, updated_by = ?4, updated_at = ?5`,
    )
    .bind(
      tenant,
      JSON.stringify(settings.cdnAllowList),
      JSON.stringify(settings.connectAllowList),
      actor,
      now,
    )
    .run();
}
