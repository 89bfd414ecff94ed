/**
 * Pages Confluence said were trashed or deleted (migration 0005), per tenant. A page with no row is
 * live. Every write is idempotent: an event delivered twice leaves the same row.
 */

import type { TenantShortId } from "@mini-sites/core";
import type { D1Database } from "./d1.ts";

export type PageState = "trashed" | "deleted";

export async function getPageState(
  db: D1Database,
  tenant: TenantShortId,
  contentId: string,
): Promise<PageState | undefined> {
  const row = await db
    .prepare("SELECT state FROM page_states WHERE tenant_id = ? AND content_id = ?")
    .bind(tenant, contentId)
    .first<{ state: PageState }>();
  return row?.state;
}

/** Trashed, or deleted with the moment its sites may be erased (a second delete keeps the first moment). */
export async function setPageState(
  db: D1Database,
  tenant: TenantShortId,
  contentId: string,
  state: PageState,
  now: number,
  purgeAfter: number | null,
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO page_states (tenant_id, content_id, state, changed_at, purge_after) VALUES (?1, ?2, ?3, ?4, ?5)
       ON CONFLICT (tenant_id, content_id) DO UPDATE SET
         purge_after = CASE WHEN page_states.state = ?3 THEN page_states.purge_after ELSE ?5 END,
         changed_at = CASE WHEN page_states.state = ?3 THEN page_states.changed_at ELSE ?4 END,
         state = ?3`,
    )
    .bind(tenant, contentId, state, now, purgeAfter)
    .run();
}

/** Restored: the page is live again. */
export async function clearPageState(
  db: D1Database,
  tenant: TenantShortId,
  contentId: string,
): Promise<void> {
  await db
    .prepare("DELETE FROM page_states WHERE tenant_id = ? AND content_id = ?")
    .bind(tenant, contentId)
    .run();
}

/** Deleted pages whose grace period is over, oldest first (every tenant: the cron's view). */
export async function deletedPagesDue(
  db: D1Database,
  now: number,
  limit: number,
): Promise<{ tenantId: TenantShortId; contentId: string }[]> {
  const { results } = await db
    .prepare(
      `SELECT p.tenant_id, p.content_id FROM page_states p JOIN tenants t ON t.id = p.tenant_id
       WHERE p.state = 'deleted' AND p.purge_after <= ? AND t.status = 'active'
       ORDER BY p.purge_after LIMIT ?`,
    )
    .bind(now, limit)
    .all<{ tenant_id: string; content_id: string }>();
  return results.map((r) => ({ tenantId: r.tenant_id as TenantShortId, contentId: r.content_id }));
}
