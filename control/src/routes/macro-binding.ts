/**
 * The macro's editor side: which site the macro shows, its versions, rollback. The route policy has
 * verified the FIT and run the UPDATE check on the macro's page with the user's own token; the macro
 * and its binding come from the FIT's signed claims only.
 *
 *   POST /v1/macro/bind {siteId}        show an existing site here — always as a FORK (below)
 *   GET  /v1/macro/versions             the bound site's versions, newest first
 *   POST /v1/macro/rollback {version}   make an earlier version of the bound site live again
 *
 * Binding never takes over a site (DESIGN §6.4; docs/security.md "Binding"): a macro is bound to a site
 * only when it created it (its first upload) or when a publish made through it targets it. Asking to
 * show any OTHER site forks it — a new site in the tenant, bound here, starting from the source's live
 * bytes (archived content, nothing re-uploaded) — and only if this user may read a page on which the
 * source is shown (checked with their own token, up to FORK_SOURCE_CHECKS pages). A site shown on no
 * page — published from the CLI or the API — is never bound and never forked from a macro: a page
 * editor could otherwise copy (or, before this rule, take over) a site they were never shown. Every
 * refusal is the same 404, so the rule is no oracle for which sites exist.
 */

import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { parseSiteId } from "@mini-sites/core";
import { type AppContext, type AppEnv, accessOf, macroOf, tenantOf } from "../app/context.ts";
import { ApiError } from "../app/errors.ts";
import type { AuditEntry } from "../audit/chain.ts";
import { audit } from "../audit/log.ts";
import type { Site } from "../db/sites.ts";
import { getSite } from "../db/sites.ts";
import { listVersions } from "../db/versions.ts";
import type { MacroPublisher } from "../macro/publisher.ts";
import { bindMacro, otherBindingsOfSite } from "../macro/store.ts";
import { readPublishConfig } from "../publish/config.ts";
import { rollbackSite } from "../publish/rollback.ts";
import type { PublishDeps } from "../publish/services.ts";
import { createTenantSite } from "../publish/sites.ts";
import { defineRoute } from "./define.ts";
import { acceptedJson } from "./publish.ts";
import { PageQuery, RollbackBody, VersionListSchema } from "./schemas.ts";
import { versionJson, withCursor } from "./sites.ts";

/** Pages where a fork's source is bound that are checked for read permission before giving up. */
export const FORK_SOURCE_CHECKS = 3;

const BindBody = z
  .object({ siteId: z.string().min(1).max(64) })
  .strict()
  .openapi("BindRequest");
const Bound = z
  .object({
    siteId: z.string(),
    forkedFrom: z.string().nullable(),
    copied: z.enum(["live", "none"]),
    job: z.object({ jobId: z.string(), version: z.number().int(), statusUrl: z.string() }).nullable(),
  })
  .openapi("MacroBound");

const bindRoute = defineRoute(
  {
    method: "post",
    path: "/v1/macro/bind",
    summary: "Editor: show an existing site in this macro — as a fork, never the site itself",
    tags: ["macro"],
    request: { body: { content: { "application/json": { schema: BindBody } }, required: true } },
    responses: {
      200: { description: "Bound (to a fork)", content: { "application/json": { schema: Bound } } },
    },
  },
  "NOT_FOUND",
  "QUOTA_SITES",
);

const versionsRoute = defineRoute(
  {
    method: "get",
    path: "/v1/macro/versions",
    summary: "Editor: the bound site's versions, newest first",
    tags: ["macro"],
    request: { query: PageQuery },
    responses: {
      200: {
        description: "One page of versions",
        content: { "application/json": { schema: VersionListSchema } },
      },
    },
  },
  "NOT_FOUND",
);

const rollbackRoute = defineRoute(
  {
    method: "post",
    path: "/v1/macro/rollback",
    summary: "Editor: make an earlier version of the bound site live again",
    tags: ["macro"],
    request: { body: { content: { "application/json": { schema: RollbackBody } }, required: true } },
    responses: {
      200: {
        description: "Flipped at once",
        content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
      },
      202: {
        description: "Re-provisioning job started",
        content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
      },
    },
  },
  "NOT_FOUND",
  "VERSION_NOT_SERVABLE",
  "ACCEPTANCE_WITHDRAWN",
  "RATE_LIMITED",
);

export function bindAudit(c: AppContext, siteId: string, forkedFrom: string | null): AuditEntry {
  const macro = macroOf(c);
  return {
    tenantId: tenantOf(c).id,
    actor: accessOf(c).actor,
    action: "macro.bind",
    target: `site:${siteId}`,
    detail: {
      content: `${macro.content.type}:${macro.content.id}`,
      localId: macro.key.localId,
      ...(forkedFrom === null ? {} : { forkedFrom }),
    },
  };
}

function boundSite(c: AppContext): Site {
  const site = macroOf(c).site;
  if (site === undefined) throw new ApiError("NOT_FOUND", "Nothing is published in this macro yet.");
  return site;
}

export function registerMacroBindingRoutes(
  app: OpenAPIHono<AppEnv>,
  options: { publisher: MacroPublisher; publish?: PublishDeps; now?: () => number },
): void {
  const now = options.now ?? Date.now;

  app.openapi(bindRoute, async (c) => {
    const macro = macroOf(c);
    const tenant = tenantOf(c);
    const actor = accessOf(c).actor;
    const notFound = () => new ApiError("NOT_FOUND", "No such site.");
    const sourceId = parseSiteId(c.req.valid("json").siteId);
    if (sourceId === undefined) throw notFound();
    if (macro.binding?.siteId === sourceId)
      return c.json({ siteId: sourceId, forkedFrom: null, copied: "none" as const, job: null }, 200);
    const source = await getSite(c.env.DB, tenant.id, sourceId);
    if (source === undefined) throw notFound();

    // Shown somewhere this user may read? A site shown nowhere (CLI/API) is never bound from a macro.
    const shownOn = await otherBindingsOfSite(c.env.DB, tenant.id, source.id, macro.key, FORK_SOURCE_CHECKS);
    let mayReadSource = false;
    for (const other of shownOn) {
      // The type of the source page is not stored; pages are the common case, then blog posts.
      if (
        (await macro.mayRead({ id: other.contentId, type: "page" })) ||
        (await macro.mayRead({ id: other.contentId, type: "blogpost" }))
      ) {
        mayReadSource = true;
        break;
      }
    }
    if (!mayReadSource) throw notFound();

    const config = readPublishConfig(c.env);
    const publisher = { tenant: tenant.id, actor };
    const fork = await createTenantSite(
      c.env,
      config,
      publisher,
      {
        name: source.name,
        notFoundHandling: source.notFoundHandling,
        origin: "fork",
        forkedFrom: source.id,
        onNameTaken: "suffix",
      },
      { now: now() },
    );
    const bound = await bindMacro(c.env.DB, tenant.id, macro.key, fork.id, actor, now());
    if (bound === undefined) throw notFound();
    await audit(c.env, bindAudit(c, fork.id, source.id));

    const job =
      source.liveVersion === null || options.publisher.copyVersion === undefined
        ? undefined
        : await options.publisher.copyVersion(c.env, {
            tenant: tenant.id,
            fromSite: source.id,
            version: source.liveVersion,
            toSite: fork.id,
            actor,
          });
    return c.json(
      {
        siteId: fork.id,
        forkedFrom: source.id,
        copied: job === undefined ? ("none" as const) : ("live" as const),
        job: job ?? null,
      },
      200,
    );
  });

  app.openapi(versionsRoute, async (c) => {
    const site = boundSite(c);
    const { limit, cursor } = c.req.valid("query");
    const page = await withCursor(() => listVersions(c.env.DB, tenantOf(c).id, site.id, { limit, cursor }));
    return c.json(
      { versions: page.items.map((v) => versionJson(v, site.liveVersion)), nextCursor: page.nextCursor },
      200,
    );
  });

  app.openapi(rollbackRoute, async (c) => {
    const site = boundSite(c);
    const publisher = { tenant: tenantOf(c).id, actor: accessOf(c).actor };
    const outcome = await rollbackSite(
      c.env,
      options.publish ?? {},
      publisher,
      site,
      c.req.valid("json").version,
    );
    if (outcome.instant) return c.json({ version: outcome.version, live: true, instant: true }, 200);
    return c.json(acceptedJson(outcome.job, { instant: false }), 202);
  });
}
