/**
 * The publish pipeline and the Sites API's write side, as a Hono sub-app the control Worker mounts
 * under `/v1` (`app.route("/v1", publishRoutes)`):
 *
 *   POST   /sites/{site}/versions             publish (site `new` creates a site)        202 {jobId, version, siteId, statusUrl}
 *   GET    /jobs/{job}                        a job's state                                200 {state, step, progress, error}
 *   POST   /sites/{site}/rollback {version}   instant flip, or re-provision then flip      200 | 202
 *   POST   /sites/{site}/disable | enable     admin kill switch                            200
 *   DELETE /sites/{site}                      Workers by tag, R2 prefix, rows              200
 *   POST   /sites/{site}/view-url             a grant URL for the live version             200 {url, version, expiresAt}
 *   GET    /sites/{site}/versions/{n}/bundle  the version as a zip                         200 application/zip
 *
 * Every handler takes the tenant from the authenticated principal (app/context.ts) and looks the site
 * up in that tenant only, so another tenant's site answers exactly like a missing one: 404.
 */

import { isSiteVersion, parseSiteId, siteTag, workerNameFor } from "@mini-sites/core";
import { Hono } from "hono";
import type { ZodError } from "zod";
import { type AppContext, type AppEnv, type Caller, requireCaller, requireScope } from "../app/context.ts";
import { handleError, zodIssues } from "../app/errors.ts";
import { getSite, NOT_FOUND_HANDLING, type NotFoundHandling, type Site } from "../db/sites.ts";
import { getVersion, MAX_VERSION_MESSAGE_LENGTH } from "../db/versions.ts";
import { RollbackBody, SiteUpdateBody } from "../routes/schemas.ts";
import { readPublishConfig } from "./config.ts";
import { zipStream } from "./download.ts";
import { PublishError, publishErrorResponse } from "./errors.ts";
import { ensureStarted } from "./jobs.ts";
import { admit, rateLimit, stageUpload } from "./pipeline.ts";
import { deletePrefix, readManifest, sitePrefix } from "./r2.ts";
import { audit, hostingFor, type PublishDeps, requireSiteGrant, target } from "./services.ts";
import { deleteSiteRow, flipLive, getJob, insertJob, type Job, newJobId, setSiteEnabled } from "./store.ts";
import { receiveUpload } from "./upload.ts";

/** `POST /v1/sites/new/versions` publishes a new site (ids are random; a client never picks one). */
export const NEW_SITE = "new";
export const MESSAGE_HEADER = "x-mini-sites-message";
export const DEFAULT_SITE_NAME = "Untitled site";
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

const NO_SUCH_SITE = () => new PublishError("NOT_FOUND", "No such site.");

async function siteOf(c: AppContext, principal: Caller): Promise<Site> {
  const id = parseSiteId(c.req.param("site") ?? "");
  const site = id === undefined ? undefined : await getSite(c.env.DB, principal.tenantId, id);
  if (site === undefined) throw NO_SUCH_SITE();
  return site;
}

function accepted(c: AppContext, job: Job, extra: Record<string, unknown> = {}): Response {
  return c.json(
    { jobId: job.id, version: job.version, siteId: job.siteId, statusUrl: `/v1/jobs/${job.id}`, ...extra },
    202,
  );
}

/** A JSON body checked with the same zod schema the OpenAPI document shows; issues name the field. */
function validJson<T>(
  schema: { safeParse(value: unknown): { success: true; data: T } | { success: false; error: ZodError } },
  body: unknown,
): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = zodIssues("json", parsed.error);
  const first = issues[0];
  throw new PublishError(
    "INVALID_REQUEST",
    first === undefined ? "The request body is not valid." : `${first.path}: ${first.message}`,
    { extra: { issues } },
  );
}

function textOrUndefined(value: string | undefined | null): string | undefined {
  return value === undefined || value === null || value === "" ? undefined : value;
}

export function createPublishRoutes(deps: PublishDeps = {}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const clock = deps.now ?? Date.now;

  app.onError((error, c) => {
    if (error instanceof PublishError) return publishErrorResponse(error);
    return handleError(error, c);
  });

  app.post("/sites/:site/versions", async (c) => {
    const principal = requireCaller(c);
    requireScope(principal, "sites:write");
    const env = c.env;
    const config = readPublishConfig(env);
    const publisher = { tenant: principal.tenantId, actor: principal.actor };
    const isNew = c.req.param("site") === NEW_SITE;
    const site = isNew ? undefined : await siteOf(c, principal);

    const key = textOrUndefined(c.req.header("idempotency-key"));
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key))
      throw new PublishError("INVALID_REQUEST", "Idempotency-Key must be 1–255 visible ASCII characters.");
    const replay = await admit(env, config, publisher, { site, idempotencyKey: key }, clock());
    if (replay !== undefined) return accepted(c, replay.job, { replayed: true });

    const upload = await receiveUpload(
      env.BUNDLES,
      principal.tenantId,
      c.req.raw,
      config,
      c.req.query("filename") ?? "index.html",
    );
    try {
      const message =
        textOrUndefined(c.req.query("message")) ??
        textOrUndefined(c.req.header(MESSAGE_HEADER)) ??
        upload.fields.message;
      if (message !== undefined && message.length > MAX_VERSION_MESSAGE_LENGTH)
        throw new PublishError(
          "INVALID_REQUEST",
          `The version message is longer than ${MAX_VERSION_MESSAGE_LENGTH} characters.`,
        );
      const name = (textOrUndefined(c.req.query("name")) ?? upload.fields.name ?? DEFAULT_SITE_NAME).slice(
        0,
        200,
      );
      const handling =
        textOrUndefined(c.req.query("notFoundHandling")) ?? upload.fields.notFoundHandling ?? "none";
      if (!(NOT_FOUND_HANDLING as readonly string[]).includes(handling))
        throw new PublishError(
          "INVALID_REQUEST",
          `notFoundHandling must be one of ${NOT_FOUND_HANDLING.join(", ")}.`,
        );
      const staged = await stageUpload(
        env,
        config,
        publisher,
        {
          site,
          newSite: { name, notFoundHandling: handling as NotFoundHandling },
          upload,
          message,
          idempotencyKey: key,
        },
        clock,
      );
      if (staged.replayed || staged.report === undefined) return accepted(c, staged.job, { replayed: true });
      return accepted(c, staged.job, {
        files: staged.report.files.length,
        bytes: staged.report.bytes,
        externalHosts: staged.report.externalHosts,
      });
    } finally {
      await env.BUNDLES.delete([...upload.keys]).catch(() => undefined);
    }
  });

  app.get("/jobs/:job", async (c) => {
    const principal = requireCaller(c);
    const job = await getJob(c.env.DB, principal.tenantId, c.req.param("job"));
    if (job === undefined) throw new PublishError("NOT_FOUND", "No such job.");
    return c.json({
      jobId: job.id,
      siteId: job.siteId,
      version: job.version,
      kind: job.kind,
      state: job.state,
      step: job.step,
      progress: job.progress,
      error: job.errorCode === null ? null : { code: job.errorCode, message: job.errorMessage ?? "" },
    });
  });

  app.post("/sites/:site/rollback", async (c) => {
    const principal = requireCaller(c);
    requireScope(principal, "sites:write");
    const env = c.env;
    const site = await siteOf(c, principal);
    const number = validJson(RollbackBody, await c.req.json().catch(() => undefined)).version;
    const version = await getVersion(env.DB, principal.tenantId, site.id, number);
    if (version === undefined) throw new PublishError("NOT_FOUND", "No such version.");
    if (version.status === "live") return c.json({ version: number, live: true, instant: true });
    if (version.status !== "superseded")
      throw new PublishError(
        "VERSION_NOT_SERVABLE",
        `Version ${number} is ${version.status}; only a version that was live can be rolled back to.`,
      );
    const hosting = hostingFor(env, deps);
    const kept = await hosting.exists(workerNameFor(site.id, number));
    if (kept.ok && kept.value) {
      const outcome = await flipLive(
        env.DB,
        principal.tenantId,
        site.id,
        number,
        { from: ["superseded"], onlyForward: false },
        clock(),
      );
      if (outcome === "flipped" || outcome === "already-live") {
        await audit(env, {
          tenantId: principal.tenantId,
          actor: principal.actor,
          action: "site.rollback",
          target: target(site.id, number),
          detail: { instant: true, from: site.liveVersion },
        });
        return c.json({ version: number, live: true, instant: true });
      }
    }
    // Pruned (or the provider could not tell): re-provision from R2 through the same Workflow, then flip.
    const config = readPublishConfig(env);
    await rateLimit(env, config, principal.tenantId, clock());
    const jobId = newJobId();
    await insertJob(
      env.DB,
      principal.tenantId,
      site.id,
      { id: jobId, version: number, kind: "rollback" },
      clock(),
    );
    const job = (await getJob(env.DB, principal.tenantId, jobId)) as Job;
    await audit(env, {
      tenantId: principal.tenantId,
      actor: principal.actor,
      action: "site.rollback",
      target: target(site.id, number),
      detail: { instant: false, job: jobId, from: site.liveVersion },
    });
    await ensureStarted(env, job, clock());
    return accepted(c, job, { instant: false });
  });

  /** The admin kill switch: disabled ⇒ no new grants from this moment (serve-url, view-url). */
  async function setEnabled(c: AppContext, enabled: boolean): Promise<Response> {
    const principal = requireCaller(c);
    requireScope(principal, "sites:write");
    const site = await siteOf(c, principal);
    await setSiteEnabled(c.env.DB, principal.tenantId, site.id, enabled, clock());
    await audit(c.env, {
      tenantId: principal.tenantId,
      actor: principal.actor,
      action: enabled ? "site.enable" : "site.disable",
      target: target(site.id),
    });
    return c.json({ id: site.id, enabled });
  }

  app.post("/sites/:site/disable", (c) => setEnabled(c, false));
  app.post("/sites/:site/enable", (c) => setEnabled(c, true));
  app.patch("/sites/:site", async (c) =>
    setEnabled(c, validJson(SiteUpdateBody, await c.req.json().catch(() => undefined)).enabled),
  );

  app.delete("/sites/:site", async (c) => {
    const principal = requireCaller(c);
    requireScope(principal, "sites:write");
    const env = c.env;
    const site = await siteOf(c, principal);
    // Rows first: from this statement on, no grant can be minted for the site (fail-safe order). The
    // Workers and bytes go next; if Cloudflare or R2 fail here, reconcile deletes the orphans later.
    await deleteSiteRow(env.DB, principal.tenantId, site.id);
    await audit(env, {
      tenantId: principal.tenantId,
      actor: principal.actor,
      action: "site.delete",
      target: target(site.id),
      detail: { name: site.name },
    });
    // Inside the chain: a provider that cannot even be built (provisioning not configured) leaves the
    // Workers pending like any other failure — the rows are gone already, so the answer is still 200.
    const workers = await Promise.resolve()
      .then(() => hostingFor(env, deps).deleteByTag(siteTag(site.id)))
      .then(
        (r) => (r.ok ? "deleted" : "pending"),
        () => "pending",
      );
    const bytes = await deletePrefix(env.BUNDLES, sitePrefix(principal.tenantId, site.id)).then(
      () => "deleted",
      () => "pending",
    );
    return c.json({ id: site.id, deleted: true, workers, bytes });
  });

  app.post("/sites/:site/view-url", async (c) => {
    const principal = requireCaller(c);
    const env = c.env;
    const site = await siteOf(c, principal);
    if (!site.enabled) throw new PublishError("SITE_DISABLED", "This site is disabled by an admin.");
    if (site.liveVersion === null) throw new PublishError("NOT_LIVE", "This site has no live version yet.");
    const grant = await requireSiteGrant(
      env,
      { tenant: principal.tenantId, site: site.id, version: site.liveVersion },
      clock(),
    );
    return c.json({ url: grant.url, version: grant.version, expiresAt: grant.expiresAt });
  });

  app.get("/sites/:site/versions/:n/bundle", async (c) => {
    const principal = requireCaller(c);
    const env = c.env;
    const site = await siteOf(c, principal);
    const number = Number(c.req.param("n"));
    const version = isSiteVersion(number)
      ? await getVersion(env.DB, principal.tenantId, site.id, number)
      : undefined;
    if (version === undefined) throw new PublishError("NOT_FOUND", "No such version.");
    const files = await readManifest(env.BUNDLES, principal.tenantId, site.id, version.contentHash);
    if (files === undefined)
      throw new PublishError("NOT_FOUND", "This version's bundle is no longer stored.");
    return new Response(zipStream(env.BUNDLES, principal.tenantId, site.id, files), {
      headers: {
        "Content-Type": "application/zip",
        "Content-Disposition": `attachment; filename="site-${site.id}-v${number}.zip"`,
        "Cache-Control": "no-store",
      },
    });
  });

  return app;
}

export const publishRoutes = createPublishRoutes();
