/**
 * The macro's viewer side (DESIGN §3 Serve): the live site of the macro's own binding, for a user
 * Confluence lets read the page. The route policy (policy/table.ts) has already verified the FIT, run
 * the read check with the user's own token and resolved the binding from the FIT's signed claims —
 * no request field can name another page, macro, site or tenant.
 *
 *   POST /v1/macro/serve-url {version?}   a grant URL for the bound site (NOT_PUBLISHED when unbound)
 *   GET  /v1/macro/state                  the bound site, its live version and last job, and canEdit
 *
 * Renewal (`version` = the version the open page shows) keeps that version only while it may still be
 * served to an open page: until one grant lifetime after a newer PUBLISH replaced it. A version rolled
 * back AWAY from is never renewed (whoever rolled back meant it gone), and a disabled or deleted site
 * gets nothing. Otherwise the answer is the live version, and the view reloads onto it.
 */

import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { isSiteVersion } from "@mini-sites/core";
import { type AppEnv, macroOf, tenantOf } from "../app/context.ts";
import { ApiError } from "../app/errors.ts";
import { getVersion } from "../db/versions.ts";
import { grantTtlSeconds, mintSiteGrant } from "../grants.ts";
import { lastJobOfSite } from "../macro/store.ts";
import { defineRoute } from "./define.ts";

const ServeUrlBody = z
  .object({
    version: z.number().int().optional().openapi({ description: "Renewal: the version the page shows" }),
  })
  .strict()
  .openapi("ServeUrlRequest");

const ServeUrl = z
  .union([
    z.object({
      state: z.literal("PUBLISHED"),
      siteId: z.string(),
      version: z.number().int(),
      url: z.string(),
      renewUrl: z.string(),
      expiresAt: z.string(),
    }),
    z.object({ state: z.literal("NOT_PUBLISHED") }),
  ])
  .openapi("ServeUrl");

const serveUrlRoute = defineRoute(
  {
    method: "post",
    path: "/v1/macro/serve-url",
    summary: "Viewer: a grant URL for the site bound to the FIT's macro (NOT_PUBLISHED when unbound)",
    tags: ["macro"],
    request: { body: { content: { "application/json": { schema: ServeUrlBody } }, required: false } },
    responses: {
      200: {
        description: "The grant, or NOT_PUBLISHED",
        content: { "application/json": { schema: ServeUrl } },
      },
    },
  },
  "SITE_DISABLED",
  "PAGE_TRASHED",
  "NOT_CONFIGURED",
);

const stateRoute = defineRoute({
  method: "get",
  path: "/v1/macro/state",
  summary: "The bound site, its live version, the last job, and whether this user may edit",
  tags: ["macro"],
  responses: {
    200: {
      description: "The macro's state",
      content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
    },
  },
});

export function registerMacroViewerRoutes(app: OpenAPIHono<AppEnv>, now: () => number = Date.now): void {
  app.openapi(serveUrlRoute, async (c) => {
    const macro = macroOf(c);
    const tenant = tenantOf(c);
    const site = macro.site;
    const notPublished = { state: "NOT_PUBLISHED" as const };
    if (site === undefined) return c.json(notPublished, 200);
    // Confluence told us the page was trashed: its macros get no grants until it is restored.
    if (macro.pageState !== undefined)
      throw new ApiError(
        "PAGE_TRASHED",
        "This page is in the trash; its mini-site is shown again if it is restored.",
      );
    if (!site.enabled) throw new ApiError("SITE_DISABLED", "An administrator has disabled this mini-site.");
    if (site.liveVersion === null) return c.json(notPublished, 200);

    let version = site.liveVersion;
    let ttlSeconds: number | undefined;
    const pinned = c.req.valid("json").version;
    if (pinned !== undefined && pinned !== version && isSiteVersion(pinned)) {
      const earlier = await getVersion(c.env.DB, tenant.id, site.id, pinned);
      const ttlMs = (grantTtlSeconds(c.env) ?? 0) * 1000;
      const servableUntil = (earlier?.statusAt ?? 0) + ttlMs;
      if (earlier?.status === "superseded" && earlier.supersededBy === "publish" && now() < servableUntil) {
        version = pinned;
        // The renewed grant ends when the version stops being servable, not a full lifetime later.
        ttlSeconds = Math.max(1, Math.floor((servableUntil - now()) / 1000));
      }
    }
    const minted = await mintSiteGrant(
      c.env,
      { tenant: tenant.id, site: site.id, version, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) },
      now(),
    );
    if (!minted.ok) {
      console.error(
        JSON.stringify({ level: "error", event: "macro.not_configured", problems: minted.problems }),
      );
      throw new ApiError(
        "NOT_CONFIGURED",
        "This Mini-Sites deployment is not fully configured; see /.well-known/mini-sites.",
      );
    }
    const { grant } = minted;
    return c.json(
      {
        state: "PUBLISHED" as const,
        siteId: site.id,
        version,
        url: grant.url,
        renewUrl: grant.renewUrl,
        expiresAt: grant.expiresAt,
      },
      200,
    );
  });

  app.openapi(stateRoute, async (c) => {
    const macro = macroOf(c);
    const site = macro.site;
    if (site === undefined)
      return c.json(
        { state: "NOT_PUBLISHED", bound: false, canEdit: macro.canEdit, site: null, lastJob: null },
        200,
      );
    const job = await lastJobOfSite(c.env.DB, tenantOf(c).id, site.id);
    return c.json(
      {
        state:
          macro.pageState !== undefined
            ? "PAGE_TRASHED"
            : !site.enabled
              ? "SITE_DISABLED"
              : site.liveVersion === null
                ? "NOT_PUBLISHED"
                : "PUBLISHED",
        bound: true,
        canEdit: macro.canEdit,
        site: { id: site.id, name: site.name, enabled: site.enabled, liveVersion: site.liveVersion },
        lastJob:
          job === undefined
            ? null
            : {
                id: job.id,
                kind: job.kind,
                version: job.version,
                state: job.state,
                step: job.step,
                progress: job.progress,
                error:
                  job.errorCode === null ? null : { code: job.errorCode, message: job.errorMessage ?? "" },
                updatedAt: new Date(job.updatedAt).toISOString(),
              },
      },
      200,
    );
  });
}
