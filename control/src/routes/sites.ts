/**
 * The Sites API's read side (issue 4 item 5): list a tenant's sites, get one, list its versions.
 * Tenant-scoped by the caller (app/context.ts); another tenant's site is indistinguishable from a missing one (404).
 */

import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { SiteId } from "@mini-sites/core";
import { type AppEnv, requireCaller, requireScope } from "../app/context.ts";
import { ApiError } from "../app/errors.ts";
import { getSite, InvalidCursor, listSites, type Site } from "../db/sites.ts";
import { listVersions, type Version } from "../db/versions.ts";
import {
  API_SECURITY,
  errorResponses,
  PageQuery,
  SiteListSchema,
  SiteParams,
  SiteSchema,
  VersionListSchema,
} from "./schemas.ts";

const iso = (ms: number) => new Date(ms).toISOString();

export function siteJson(site: Site) {
  return {
    id: site.id,
    name: site.name,
    enabled: site.enabled,
    liveVersion: site.liveVersion,
    notFoundHandling: site.notFoundHandling,
    createdAt: iso(site.createdAt),
    updatedAt: iso(site.updatedAt),
  };
}

export function versionJson(version: Version, liveVersion: number | null) {
  return {
    number: version.number,
    status: version.status,
    failureCode: version.failureCode,
    message: version.message,
    sizeBytes: version.sizeBytes,
    fileCount: version.fileCount,
    publishedBy: version.publishedBy,
    contentHash: version.contentHash,
    createdAt: iso(version.createdAt),
    live: version.number === liveVersion,
  };
}

/** The same answer for "no such site" and "another tenant's site" (DESIGN §6.3). */
export const SITE_NOT_FOUND = "No such site.";

async function withCursor<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof InvalidCursor)
      throw new ApiError("INVALID_REQUEST", error.message, [
        { path: "query.cursor", message: error.message },
      ]);
    throw error;
  }
}

const security = API_SECURITY;

export const listSitesRoute = createRoute({
  method: "get",
  path: "/v1/sites",
  summary: "List the tenant's sites, newest first",
  tags: ["sites"],
  security,
  request: { query: PageQuery },
  responses: {
    200: { description: "One page of sites", content: { "application/json": { schema: SiteListSchema } } },
    ...errorResponses("INVALID_REQUEST", "UNAUTHENTICATED", "FORBIDDEN", "INTERNAL"),
  },
});

export const getSiteRoute = createRoute({
  method: "get",
  path: "/v1/sites/{site}",
  summary: "Get one site",
  tags: ["sites"],
  security,
  request: { params: SiteParams },
  responses: {
    200: { description: "The site", content: { "application/json": { schema: SiteSchema } } },
    ...errorResponses("INVALID_REQUEST", "UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "INTERNAL"),
  },
});

export const listVersionsRoute = createRoute({
  method: "get",
  path: "/v1/sites/{site}/versions",
  summary: "List a site's versions, newest first, with message, size, file count and publisher",
  tags: ["sites"],
  security,
  request: { params: SiteParams, query: PageQuery },
  responses: {
    200: {
      description: "One page of versions",
      content: { "application/json": { schema: VersionListSchema } },
    },
    ...errorResponses("INVALID_REQUEST", "UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "INTERNAL"),
  },
});

export function registerSiteRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(listSitesRoute, async (c) => {
    const caller = requireCaller(c);
    requireScope(caller, "sites:read");
    const { limit, cursor } = c.req.valid("query");
    const page = await withCursor(() => listSites(c.env.DB, caller.tenantId, { limit, cursor }));
    return c.json({ sites: page.items.map(siteJson), nextCursor: page.nextCursor }, 200);
  });

  app.openapi(getSiteRoute, async (c) => {
    const caller = requireCaller(c);
    requireScope(caller, "sites:read");
    const site = await getSite(c.env.DB, caller.tenantId, c.req.valid("param").site as SiteId);
    if (site === undefined) throw new ApiError("NOT_FOUND", SITE_NOT_FOUND);
    return c.json(siteJson(site), 200);
  });

  app.openapi(listVersionsRoute, async (c) => {
    const caller = requireCaller(c);
    requireScope(caller, "sites:read");
    const siteId = c.req.valid("param").site as SiteId;
    const { limit, cursor } = c.req.valid("query");
    const site = await getSite(c.env.DB, caller.tenantId, siteId);
    if (site === undefined) throw new ApiError("NOT_FOUND", SITE_NOT_FOUND);
    const page = await withCursor(() => listVersions(c.env.DB, caller.tenantId, siteId, { limit, cursor }));
    return c.json(
      { versions: page.items.map((v) => versionJson(v, site.liveVersion)), nextCursor: page.nextCursor },
      200,
    );
  });
}
