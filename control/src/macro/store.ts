/**
 * The Macro API's D1 queries: macro bindings (cloudId, content id, local id → site), and the few site,
 * version and job reads the macro needs. Every query takes the tenant and filters on it first, so a
 * binding, site or job of another tenant reads as "none" (DESIGN §6.3). Tenants, sites and versions
 * are created and read through db/ (one function per query), never here.
 *
 * A binding is keyed by (tenant, cloudId, content id, local id) — all from the FIT's signed context,
 * never from the request body (DESIGN §3 Serve). Because the content id is part of the key, a copied
 * page (new content id, same local id) has no binding: it reads as not published (DESIGN §3 Copy).
 */

import type { SiteId, TenantShortId } from "@mini-sites/core";
import type { D1Database } from "../db/d1.ts";

/** Where a macro sits: every part from the verified FIT. */
export interface MacroKey {
  readonly cloudId: string;
  readonly contentId: string;
  readonly localId: string;
}

export interface MacroBinding extends MacroKey {
  readonly tenantId: TenantShortId;
  readonly siteId: SiteId;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

interface BindingRow {
  tenant_id: string;
  cloud_id: string;
  content_id: string;
  local_id: string;
  site_id: string;
  created_by: string;
  created_at: number;
  updated_at: number;
}

const BINDING_COLUMNS =
  "tenant_id, cloud_id, content_id, local_id, site_id, created_by, created_at, updated_at";

function toBinding(row: BindingRow): MacroBinding {
  return {
    tenantId: row.tenant_id as TenantShortId,
    cloudId: row.cloud_id,
    contentId: row.content_id,
    localId: row.local_id,
    siteId: row.site_id as SiteId,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function getBinding(
  db: D1Database,
  tenantId: TenantShortId,
  key: MacroKey,
): Promise<MacroBinding | undefined> {
  const row = await db
    .prepare(
      `SELECT ${BINDING_COLUMNS} FROM macro_bindings
       WHERE tenant_id = ? AND cloud_id = ? AND content_id = ? AND local_id = ?`,
    )
    .bind(tenantId, key.cloudId, key.contentId, key.localId)
    .first<BindingRow>();
  return row === null ? undefined : toBinding(row);
}

/** Other macros bound to `siteId` in this tenant (at most `limit`), oldest first. */
export async function otherBindingsOfSite(
  db: D1Database,
  tenantId: TenantShortId,
  siteId: SiteId,
  except: MacroKey,
  limit: number,
): Promise<MacroBinding[]> {
  const { results } = await db
    .prepare(
      `SELECT ${BINDING_COLUMNS} FROM macro_bindings
       WHERE tenant_id = ? AND site_id = ? AND NOT (cloud_id = ? AND content_id = ? AND local_id = ?)
       ORDER BY created_at, content_id, local_id LIMIT ?`,
    )
    .bind(tenantId, siteId, except.cloudId, except.contentId, except.localId, limit)
    .all<BindingRow>();
  return results.map(toBinding);
}

/**
 * Binds the macro to a site of the same tenant (insert or re-point). The INSERT selects the site row by
 * (tenant, id), so a site of another tenant cannot be bound even if a caller forgot to check; the
 * schema's (tenant_id, site_id) foreign key says the same. Returns undefined when no such site exists
 * in the tenant.
 */
export async function bindMacro(
  db: D1Database,
  tenantId: TenantShortId,
  key: MacroKey,
  siteId: SiteId,
  actor: string,
  now: number,
): Promise<MacroBinding | undefined> {
  const row = await db
    .prepare(
      `INSERT INTO macro_bindings (tenant_id, cloud_id, content_id, local_id, site_id, created_by, created_at, updated_at)
       SELECT s.tenant_id, ?, ?, ?, s.id, ?, ?, ? FROM sites s WHERE s.tenant_id = ? AND s.id = ?
       ON CONFLICT (tenant_id, cloud_id, content_id, local_id)
       DO UPDATE SET site_id = excluded.site_id, updated_at = excluded.updated_at
       RETURNING ${BINDING_COLUMNS}`,
    )
    .bind(key.cloudId, key.contentId, key.localId, actor, now, now, tenantId, siteId)
    .first<BindingRow>();
  return row === null ? undefined : toBinding(row);
}

export interface MacroJob {
  readonly id: string;
  readonly version: number;
  readonly kind: string;
  readonly state: string;
  readonly step: string | null;
  readonly progress: number;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
  readonly updatedAt: number;
}

/** The site's most recent job (publish, rollback or re-provision), for the editor's progress display. */
export async function lastJobOfSite(
  db: D1Database,
  tenantId: TenantShortId,
  siteId: SiteId,
): Promise<MacroJob | undefined> {
  const row = await db
    .prepare(
      `SELECT id, version, kind, state, step, progress, error_code, error_message, updated_at FROM jobs
       WHERE tenant_id = ? AND site_id = ? ORDER BY created_at DESC, id DESC LIMIT 1`,
    )
    .bind(tenantId, siteId)
    .first<{
      id: string;
      version: number;
      kind: string;
      state: string;
      step: string | null;
      progress: number;
      error_code: string | null;
      error_message: string | null;
      updated_at: number;
    }>();
  return row === null
    ? undefined
    : {
        id: row.id,
        version: row.version,
        kind: row.kind,
        state: row.state,
        step: row.step,
        progress: row.progress,
        errorCode: row.error_code,
        errorMessage: row.error_message,
        updatedAt: row.updated_at,
      };
}

// --- Editor uploads in flight (upload_tickets, migration 0002) --------------------------------------

export interface UploadTicketRow {
  readonly id: string;
  readonly tenantId: TenantShortId;
  readonly siteId: SiteId;
  readonly sizeBytes: number;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly completedJobId: string | null;
  readonly completedVersion: number | null;
}

interface UploadTicketDbRow {
  id: string;
  tenant_id: string;
  site_id: string;
  size_bytes: number;
  created_by: string;
  created_at: number;
  expires_at: number;
  completed_job_id: string | null;
  completed_version: number | null;
}

const TICKET_COLUMNS =
  "id, tenant_id, site_id, size_bytes, created_by, created_at, expires_at, completed_job_id, completed_version";

function toTicket(row: UploadTicketDbRow): UploadTicketRow {
  return {
    id: row.id,
    tenantId: row.tenant_id as TenantShortId,
    siteId: row.site_id as SiteId,
    sizeBytes: row.size_bytes,
    createdBy: row.created_by,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    completedJobId: row.completed_job_id,
    completedVersion: row.completed_version,
  };
}

export async function insertUploadTicket(
  db: D1Database,
  ticket: Omit<UploadTicketRow, "completedJobId" | "completedVersion">,
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO upload_tickets (id, tenant_id, site_id, size_bytes, created_by, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      ticket.id,
      ticket.tenantId,
      ticket.siteId,
      ticket.sizeBytes,
      ticket.createdBy,
      ticket.createdAt,
      ticket.expiresAt,
    )
    .run();
}

export async function getUploadTicket(
  db: D1Database,
  tenantId: TenantShortId,
  id: string,
): Promise<UploadTicketRow | undefined> {
  const row = await db
    .prepare(`SELECT ${TICKET_COLUMNS} FROM upload_tickets WHERE tenant_id = ? AND id = ?`)
    .bind(tenantId, id)
    .first<UploadTicketDbRow>();
  return row === null ? undefined : toTicket(row);
}

/** Records the job an upload became; the first recorded job wins, so a repeated `complete` answers it. */
export async function completeUploadTicket(
  db: D1Database,
  tenantId: TenantShortId,
  id: string,
  job: { jobId: string; version: number },
): Promise<void> {
  await db
    .prepare(
      `UPDATE upload_tickets SET completed_job_id = ?, completed_version = ?
       WHERE tenant_id = ? AND id = ? AND completed_job_id IS NULL`,
    )
    .bind(job.jobId, job.version, tenantId, id)
    .run();
}

/** Uploads whose ticket expired before `before` without completing (oldest first): their bytes go. */
export async function abandonedUploadTickets(
  db: D1Database,
  before: number,
  limit: number,
): Promise<UploadTicketRow[]> {
  const { results } = await db
    .prepare(
      `SELECT ${TICKET_COLUMNS} FROM upload_tickets WHERE completed_job_id IS NULL AND expires_at < ?
       ORDER BY expires_at LIMIT ?`,
    )
    .bind(before, limit)
    .all<UploadTicketDbRow>();
  return results.map(toTicket);
}

/** Forgets finished or abandoned uploads older than `before` (their bytes are already gone). */
export async function deleteUploadTicket(db: D1Database, tenantId: TenantShortId, id: string): Promise<void> {
  await db.prepare("DELETE FROM upload_tickets WHERE tenant_id = ? AND id = ?").bind(tenantId, id).run();
}

// --- Pages (lifecycle) ---------------------------------------------------------------------------------

/** Whether any macro of this tenant sits on `contentId` (page events about other pages are ignored). */
export async function contentHasBindings(
  db: D1Database,
  tenantId: TenantShortId,
  contentId: string,
): Promise<boolean> {
  const row = await db
    .prepare("SELECT 1 AS found FROM macro_bindings WHERE tenant_id = ? AND content_id = ? LIMIT 1")
    .bind(tenantId, contentId)
    .first<{ found: number }>();
  return row !== null;
}

/** Sites bound to `contentId` and to no other page of the tenant: what a page's deletion erases. */
export async function sitesShownOnlyOn(
  db: D1Database,
  tenantId: TenantShortId,
  contentId: string,
): Promise<SiteId[]> {
  const { results } = await db
    .prepare(
      `SELECT DISTINCT b.site_id FROM macro_bindings b
       WHERE b.tenant_id = ?1 AND b.content_id = ?2
         AND NOT EXISTS (SELECT 1 FROM macro_bindings o
                         WHERE o.tenant_id = ?1 AND o.site_id = b.site_id AND o.content_id <> ?2)`,
    )
    .bind(tenantId, contentId)
    .all<{ site_id: string }>();
  return results.map((r) => r.site_id as SiteId);
}

/** Removes every binding on `contentId` (the page is gone; sites shown elsewhere stay). */
export async function deleteBindingsOn(
  db: D1Database,
  tenantId: TenantShortId,
  contentId: string,
): Promise<void> {
  await db
    .prepare("DELETE FROM macro_bindings WHERE tenant_id = ? AND content_id = ?")
    .bind(tenantId, contentId)
    .run();
}
