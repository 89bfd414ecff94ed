/**
 * The Sites API: read a tenant's sites and versions, switch a site off and on, delete it, preview it
 * (a view URL), download a version. Who may call each route, and which site it acts on, is the route
 * policy's (policy/table.ts): handlers read the tenant and the site from `access`, already checked —
 * another tenant's site never reaches them (it answered 404).
 */

import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { isSiteVersion } from "@mini-sites/core";
import { type AppContext, type AppEnv, accessOf, siteOf, tenantOf } from "../app/context.ts";
import { ApiError } from "../app/errors.ts";
import { audit } from "../audit/log.ts";
import { getSiteByName, InvalidCursor, listSites, type Site, setSiteEnabled } from "../db/sites.ts";
import { getVersion, listVersions, type Version } from "../db/versions.ts";
import { zipStream } from "../publish/download.ts";
import { readManifest } from "../publish/r2.ts";
import { type PublishDeps, requireSiteGrant, target } from "../publish/services.ts";
import { deleteTenantSite } from "../publish/sites.ts";
import { defineRoute } from "./define.ts";
import {
  PageQuery,
  SiteListQuery,
  SiteListSchema,
  SiteParams,
  SiteSchema,
  SiteUpdateBody,
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
    statusFeed: version.statusFeed,
  };
}

export async function withCursor<T>(read: () => Promise<T>): Promise<T> {
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

const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });

const SiteEnabled = z.object({ id: z.string(), enabled: z.boolean() }).openapi("SiteEnabled");
const SiteDeleted = z
  .object({
    id: z.string(),
    deleted: z.literal(true),
    workers: z.enum(["deleted", "pending"]),
    bytes: z.enum(["deleted", "pending"]),
  })
  .openapi("SiteDeleted");
const ViewUrl = z
  .object({ url: z.string(), version: z.number().int(), expiresAt: z.string() })
  .openapi("ViewUrl");
const BundleParams = SiteParams.extend({
  n: z
    .string()
    .regex(/^[0-9]{1,8}$/, "must be a version number")
    .openapi({ param: { name: "n", in: "path" }, example: "1" }),
});

const listSitesRoute = defineRoute(
  {
    method: "get",
    path: "/v1/sites",
    summary: "List the tenant's sites, newest first; `name` finds one site by its name",
    tags: ["sites"],
    request: { query: SiteListQuery },
    responses: { 200: { description: "One page of sites", ...json(SiteListSchema) } },
  },
  "INVALID_REQUEST",
);

const getSiteRoute = defineRoute({
  method: "get",
  path: "/v1/sites/{site}",
  summary: "Get one site",
  tags: ["sites"],
  request: { params: SiteParams },
  responses: { 200: { description: "The site", ...json(SiteSchema) } },
});

const listVersionsRoute = defineRoute(
  {
    method: "get",
    path: "/v1/sites/{site}/versions",
    summary: "List a site's versions, newest first, with message, size, file count and publisher",
    tags: ["sites"],
    request: { params: SiteParams, query: PageQuery },
    responses: { 200: { description: "One page of versions", ...json(VersionListSchema) } },
  },
  "INVALID_REQUEST",
);

const switchRoutes = (["disable", "enable"] as const).map((action) =>
  defineRoute(
    {
      method: "post",
      path: `/v1/sites/{site}/${action}`,
      summary:
        action === "disable"
          ? "Disable a site (admin kill switch: no new grants at once)"
          : "Enable a disabled site",
      tags: ["sites"],
      request: { params: SiteParams },
      responses: { 200: { description: "The site's state", ...json(SiteEnabled) } },
    },
    "NOT_CONFIGURED",
  ),
);

const patchSiteRoute = defineRoute(
  {
    method: "patch",
    path: "/v1/sites/{site}",
    summary: "Enable or disable a site (the same switch as /disable and /enable)",
    tags: ["sites"],
    request: { params: SiteParams, body: { ...json(SiteUpdateBody), required: true } },
    responses: { 200: { description: "The site's state", ...json(SiteEnabled) } },
  },
  "NOT_CONFIGURED",
);

const deleteSiteRoute = defineRoute(
  {
    method: "delete",
    path: "/v1/sites/{site}",
    summary: "Delete a site: its rows at once, then its Workers and R2 objects",
    tags: ["sites"],
    request: { params: SiteParams },
    responses: { 200: { description: "Deleted", ...json(SiteDeleted) } },
  },
  "NOT_CONFIGURED",
);

const viewUrlRoute = defineRoute(
  {
    method: "post",
    path: "/v1/sites/{site}/view-url",
    summary: "A grant URL for the live version, for previews by token holders",
    tags: ["sites"],
    request: { params: SiteParams },
    responses: { 200: { description: "The view URL", ...json(ViewUrl) } },
  },
  "SITE_DISABLED",
  "NOT_LIVE",
  "NOT_CONFIGURED",
);

const bundleRoute = defineRoute({
  method: "get",
  path: "/v1/sites/{site}/versions/{n}/bundle",
  summary: "Download a version's bundle as a zip",
  tags: ["sites"],
  request: { params: BundleParams },
  responses: {
    200: {
      description: "The zip",
      content: { "application/zip": { schema: { type: "string", format: "binary" } } },
    },
  },
});

export function registerSiteRoutes(app: OpenAPIHono<AppEnv>, deps: PublishDeps = {}): void {
  const clock = deps.now ?? Date.now;

  app.openapi(listSitesRoute, async (c) => {
    const { limit, cursor, name } = c.req.valid("query");
    if (name !== undefined) {
      const site = await getSiteByName(c.env.DB, tenantOf(c).id, name.trim());
      return c.json({ sites: site === undefined ? [] : [siteJson(site)], nextCursor: null }, 200);
    }
    const page = await withCursor(() => listSites(c.env.DB, tenantOf(c).id, { limit, cursor }));
    return c.json({ sites: page.items.map(siteJson), nextCursor: page.nextCursor }, 200);
  });

  app.openapi(getSiteRoute, (c) => c.json(siteJson(siteOf(c)), 200));

  app.openapi(listVersionsRoute, async (c) => {
    const site = siteOf(c);
    const { limit, cursor } = c.req.valid("query");
    const page = await withCursor(() => listVersions(c.env.DB, tenantOf(c).id, site.id, { limit, cursor }));
    return c.json(
      { versions: page.items.map((v) => versionJson(v, site.liveVersion)), nextCursor: page.nextCursor },
      200,
    );
  });

  /** The admin kill switch: disabled ⇒ no new grants from this moment (serve-url, view-url). */
  async function setEnabled(c: AppContext, enabled: boolean) {
    const site = siteOf(c);
    const tenant = tenantOf(c);
    await setSiteEnabled(c.env.DB, tenant.id, site.id, enabled, clock());
    await audit(c.env, {
      tenantId: tenant.id,
      actor: accessOf(c).actor,
      action: enabled ? "site.enable" : "site.disable",
      target: target(site.id),
    });
    return { id: site.id, enabled };
  }
  const [disableRoute, enableRoute] = switchRoutes as [(typeof switchRoutes)[0], (typeof switchRoutes)[0]];
  app.openapi(disableRoute, async (c) => c.json(await setEnabled(c, false), 200));
  app.openapi(enableRoute, async (c) => c.json(await setEnabled(c, true), 200));
  app.openapi(patchSiteRoute, async (c) => c.json(await setEnabled(c, c.req.valid("json").enabled), 200));

  app.openapi(deleteSiteRoute, async (c) => {
    const publisher = { tenant: tenantOf(c).id, actor: accessOf(c).actor };
    return c.json(await deleteTenantSite(c.env, deps, publisher, siteOf(c)), 200);
  });

  app.openapi(viewUrlRoute, async (c) => {
    const site = siteOf(c);
    if (!site.enabled) throw new ApiError("SITE_DISABLED", "This site is disabled by an admin.");
    if (site.liveVersion === null) throw new ApiError("NOT_LIVE", "This site has no live version yet.");
    const grant = await requireSiteGrant(
      c.env,
      { tenant: tenantOf(c).id, site: site.id, version: site.liveVersion },
      clock(),
    );
    return c.json({ url: grant.url, version: grant.version, expiresAt: grant.expiresAt }, 200);
  });

  app.openapi(bundleRoute, async (c) => {
    const env = c.env;
    const site = siteOf(c);
    const tenant = tenantOf(c);
    const number = Number(c.req.valid("param").n);
    const version = isSiteVersion(number) ? await getVersion(env.DB, tenant.id, site.id, number) : undefined;
    if (version === undefined) throw new ApiError("NOT_FOUND", "No such version.");
    const files = await readManifest(env.BUNDLES, tenant.id, site.id, version.contentHash);
    if (files === undefined) throw new ApiError("NOT_FOUND", "This version's bundle is no longer stored.");
    return new Response(zipStream(env.BUNDLES, tenant.id, site.id, files), {
      headers: {
        "Content-Type": "application/zip",
        "Content-Disposition": `attachment; filename="site-${site.id}-v${number}.zip"`,
        "Cache-Control": "no-store",
      },
    }) as never;
  });
}
