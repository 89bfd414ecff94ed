/**
 * Versions of a site: one immutable row per publish (the migration's triggers refuse any change to
 * the content columns and any status change outside the allowed transitions). Numbers are 1, 2, 3…
 * per site, allocated inside the INSERT from MAX(number) + 1 under the (site_id, number) primary
 * key, so two concurrent publishes get two numbers, never one.
 */

import type { SiteId, TenantShortId } from "@mini-sites/core";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import {
  type Clock,
  type D1Database,
  type D1PreparedStatement,
  isUniqueViolation,
  systemClock,
} from "./d1.ts";
import { InvalidCursor, type Page } from "./sites.ts";

export const VERSION_STATUSES = ["staging", "provisioning", "live", "failed", "superseded"] as const;
export type VersionStatus = (typeof VERSION_STATUSES)[number];

/** Mirrors the versions_status_transitions trigger in 0001_init.sql. */
export const VERSION_TRANSITIONS: Readonly<Record<VersionStatus, readonly VersionStatus[]>> = {
  staging: ["provisioning", "failed"],
  provisioning: ["live", "failed"],
  live: ["superseded"],
  superseded: ["provisioning", "live"],
  failed: [],
};

/** Longest version message kept, in characters (a commit-message-sized note, not a changelog). */
export const MAX_VERSION_MESSAGE_LENGTH = 1_000;

/** Concurrent publishes to one site that may collide on the next number before one gives up. */
export const VERSION_NUMBER_ATTEMPTS = 5;

export interface Version {
  readonly tenantId: TenantShortId;
  readonly siteId: SiteId;
  readonly number: number;
  readonly contentHash: string;
  readonly status: VersionStatus;
  readonly failureCode: string | null;
  readonly message: string | null;
  readonly sizeBytes: number;
  readonly fileCount: number;
  readonly publishedBy: string;
  readonly createdAt: number;
  /** When the status last changed (for a superseded version: when it stopped being live). */
  readonly statusAt: number;
  /** For a superseded version: a newer publish replaced it, or a rollback moved away from it. */
  readonly supersededBy: "publish" | "rollback" | null;
  /** Published with `statusFeed`: the site may read its tenant's monitor feed (site-feeds.ts). */
  readonly statusFeed: boolean;
}

interface VersionRow {
  tenant_id: string;
  site_id: string;
  number: number;
  content_hash: string;
  status: VersionStatus;
  failure_code: string | null;
  message: string | null;
  size_bytes: number;
  file_count: number;
  published_by: string;
  created_at: number;
  status_at: number;
  superseded_by: "publish" | "rollback" | null;
  status_feed: number;
}

const COLUMNS =
  "tenant_id, site_id, number, content_hash, status, failure_code, message, size_bytes, file_count, published_by, created_at, status_at, superseded_by, status_feed";

function toVersion(row: VersionRow): Version {
  return {
    tenantId: row.tenant_id as TenantShortId,
    siteId: row.site_id as SiteId,
    number: row.number,
    contentHash: row.content_hash,
    status: row.status,
    failureCode: row.failure_code,
    message: row.message,
    sizeBytes: row.size_bytes,
    fileCount: row.file_count,
    publishedBy: row.published_by,
    createdAt: row.created_at,
    statusAt: row.status_at,
    supersededBy: row.superseded_by,
    statusFeed: row.status_feed === 1,
  };
}

export interface NewVersion {
  readonly contentHash: string;
  readonly message?: string | null;
  readonly sizeBytes: number;
  readonly fileCount: number;
  readonly publishedBy: string;
  /** Opt in to the tenant's monitor feed; default false. */
  readonly statusFeed?: boolean;
}

/**
 * The INSERT that stages a version of a site of `tenantId` (status `staging`, the next number),
 * RETURNING the row; it inserts nothing when the site is not the tenant's. Shared by insertVersion
 * and the publish pipeline's stageVersion, which batches it with the version's job.
 */
export function insertVersionStatement(
  db: D1Database,
  tenantId: TenantShortId,
  siteId: SiteId,
  input: NewVersion,
  now: number,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO versions (tenant_id, site_id, number, content_hash, status, message, size_bytes, file_count,
                             published_by, created_at, status_at, status_feed)
       SELECT s.tenant_id, s.id,
              COALESCE((SELECT MAX(v.number) FROM versions v WHERE v.site_id = s.id), 0) + 1,
              ?, 'staging', ?, ?, ?, ?, ?, ?, ?
       FROM sites s WHERE s.tenant_id = ? AND s.id = ?
       RETURNING ${COLUMNS}`,
    )
    .bind(
      input.contentHash,
      input.message ?? null,
      input.sizeBytes,
      input.fileCount,
      input.publishedBy,
      now,
      now,
      input.statusFeed === true ? 1 : 0,
      tenantId,
      siteId,
    );
}

/**
 * Stages a new version of a site of `tenantId`: status `staging`, the next number. `undefined` when
 * the site does not exist in this tenant — the INSERT selects the site row by (tenant, id), so a
 * version can never be attached to another tenant's site.
 */
export async function insertVersion(
  db: D1Database,
  tenantId: TenantShortId,
  siteId: SiteId,
  input: NewVersion,
  options: { now?: Clock } = {},
): Promise<Version | undefined> {
  const now = (options.now ?? systemClock)();
  for (let attempt = 0; ; attempt++) {
    try {
      const row = await insertVersionStatement(db, tenantId, siteId, input, now).first<VersionRow>();
      return row === null ? undefined : toVersion(row);
    } catch (error) {
      if (attempt + 1 < VERSION_NUMBER_ATTEMPTS && isUniqueViolation(error, "versions.number")) continue;
      throw error;
    }
  }
}

export async function getVersion(
  db: D1Database,
  tenantId: TenantShortId,
  siteId: SiteId,
  number: number,
): Promise<Version | undefined> {
  const row = await db
    .prepare(`SELECT ${COLUMNS} FROM versions WHERE tenant_id = ? AND site_id = ? AND number = ?`)
    .bind(tenantId, siteId, number)
    .first<VersionRow>();
  return row === null ? undefined : toVersion(row);
}

/** The status of one version of a site of this tenant; `undefined` when there is no such version in the tenant. */
export async function getVersionStatus(
  db: D1Database,
  tenantId: TenantShortId,
  siteId: SiteId,
  number: number,
): Promise<VersionStatus | undefined> {
  const row = await db
    .prepare("SELECT status FROM versions WHERE tenant_id = ? AND site_id = ? AND number = ?")
    .bind(tenantId, siteId, number)
    .first<{ status: VersionStatus }>();
  return row?.status;
}

/**
 * Moves a version from `from` to `to` if it is still in `from` (a compare-and-set: of two workers
 * racing on one version, one wins and the other sees `false`). `failureCode` is required for, and
 * only for, `failed`. The migration's trigger refuses transitions outside VERSION_TRANSITIONS.
 */
export async function transitionVersion(
  db: D1Database,
  tenantId: TenantShortId,
  siteId: SiteId,
  number: number,
  change: { from: VersionStatus; to: VersionStatus; failureCode?: string },
  options: { now?: Clock } = {},
): Promise<boolean> {
  const now = (options.now ?? systemClock)();
  const result = await db
    .prepare(
      `UPDATE versions SET status = ?, failure_code = ?, status_at = ?
       WHERE tenant_id = ? AND site_id = ? AND number = ? AND status = ?`,
    )
    .bind(change.to, change.failureCode ?? null, now, tenantId, siteId, number, change.from)
    .run();
  return result.meta.changes === 1;
}

const VERSIONS_LISTING = "versions";

/** One page of a site's versions, newest first. The caller has already checked the site is the tenant's. */
export async function listVersions(
  db: D1Database,
  tenantId: TenantShortId,
  siteId: SiteId,
  page: { limit: number; cursor?: string | undefined },
): Promise<Page<Version>> {
  let before = Number.MAX_SAFE_INTEGER;
  if (page.cursor !== undefined) {
    const key = decodeCursor(VERSIONS_LISTING, page.cursor, ["integer"]);
    if (key === undefined) throw new InvalidCursor();
    before = key[0] as number;
  }
  const { results } = await db
    .prepare(
      `SELECT ${COLUMNS} FROM versions WHERE tenant_id = ? AND site_id = ? AND number < ?
       ORDER BY number DESC LIMIT ?`,
    )
    .bind(tenantId, siteId, before, page.limit + 1)
    .all<VersionRow>();
  const items = results.slice(0, page.limit).map(toVersion);
  const last = items[items.length - 1];
  const nextCursor =
    results.length > page.limit && last !== undefined ? encodeCursor(VERSIONS_LISTING, [last.number]) : null;
  return { items, nextCursor };
}
