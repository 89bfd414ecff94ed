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

/** The longest site name (the `sites.name` CHECK). */
export const MAX_SITE_NAME_LENGTH = 200;

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

/**
 * Inserts a site with an id chosen by the caller (the pipeline archives a new site's files under its
 * id before the row exists) — the one INSERT of a site. With `maxSites`, the row goes in only while the
 * tenant holds fewer sites, checked in the same statement, so concurrent creations cannot pass the
 * quota together. Quota answers and audit: publish/sites.ts.
 */
export async function insertSite(
  db: D1Database,
  tenantId: TenantShortId,
  id: SiteId,
  input: { name: string; notFoundHandling?: NotFoundHandling | undefined },
  now: number,
  options: { maxSites?: number } = {},
): Promise<{ site: Site } | { refused: "id-taken" | "name-taken" | "quota" }> {
  try {
    const row = await db
      .prepare(
        `INSERT INTO sites (tenant_id, id, name, not_found_handling, created_at, updated_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?5
         WHERE (SELECT COUNT(*) FROM sites WHERE tenant_id = ?1) < ?6
         RETURNING ${COLUMNS}`,
      )
      .bind(
        tenantId,
        id,
        input.name,
        input.notFoundHandling ?? "none",
        now,
        options.maxSites ?? Number.MAX_SAFE_INTEGER,
      )
      .first<SiteRow>();
    return row === null ? { refused: "quota" } : { site: toSite(row) };
  } catch (error) {
    if (isUniqueViolation(error, "sites.id")) return { refused: "id-taken" };
    // The index sites_name_per_tenant (migration 0003): names are unique per tenant, ignoring case.
    if (isUniqueViolation(error, "sites.name")) return { refused: "name-taken" };
    throw error;
  }
}

/**
 * A site with a fresh random id (retried on the rare collision), under `input.name` or, when the
 * tenant has a site of that name, the first free `name (n)`. Throws SiteQuotaReached at the quota.
 */
export async function createSite(
  db: D1Database,
  tenantId: TenantShortId,
  input: { name: string; notFoundHandling?: NotFoundHandling | undefined },
  options: { now?: Clock; random?: RandomBytes; maxSites?: number } = {},
): Promise<Site> {
  const now = (options.now ?? systemClock)();
  const random = options.random ?? cryptoRandomBytes;
  for (let attempt = 0; attempt < SITE_ID_ATTEMPTS + SITE_NAME_ATTEMPTS; attempt++) {
    const name = await freeSiteName(db, tenantId, input.name);
    const result = await insertSite(db, tenantId, newSiteId(random), { ...input, name }, now, options);
    if ("site" in result) return result.site;
    if (result.refused === "quota") throw new SiteQuotaReached();
  }
  throw new Error(`no free site id or name after ${SITE_ID_ATTEMPTS + SITE_NAME_ATTEMPTS} attempts`);
}

/** Concurrent creations that picked the same free name: the losers pick again, a few times. */
export const SITE_NAME_ATTEMPTS = 5;

/** `LIKE` pattern characters taken literally (with `ESCAPE '\'`). */
function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}

/**
 * `name` if no site of the tenant holds it (ignoring case, as the unique index does), else
 * `name (n)` with the smallest free n ≥ 2 — how a copied page's fork or a macro's first upload gets
 * a name without failing. The name is shortened first so the suffix always fits. A concurrent
 * creation may still take the answer: the insert then reports `name-taken` and the caller asks again.
 */
export async function freeSiteName(db: D1Database, tenantId: TenantShortId, name: string): Promise<string> {
  if ((await getSiteByName(db, tenantId, name)) === undefined) return name;
  // " (" + up to 5 digits + ")": 8 characters; a tenant holds at most thousands of sites.
  const base = name.slice(0, MAX_SITE_NAME_LENGTH - 8);
  const { results } = await db
    .prepare("SELECT name FROM sites WHERE tenant_id = ? AND name LIKE ? ESCAPE '\\'")
    .bind(tenantId, `${likeLiteral(base)} (%)`)
    .all<{ name: string }>();
  const taken = new Set<number>();
  const prefix = `${base} (`.toLowerCase();
  for (const row of results) {
    const lower = row.name.toLowerCase();
    const digits = lower.startsWith(prefix) && lower.endsWith(")") ? lower.slice(prefix.length, -1) : "";
    if (/^[1-9][0-9]{0,4}$/.test(digits)) taken.add(Number(digits));
  }
  let n = 2;
  while (taken.has(n)) n++;
  return `${base} (${n})`;
}

/** The tenant's site of this name, ignoring ASCII case (the index sites_name_per_tenant). */
export async function getSiteByName(
  db: D1Database,
  tenantId: TenantShortId,
  name: string,
): Promise<Site | undefined> {
  const row = await db
    .prepare(`SELECT ${COLUMNS} FROM sites WHERE tenant_id = ? AND name = ? COLLATE NOCASE`)
    .bind(tenantId, name)
    .first<SiteRow>();
  return row === null ? undefined : toSite(row);
}

export class SiteQuotaReached extends Error {
  constructor() {
    super("the tenant holds as many sites as it may");
    this.name = "SiteQuotaReached";
  }
}

export async function countSites(db: D1Database, tenant: TenantShortId): Promise<number> {
  const row = await db
    .prepare("SELECT COUNT(*) AS n FROM sites WHERE tenant_id = ?")
    .bind(tenant)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** The admin kill switch. `false` when the site is not the tenant's. */
export async function setSiteEnabled(
  db: D1Database,
  tenant: TenantShortId,
  site: SiteId,
  enabled: boolean,
  now: number,
): Promise<boolean> {
  const result = await db
    .prepare("UPDATE sites SET enabled = ?, updated_at = ? WHERE tenant_id = ? AND id = ?")
    .bind(enabled ? 1 : 0, now, tenant, site)
    .run();
  return result.meta.changes === 1;
}

/** Deletes the site row; versions, jobs and macro bindings go with it (ON DELETE CASCADE). */
export async function deleteSiteRow(db: D1Database, tenant: TenantShortId, site: SiteId): Promise<boolean> {
  const result = await db
    .prepare("DELETE FROM sites WHERE tenant_id = ? AND id = ?")
    .bind(tenant, site)
    .run();
  return result.meta.changes === 1;
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
