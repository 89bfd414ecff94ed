/**
 * Forge's lifecycle and product events, delivered to this remote by the app's `trigger` and
 * `preUninstall` modules with a FIT without a user (developer.atlassian.com/platform/forge/remote/
 * sending-product-events: 5 s to answer, so each handler is one or two D1 statements). The route policy
 * admits Forge functions only and hands over the installation's tenant as it is (policy/table.ts
 * "installation"): deciding what an event does to it is these handlers' job.
 *
 *   POST /v1/lifecycle/installed     avi:forge:installed:app / upgraded — make or restore the tenant
 *   POST /v1/lifecycle/uninstalling  preUninstall — stop serving now, erase after the grace period
 *   POST /v1/lifecycle/page-events   avi:confluence:{trashed,restored,deleted}:{page,blogpost}
 *   POST /v1/lifecycle/personal-data scheduledTrigger (hourly) with the app's system token — report
 *                                    the tenant's stored account ids to Atlassian (privacy/report.ts)
 *
 * Every handler is idempotent (Forge redelivers on failure) and answers 2xx for an event it has
 * nothing to do with — an earlier installation's late uninstall, a page with no macro of ours —
 * because a refusal would only make Forge retry it. Authentication is the FIT itself: only Forge can
 * sign one for this app, and the tenant it names is the only one an event can touch.
 */

import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { type AppContext, type AppEnv, accessOf, installationOf } from "../app/context.ts";
import { ApiError } from "../app/errors.ts";
import { audit } from "../audit/log.ts";
import { clearPageState, setPageState } from "../db/page-states.ts";
import {
  ensureTenant,
  reassignInstallation,
  restoreTenant,
  scheduleTenantPurge,
  type Tenant,
} from "../db/tenants.ts";
import { contentHasBindings } from "../macro/store.ts";
import { reportPersonalData } from "../privacy/report.ts";
import { readPublishConfig } from "../publish/config.ts";
import { defineRoute } from "./define.ts";

const InstalledEvent = z
  .object({
    eventType: z.enum(["avi:forge:installed:app", "avi:forge:upgraded:app"]).optional(),
  })
  .passthrough()
  .openapi("ForgeInstalledEvent");

const UninstallingEvent = z.object({}).passthrough().openapi("ForgePreUninstall");

const PAGE_EVENTS = [
  "avi:confluence:trashed:page",
  "avi:confluence:restored:page",
  "avi:confluence:deleted:page",
  "avi:confluence:trashed:blogpost",
  "avi:confluence:restored:blogpost",
  "avi:confluence:deleted:blogpost",
] as const;

const PageEvent = z
  .object({
    eventType: z.enum(PAGE_EVENTS),
    content: z
      .object({
        id: z.union([z.string().regex(/^[0-9]{1,20}$/), z.number().int().nonnegative()]),
        type: z.enum(["page", "blogpost"]).optional(),
      })
      .passthrough(),
  })
  .passthrough()
  .openapi("ForgePageEvent");

const Outcome = z.object({ state: z.string() }).openapi("LifecycleOutcome");
const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });

const installedRoute = defineRoute({
  method: "post",
  path: "/v1/lifecycle/installed",
  summary:
    "Forge: the app was installed or upgraded on a site — make the tenant, or restore it within the grace period",
  tags: ["lifecycle"],
  request: { body: { ...json(InstalledEvent), required: false } },
  responses: { 200: { description: "What became of the tenant", ...json(Outcome) } },
});

const uninstallingRoute = defineRoute({
  method: "post",
  path: "/v1/lifecycle/uninstalling",
  summary: "Forge preUninstall: no new grants from now; the tenant is erased after the grace period",
  tags: ["lifecycle"],
  request: { body: { ...json(UninstallingEvent), required: false } },
  responses: { 200: { description: "What became of the tenant", ...json(Outcome) } },
});

const pageEventsRoute = defineRoute({
  method: "post",
  path: "/v1/lifecycle/page-events",
  summary: "Forge product event: a page or blog post was trashed, restored or deleted",
  tags: ["lifecycle"],
  request: { body: { ...json(PageEvent), required: true } },
  responses: { 200: { description: "What the event did", ...json(Outcome) } },
});

/** A scheduled trigger's body (Forge sends the trigger's context); nothing in it is needed. */
const ScheduledEvent = z.object({}).passthrough().openapi("ForgeScheduledTrigger");

const PersonalDataOutcome = z
  .object({
    state: z.enum(["ignored", "current", "waiting", "in-progress", "completed"]),
    reported: z.number().int(),
    closed: z.number().int(),
    updated: z.number().int(),
    nextAt: z.string().optional(),
  })
  .openapi("PersonalDataOutcome");

/** Forge's header with the app's own Atlassian API token, on endpoints with `auth.appSystemToken`. */
export const SYSTEM_TOKEN_HEADER = "x-forge-oauth-system";

const personalDataRoute = defineRoute(
  {
    method: "post",
    path: "/v1/lifecycle/personal-data",
    summary:
      "Forge scheduled trigger: report the tenant's stored account ids to Atlassian and anonymize closed accounts",
    tags: ["lifecycle"],
    request: { body: { ...json(ScheduledEvent), required: false } },
    responses: {
      200: { description: "What this run of the reporting cycle did", ...json(PersonalDataOutcome) },
    },
  },
  "SYSTEM_TOKEN_MISSING",
  "ATLASSIAN_UNAVAILABLE",
  "NOT_CONFIGURED",
);

/** The tenant an event may act on: this installation's own, and only while it is active. */
function activeTenantOf(c: AppContext): Tenant | undefined {
  const tenant = accessOf(c).tenant;
  const installation = installationOf(c);
  return tenant?.status === "active" && tenant.installationId === installation.installationId
    ? tenant
    : undefined;
}

export function registerLifecycleRoutes(app: OpenAPIHono<AppEnv>, now: () => number = Date.now): void {
  app.openapi(installedRoute, async (c) => {
    const installation = installationOf(c);
    const actor = accessOf(c).actor;
    const existing = accessOf(c).tenant;
    if (existing === undefined) {
      const made = await ensureTenant(c.env.DB, installation, { now });
      if (made.created)
        await audit(c.env, {
          tenantId: made.id,
          actor,
          action: "tenant.create",
          target: `tenant:${made.id}`,
          detail: { cloudId: made.cloudId, installationId: made.installationId },
        });
      return c.json({ state: "active" }, 200);
    }
    if (existing.status === "active" && existing.installationId === installation.installationId)
      return c.json({ state: "active" }, 200);
    // An uninstall within its grace period, or an installation id Forge has replaced: this signed event
    // says which installation is the app's now.
    const restored =
      existing.status === "purging"
        ? await restoreTenant(c.env.DB, existing.id, installation.installationId, now())
        : await reassignInstallation(c.env.DB, existing.id, installation.installationId);
    if (restored?.status !== "active") return c.json({ state: "erasing" }, 200);
    await audit(c.env, {
      tenantId: existing.id,
      actor,
      action: "tenant.restore",
      target: `tenant:${existing.id}`,
      detail: {
        installationId: installation.installationId,
        previousInstallationId: existing.installationId,
      },
    });
    return c.json({ state: "restored" }, 200);
  });

  app.openapi(uninstallingRoute, async (c) => {
    const tenant = activeTenantOf(c);
    if (tenant === undefined) return c.json({ state: "ignored" }, 200);
    const config = readPublishConfig(c.env);
    const purgeAfter = now() + config.tenantPurgeGraceSeconds * 1000;
    const purging = await scheduleTenantPurge(c.env.DB, tenant.id, tenant.installationId, purgeAfter);
    if (!purging) return c.json({ state: "ignored" }, 200);
    await audit(c.env, {
      tenantId: tenant.id,
      actor: accessOf(c).actor,
      action: "tenant.uninstall",
      target: `tenant:${tenant.id}`,
      detail: { purgeAfter: new Date(purgeAfter).toISOString() },
    });
    return c.json({ state: "purging" }, 200);
  });

  app.openapi(personalDataRoute, async (c) => {
    const tenant = activeTenantOf(c);
    if (tenant === undefined) return c.json({ state: "ignored", reported: 0, closed: 0, updated: 0 }, 200);
    const systemToken = c.req.header(SYSTEM_TOKEN_HEADER);
    if (systemToken === undefined || systemToken === "")
      throw new ApiError(
        "SYSTEM_TOKEN_MISSING",
        `Personal data reporting needs the app's system token (${SYSTEM_TOKEN_HEADER}); enable auth.appSystemToken on the endpoint.`,
      );
    const outcome = await reportPersonalData(c.env, tenant.id, systemToken, now);
    if (outcome.reported > 0 || outcome.state === "completed")
      await audit(c.env, {
        tenantId: tenant.id,
        actor: accessOf(c).actor,
        action: "privacy.report",
        target: `tenant:${tenant.id}`,
        // Counts only: the account ids themselves are what this is about.
        detail: {
          state: outcome.state,
          reported: outcome.reported,
          closed: outcome.closed,
          updated: outcome.updated,
        },
      });
    // Interrupted after some progress: audited above with what was done, then the error itself.
    if (outcome.failure !== undefined || outcome.state === "interrupted")
      throw (
        outcome.failure ?? new ApiError("ATLASSIAN_UNAVAILABLE", "Personal data reporting was interrupted.")
      );
    const { nextAt, failure: _, state, ...counts } = outcome;
    return c.json(
      { state, ...counts, ...(nextAt === undefined ? {} : { nextAt: new Date(nextAt).toISOString() }) },
      200,
    );
  });

  app.openapi(pageEventsRoute, async (c) => {
    const tenant = activeTenantOf(c);
    if (tenant === undefined) return c.json({ state: "ignored" }, 200);
    const event = c.req.valid("json");
    const contentId = String(event.content.id);
    // A page with no macro of ours (or another tenant's page: no binding in this tenant) changes nothing.
    if (!(await contentHasBindings(c.env.DB, tenant.id, contentId))) return c.json({ state: "ignored" }, 200);
    const kind = event.eventType.split(":")[2] as "trashed" | "restored" | "deleted";
    if (kind === "restored") await clearPageState(c.env.DB, tenant.id, contentId);
    else {
      const config = readPublishConfig(c.env);
      const purgeAfter = kind === "deleted" ? now() + config.pagePurgeGraceSeconds * 1000 : null;
      await setPageState(c.env.DB, tenant.id, contentId, kind, now(), purgeAfter);
    }
    await audit(c.env, {
      tenantId: tenant.id,
      actor: accessOf(c).actor,
      action: `page.${kind}` as const,
      target: `content:${contentId}`,
      detail: { eventType: event.eventType },
    });
    return c.json({ state: kind }, 200);
  });
}
