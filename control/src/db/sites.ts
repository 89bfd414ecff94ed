/**
 * Sites of one tenant. Every function takes the tenant and every query filters on it: a site id from
 * another tenant reads as "no such site", which the API answers 404 — never 403, which would confirm
 * the site exists (DESIGN §6.3, no existence oracle).
 */

import {
  cryptoRandomBytes,
  newSiteId,
  type RandomBytes,
  type SiteId,
  type TenantShortId,
} from "@mini-sites/core";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { type Clock, type D1Database, isUniqueViolation, systemClock } from "./d1.ts";

/** Workers Static Assets `not_found_handling`, chosen per site at publish time (DESIGN §3). */
export const NOT_FOUND_HANDLING = ["single-page-application", "404-page", "none"] as const;
export type NotFoundHandling = (typeof NOT_FOUND_HANDLING)[number];

/** Random site ids collide with probability ~n/2^64; a second attempt is already paranoia. */
export const SITE_ID_ATTEMPTS = 3;

export interface Site {
  readonly tenantId: TenantShortId;
  readonly id: SiteId;
  readonly name: string;
  readonly enabled: boolean;
  readonly liveVersion: number | null;
  readonly notFoundHandling: NotFoundHandling;
  readonly createdAt: number;
  readonly updatedAt: number;
}

interface SiteRow {
  tenant_id: string;
  id: string;
  name: string;
  enabled: number;
  live_version: number | null;
  not_found_handling: NotFoundHandling;
  created_at: number;
  updated_at: number;
}

const COLUMNS = "tenant_id, id, name, enabled, live_version, not_found_handling, created_at, updated_at";

function toSite(row: SiteRow): Site {
  return {
    tenantId: row.tenant_id as TenantShortId,
    id: row.id as SiteId,
    name: row.name,
    enabled: row.enabled === 1,
    liveVersion: row.live_version,
    notFoundHandling: row.not_found_handling,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function createSite(
  db: D1Database,
  tenantId: TenantShortId,
  input: { name: string; notFoundHandling?: NotFoundHandling },
  options: { now?: Clock; random?: RandomBytes } = {},
): Promise<Site> {
  const now = (options.now ?? systemClock)();
  const random = options.random ?? cryptoRandomBytes;
  for (let attempt = 0; ; attempt++) {
    const id = newSiteId(random);
    try {
      const row = await db
        .prepare(
          `INSERT INTO sites (tenant_id, id, name, not_found_handling, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?) RETURNING ${COLUMNS}`,
        )
        .bind(tenantId, id, input.name, input.notFoundHandling ?? "none", now, now)
        .first<SiteRow>();
      return toSite(row as SiteRow);
    } catch (error) {
      if (attempt + 1 < SITE_ID_ATTEMPTS && isUniqueViolation(error, "sites.id")) continue;
      throw error;
    }
  }
}

/** The site if it belongs to `tenantId`; `undefined` if it does not exist or belongs to another tenant. */
export async function getSite(
  db: D1Database,
  tenantId: TenantShortId,
  siteId: SiteId,
): Promise<Site | undefined> {
  const row = await db
    .prepare(`SELECT ${COLUMNS} FROM sites WHERE tenant_id = ? AND id = ?`)
    .bind(tenantId, siteId)
    .first<SiteRow>();
  return row === null ? undefined : toSite(row);
}

export interface Page<T> {
  readonly items: T[];
  /** Pass back as `cursor` for the next page; `null` on the last page. */
  readonly nextCursor: string | null;
}

const SITES_LISTING = "sites";

export class InvalidCursor extends Error {
  constructor() {
    super("The cursor is not one this listing issued; start again without a cursor.");
    this.name = "InvalidCursor";
  }
}

/** One page of a tenant's sites, newest first (index sites_by_tenant). */
export async function listSites(
  db: D1Database,
  tenantId: TenantShortId,
  page: { limit: number; cursor?: string | undefined },
): Promise<Page<Site>> {
  let statement: ReturnType<D1Database["prepare"]>;
  // One row more than asked tells whether a next page exists without a COUNT.
  const take = page.limit + 1;
  if (page.cursor === undefined) {
    statement = db
      .prepare(`SELECT ${COLUMNS} FROM sites WHERE tenant_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`)
      .bind(tenantId, take);
  } else {
    const key = decodeCursor(SITES_LISTING, page.cursor, ["integer", "string"]);
    if (key === undefined) throw new InvalidCursor();
    const [createdAt, id] = key;
    statement = db
      .prepare(
        `SELECT ${COLUMNS} FROM sites WHERE tenant_id = ? AND (created_at, id) < (?, ?)
         ORDER BY created_at DESC, id DESC LIMIT ?`,
      )
      .bind(tenantId, createdAt, id, take);
  }
  const { results } = await statement.all<SiteRow>();
  const items = results.slice(0, page.limit).map(toSite);
  const last = items[items.length - 1];
  const nextCursor =
    results.length > page.limit && last !== undefined
      ? encodeCursor(SITES_LISTING, [last.createdAt, last.id])
      : null;
  return { items, nextCursor };
}
