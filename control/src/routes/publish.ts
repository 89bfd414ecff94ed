/**
 * Publishing through the API (CLI, MCP, CI): a version upload, its job, a rollback. Who may call each
 * route and which site it acts on is the route policy's (policy/table.ts): a handler here reads the
 * tenant and the site from `access`, already checked, and never looks a client-supplied id up itself.
 *
 *   POST /v1/sites/{site}/files/missing {files}  which files (by hash) the site lacks    200 {missing}
 *   POST /v1/sites/{site}/versions             publish (site `new` creates a site)    202 {jobId, version, siteId, statusUrl}
 *   GET  /v1/jobs/{job}                        a job's state                            200 {state, step, progress, error}
 *   POST /v1/sites/{site}/rollback {version}   instant flip, or re-provision then flip  200 | 202
 *
 * The upload body streams to R2 (publish/upload.ts): its schema below documents it but is not a zod
 * schema, so nothing buffers it for validation.
 *
 * A new site's name: one the caller chose (`?name=`, or the form's `name` field) must be free in the
 * tenant, else 409 NAME_TAKEN — checked before the body is read when it comes in the query; without
 * one the site is "Untitled site", numbered when that is taken (publish/sites.ts).
 */

import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { type AppContext, type AppEnv, accessOf, jobOf, siteOf, tenantOf } from "../app/context.ts";
import { ApiError } from "../app/errors.ts";
import { getSiteByName, NOT_FOUND_HANDLING, type NotFoundHandling } from "../db/sites.ts";
import { MAX_VERSION_MESSAGE_LENGTH } from "../db/versions.ts";
import { readPublishConfig } from "../publish/config.ts";
import { admit, DEFAULT_SITE_NAME, stageUpload } from "../publish/pipeline.ts";
import { archivedFileSizes } from "../publish/r2.ts";
import { rollbackSite } from "../publish/rollback.ts";
import type { PublishDeps } from "../publish/services.ts";
import { nameTakenError } from "../publish/sites.ts";
import type { Job } from "../publish/store.ts";
import { ManifestFileSchema, receiveUpload } from "../publish/upload.ts";
import { defineRoute } from "./define.ts";
import { JobParams, PublishQuery, RollbackBody, SiteNameSchema, SiteParams } from "./schemas.ts";

export const MESSAGE_HEADER = "x-mini-sites-message";
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });

export const AcceptedSchema = z
  .object({
    jobId: z.string(),
    version: z.number().int(),
    siteId: z.string(),
    statusUrl: z.string(),
    replayed: z.boolean().optional(),
    files: z.number().int().optional(),
    bytes: z.number().int().optional(),
    externalHosts: z.array(z.unknown()).optional(),
    warnings: z.array(z.record(z.string(), z.unknown())).optional().openapi({
      description: "Secret-scan findings that do not refuse a publish (severity warn), redacted",
    }),
    accepted: z.array(z.record(z.string(), z.unknown())).optional().openapi({
      description:
        "Findings a tenant admin accepted (GET /v1/tenant/accepted-findings), redacted: shown, never refusing",
    }),
  })
  .openapi("PublishAccepted");

const JobSchema = z
  .object({
    jobId: z.string(),
    siteId: z.string(),
    version: z.number().int(),
    kind: z.enum(["publish", "rollback", "reprovision"]),
    state: z.enum(["queued", "running", "succeeded", "failed"]),
    step: z.string().nullable(),
    progress: z.number(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
  })
  .openapi("Job");

const PublishSiteParams = z.object({
  site: z
    .string()
    .openapi({ param: { name: "site", in: "path" }, description: "A site id, or `new` for a new site" }),
});

/** Bodies that stream to R2: documented here, validated by the pipeline while they stream. */
const BINARY = { type: "string", format: "binary" } as const;

const publishRoute = defineRoute(
  {
    method: "post",
    path: "/v1/sites/{site}/versions",
    summary:
      "Publish a version: a zip, one HTML file or a folder (multipart), streamed; Idempotency-Key honoured",
    tags: ["publish"],
    request: {
      params: PublishSiteParams,
      query: PublishQuery,
      body: {
        content: {
          "application/zip": { schema: BINARY },
          "text/html": { schema: { type: "string" } },
          "multipart/form-data": {
            schema: {
              type: "object",
              description:
                "One part per file, named by its relative path; optional fields message, name, notFoundHandling, statusFeed.",
            },
          },
        },
        required: true,
      },
    },
    responses: { 202: { description: "Staged; provisioning runs as a job", ...json(AcceptedSchema) } },
  },
  "BUNDLE_REJECTED",
  "BODY_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "INVALID_REQUEST",
  "RATE_LIMITED",
  "QUOTA_SITES",
  "QUOTA_BYTES",
  "NOT_CONFIGURED",
  "UNAVAILABLE",
);

const FileListBody = z
  .object({ files: z.array(ManifestFileSchema) })
  .strict()
  .openapi("FileList", {
    description:
      "Files of a bundle by asset hash (SHA-256 over the extension, a NUL and the bytes, first 32 hex characters: core/src/bundle/hash.ts).",
  });

const MissingFilesSchema = z
  .object({
    missing: z.array(z.string()).openapi({
      description: "Hashes of the listed files the site's archive lacks, each once, in the order asked.",
    }),
  })
  .openapi("MissingFiles");

const missingFilesRoute = defineRoute({
  method: "post",
  path: "/v1/sites/{site}/files/missing",
  summary:
    "Which of a bundle's files the site does not store yet: send only those, with a manifest of all, in the publish",
  tags: ["publish"],
  request: { params: SiteParams, body: { ...json(FileListBody), required: true } },
  responses: { 200: { description: "The hashes to send", ...json(MissingFilesSchema) } },
});

const jobRoute = defineRoute({
  method: "get",
  path: "/v1/jobs/{job}",
  summary: "A publish or rollback job's state",
  tags: ["publish"],
  request: { params: JobParams },
  responses: { 200: { description: "The job", ...json(JobSchema) } },
});

const rollbackRoute = defineRoute(
  {
    method: "post",
    path: "/v1/sites/{site}/rollback",
    summary: "Make an earlier version live again (instant if its Worker is kept, else re-provisioned)",
    tags: ["publish"],
    request: { params: SiteParams, body: { ...json(RollbackBody), required: true } },
    responses: {
      200: {
        description: "Flipped at once",
        ...json(z.object({ version: z.number().int(), live: z.boolean(), instant: z.literal(true) })),
      },
      202: { description: "Re-provisioning job started", ...json(AcceptedSchema) },
    },
  },
  "VERSION_NOT_SERVABLE",
  "ACCEPTANCE_WITHDRAWN",
  "RATE_LIMITED",
);

export function acceptedJson(job: Job, extra: Record<string, unknown> = {}) {
  return {
    jobId: job.id,
    version: job.version,
    siteId: job.siteId,
    statusUrl: `/v1/jobs/${job.id}`,
    ...extra,
  };
}

export function jobJson(job: Job) {
  return {
    jobId: job.id,
    siteId: job.siteId,
    version: job.version,
    kind: job.kind,
    state: job.state,
    step: job.step,
    progress: job.progress,
    error: job.errorCode === null ? null : { code: job.errorCode, message: job.errorMessage ?? "" },
  };
}

function textOrUndefined(value: string | undefined | null): string | undefined {
  return value === undefined || value === null || value === "" ? undefined : value;
}

/** A site name from the query or the form: trimmed; INVALID_REQUEST when it cannot be one. */
function siteNameOf(value: string | undefined, where: string): string | undefined {
  const text = textOrUndefined(value);
  if (text === undefined) return undefined;
  const parsed = SiteNameSchema.safeParse(text);
  if (!parsed.success) {
    const message = parsed.error.issues[0]?.message ?? "not a site name";
    throw new ApiError("INVALID_REQUEST", `${where}: ${message}`, [{ path: where, message }]);
  }
  return parsed.data;
}

/**
 * The status feed opt-in from the query or the form: `true` or `false` (default false); anything else
 * is INVALID_REQUEST, so a typo never publishes a version with a choice its author did not make.
 */
function statusFeedOf(query: string | undefined, field: string | undefined): boolean {
  const [value, where] = query !== undefined ? [query, "query.statusFeed"] : [field, "form.statusFeed"];
  if (value === undefined || value === "false") return false;
  if (value === "true") return true;
  const message = "statusFeed must be true or false.";
  throw new ApiError("INVALID_REQUEST", message, [{ path: where, message }]);
}

export function registerPublishRoutes(app: OpenAPIHono<AppEnv>, deps: PublishDeps = {}): void {
  const clock = deps.now ?? Date.now;

  app.openapi(publishRoute, async (c: AppContext) => {
    const access = accessOf(c);
    const tenant = tenantOf(c);
    const env = c.env;
    const config = readPublishConfig(env);
    const publisher = { tenant: tenant.id, actor: access.actor };
    const site = access.site;

    const key = textOrUndefined(c.req.header("idempotency-key"));
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key))
      throw new ApiError("INVALID_REQUEST", "Idempotency-Key must be 1–255 visible ASCII characters.");
    const queryName = siteNameOf(c.req.query("name"), "query.name");
    // A chosen name that is taken costs the caller no upload.
    if (site === undefined && queryName !== undefined && (await getSiteByName(env.DB, tenant.id, queryName)))
      throw nameTakenError(queryName);
    const replay = await admit(env, config, publisher, { site, idempotencyKey: key }, clock());
    if (replay !== undefined) return c.json(acceptedJson(replay.job, { replayed: true }), 202);

    const upload = await receiveUpload(
      env.BUNDLES,
      tenant.id,
      c.req.raw,
      config,
      c.req.query("filename") ?? "index.html",
      site?.id,
    );
    try {
      const message =
        textOrUndefined(c.req.query("message")) ??
        textOrUndefined(c.req.header(MESSAGE_HEADER)) ??
        upload.fields.message;
      if (message !== undefined && message.length > MAX_VERSION_MESSAGE_LENGTH)
        throw new ApiError(
          "INVALID_REQUEST",
          `The version message is longer than ${MAX_VERSION_MESSAGE_LENGTH} characters.`,
        );
      const chosenName = queryName ?? siteNameOf(upload.fields.name, "form.name");
      const handling =
        textOrUndefined(c.req.query("notFoundHandling")) ?? upload.fields.notFoundHandling ?? "none";
      if (!(NOT_FOUND_HANDLING as readonly string[]).includes(handling))
        throw new ApiError(
          "INVALID_REQUEST",
          `notFoundHandling must be one of ${NOT_FOUND_HANDLING.join(", ")}.`,
        );
      const statusFeed = statusFeedOf(c.req.query("statusFeed"), upload.fields.statusFeed);
      const staged = await stageUpload(
        env,
        config,
        publisher,
        {
          site,
          statusFeed,
          newSite: {
            name: chosenName ?? DEFAULT_SITE_NAME,
            notFoundHandling: handling as NotFoundHandling,
            onNameTaken: chosenName === undefined ? "suffix" : "fail",
          },
          upload,
          message,
          idempotencyKey: key,
        },
        clock,
      );
      if (staged.replayed || staged.report === undefined)
        return c.json(acceptedJson(staged.job, { replayed: true }), 202);
      return c.json(
        acceptedJson(staged.job, {
          files: staged.report.files.length,
          bytes: staged.report.bytes,
          externalHosts: staged.report.externalHosts,
          // Only `block` findings refuse (core/src/pipeline.ts); the author still sees the rest.
          warnings: staged.report.findings.filter((f) => f.severity === "warn"),
          accepted: staged.report.accepted,
        }),
        202,
      );
    } finally {
      await env.BUNDLES.delete([...upload.keys]).catch(() => undefined);
    }
  });

  app.openapi(missingFilesRoute, async (c) => {
    const { files } = c.req.valid("json");
    const config = readPublishConfig(c.env);
    if (files.length > config.bundle.maxFiles)
      throw new ApiError(
        "INVALID_REQUEST",
        `A bundle has at most ${config.bundle.maxFiles} files; this list has ${files.length}.`,
      );
    const archived = await archivedFileSizes(c.env.BUNDLES, tenantOf(c).id, siteOf(c).id);
    const missing = new Set<string>();
    for (const file of files) if (archived.get(file.hash) !== file.size) missing.add(file.hash);
    return c.json({ missing: [...missing] }, 200);
  });

  app.openapi(jobRoute, (c: AppContext) => c.json(jobJson(jobOf(c)), 200));

  app.openapi(rollbackRoute, async (c) => {
    const access = accessOf(c);
    const publisher = { tenant: tenantOf(c).id, actor: access.actor };
    const outcome = await rollbackSite(c.env, deps, publisher, siteOf(c), c.req.valid("json").version);
    if (outcome.instant) return c.json({ version: outcome.version, live: true, instant: true as const }, 200);
    return c.json(acceptedJson(outcome.job, { instant: false }), 202);
  });
}
