/**
 * The one door every bundle goes through (DESIGN §3 Publish: "there is no second door"): admission
 * (idempotency replay, rate limit, site quota) → the core's check over ranged R2 reads → same-content
 * replay → byte quota → archive per file → stage the version and its job in one D1 transaction →
 * audit → start the ProvisionVersion Workflow. `POST /v1/sites/{site}/versions` (routes.ts), an
 * editor's upload from the macro, and a copied page's fork (both through `createPipelinePublisher`)
 * call exactly these functions; they differ only in where the bytes come from.
 */

import {
  type CheckReport,
  type InputFile,
  newSiteId,
  type SiteId,
  type TenantShortId,
} from "@mini-sites/core";
import { ApiError } from "../app/errors.ts";
import { audit } from "../audit/log.ts";
import { listAcceptedFindings } from "../db/accepted-findings.ts";
import { countSites, getSite, getSiteByName, type NotFoundHandling, type Site } from "../db/sites.ts";
import { getVersion } from "../db/versions.ts";
import type { ControlEnv } from "../env.ts";
import type { MacroPublisher, PublishAccepted } from "../macro/publisher.ts";
import { siteFeedStore } from "../site-feeds.ts";
import { type PublishConfig, readPublishConfig } from "./config.ts";
import { ensureStarted, requireWorkflow } from "./jobs.ts";
import { deletePrefix, fileKey, r2Source, readManifest, sitePrefix } from "./r2.ts";
import { type PublishDeps, target } from "./services.ts";
import { createTenantSite, nameTakenError, quotaSitesError } from "./sites.ts";
import {
  findActiveVersionByContent,
  findJobByKey,
  type Job,
  latestJobOfVersion,
  newJobId,
  publishAttemptsSince,
  stageVersion,
  storedBytes,
} from "./store.ts";
import { archiveUpload, checkUpload, type ReceivedUpload } from "./upload.ts";

/** The name of a site published without one. */
export const DEFAULT_SITE_NAME = "Untitled site";

/** Who publishes, to which tenant: from the authenticated caller, never from the request. */
export interface Publisher {
  readonly tenant: TenantShortId;
  /** `api-token:<id>`, `forge:<accountId>`: for audit rows and `published_by`. */
  readonly actor: string;
}

export async function rateLimit(
  env: ControlEnv,
  config: PublishConfig,
  tenant: TenantShortId,
  now: number,
): Promise<void> {
  const windowMs = config.rateWindowSeconds * 1000;
  const recent = await publishAttemptsSince(env.DB, tenant, now - windowMs);
  if (recent.count >= config.publishesPerWindow) {
    const retryAfter = Math.max(1, Math.ceil(((recent.oldest ?? now) + windowMs - now) / 1000));
    throw new ApiError(
      "RATE_LIMITED",
      `This tenant may publish ${config.publishesPerWindow} times per ${config.rateWindowSeconds} s; try again in ${retryAfter} s.`,
      { headers: { "Retry-After": String(retryAfter) } },
    );
  }
}

/** A job and whether it is an earlier one answered again (same Idempotency-Key or same content). */
export interface Staged {
  readonly job: Job;
  readonly replayed: boolean;
  /** The check's report for a new version (undefined for a replay). */
  readonly report?: CheckReport;
}

/**
 * Before any byte is read: a retried Idempotency-Key answers with its job, then the tenant's rate
 * limit (unless this attempt was charged already: an editor upload pays when its ticket is issued)
 * and, for a new site, its site quota.
 */
export async function admit(
  env: ControlEnv,
  config: PublishConfig,
  publisher: Publisher,
  target: {
    readonly site: Site | undefined;
    readonly idempotencyKey?: string | undefined;
    readonly charged?: boolean;
  },
  now: number,
): Promise<Staged | undefined> {
  requireWorkflow(env);
  if (target.idempotencyKey !== undefined) {
    const earlier = await findJobByKey(env.DB, publisher.tenant, target.site?.id, target.idempotencyKey);
    if (earlier !== undefined) {
      await ensureStarted(env, earlier, now);
      return { job: earlier, replayed: true };
    }
  }
  if (target.charged !== true) await rateLimit(env, config, publisher.tenant, now);
  if (target.site === undefined && (await countSites(env.DB, publisher.tenant)) >= config.maxSitesPerTenant)
    throw quotaSitesError(config);
  return undefined;
}

export interface StageRequest {
  /** The site to publish to; undefined makes a new site with `newSite` once the bundle passed. */
  readonly site: Site | undefined;
  readonly newSite?: {
    readonly name: string;
    readonly notFoundHandling: NotFoundHandling;
    /** `fail` for a name the caller chose (NAME_TAKEN), `suffix` for a made-up one (publish/sites.ts). */
    readonly onNameTaken: "fail" | "suffix";
  };
  readonly upload: ReceivedUpload;
  readonly message?: string | undefined;
  readonly idempotencyKey?: string | undefined;
  /** The version may read its tenant's monitor feed at `/__ms/status.json` (site-feeds.ts). */
  readonly statusFeed?: boolean | undefined;
}

/**
 * Checks, archives and stages one received upload and starts its job. The caller owns the upload's
 * temporary R2 keys and deletes them afterwards, whatever happened (nothing of a refused bundle —
 * a secret — is kept).
 */
export async function stageUpload(
  env: ControlEnv,
  config: PublishConfig,
  publisher: Publisher,
  request: StageRequest,
  clock: () => number,
): Promise<Staged> {
  const { tenant } = publisher;
  const statusFeed = request.statusFeed === true;
  // An opt-in the gateway could never honour is refused before anything is checked or stored.
  if (statusFeed) siteFeedStore(env);
  const report = await checkUpload(request.upload, config, await listAcceptedFindings(env.DB, tenant));

  // Same content as a live or in-flight version of this site ⇒ that version's job, no second Worker.
  if (request.site !== undefined) {
    const same = await findActiveVersionByContent(
      env.DB,
      tenant,
      request.site.id,
      report.bundleHash,
      statusFeed,
    );
    const job = same && (await latestJobOfVersion(env.DB, tenant, request.site.id, same.number));
    if (job) {
      await ensureStarted(env, job, clock());
      return { job, replayed: true };
    }
  }
  const stored = await storedBytes(env.DB, tenant, clock());
  if (stored + report.bytes > config.maxStoredBytesPerTenant)
    throw new ApiError(
      "QUOTA_BYTES",
      `Storing this version (${report.bytes} bytes) would take the tenant over its ${config.maxStoredBytesPerTenant}-byte quota. Delete old sites first.`,
    );

  const settings = request.newSite ?? {
    name: DEFAULT_SITE_NAME,
    notFoundHandling: "none" as const,
    onNameTaken: "suffix" as const,
  };
  // A chosen name taken meanwhile (or sent in the form): refused before anything is archived.
  if (
    request.site === undefined &&
    settings.onNameTaken === "fail" &&
    (await getSiteByName(env.DB, tenant, settings.name)) !== undefined
  )
    throw nameTakenError(settings.name);
  const siteId: SiteId = request.site?.id ?? newSiteId();
  await archiveUpload(env.BUNDLES, tenant, siteId, request.upload, report, config);
  if (request.site === undefined) {
    try {
      await createTenantSite(
        env,
        config,
        publisher,
        { ...settings, origin: "publish" },
        { id: siteId, now: clock() },
      );
    } catch (error) {
      // The site was never born (quota, or its name taken by a concurrent publish): nothing of it stays.
      await deletePrefix(env.BUNDLES, sitePrefix(tenant, siteId)).catch(() => undefined);
      throw error;
    }
  }
  const staged = await stageVersion(
    env.DB,
    tenant,
    siteId,
    {
      contentHash: report.bundleHash,
      message: request.message ?? null,
      sizeBytes: report.bytes,
      fileCount: report.files.length,
      publishedBy: publisher.actor,
      idempotencyKey: request.idempotencyKey ?? null,
      jobId: newJobId(),
      acceptances: report.accepted.map((f) => ({ ruleId: f.rule, fileHash: f.fileHash })),
      statusFeed,
    },
    clock(),
  );
  if (!staged.staged) {
    const key = request.idempotencyKey;
    const raced = key === undefined ? undefined : await findJobByKey(env.DB, tenant, siteId, key);
    if (raced === undefined) throw new ApiError("NOT_FOUND", "No such site.");
    await ensureStarted(env, raced, clock());
    return { job: raced, replayed: true };
  }
  const job = (await latestJobOfVersion(env.DB, tenant, siteId, staged.version)) as Job;
  await audit(env, {
    tenantId: tenant,
    actor: publisher.actor,
    action: "site.publish",
    target: target(siteId, staged.version),
    detail: {
      job: job.id,
      files: report.files.length,
      bytes: report.bytes,
      contentHash: report.bundleHash,
      // What let this publish through although the scanner found it: the admins' acceptances used.
      ...(report.accepted.length === 0
        ? {}
        : {
            accepted: report.accepted.map((f) => ({ rule: f.rule, path: f.path, fileHash: f.fileHash })),
          }),
    },
  });
  await ensureStarted(env, job, clock());
  return { job, replayed: false, report };
}

/** A zip starts with a local file header (`PK\x03\x04`) or, when empty, the end record (`PK\x05\x06`). */
async function isZip(env: ControlEnv, key: string): Promise<boolean> {
  const head = await env.BUNDLES.get(key, { range: { offset: 0, length: 4 } });
  if (head === null) return false;
  const bytes = new Uint8Array(await head.arrayBuffer());
  return bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 0x03 || bytes[2] === 0x05);
}

function acceptedOf(job: Job): PublishAccepted {
  return { jobId: job.id, version: job.version, statusUrl: `/v1/jobs/${job.id}` };
}

/** The Macro API's publisher (macro/publisher.ts): editor uploads and copied pages through this pipeline. */
export function createPipelinePublisher(deps: PublishDeps = {}): MacroPublisher {
  const clock = deps.now ?? Date.now;
  return {
    async publishFromR2(env, request) {
      const config = readPublishConfig(env);
      const publisher = { tenant: request.tenant, actor: request.actor };
      const site = await getSite(env.DB, request.tenant, request.site);
      if (site === undefined) throw new ApiError("NOT_FOUND", "No such site.");
      const replay = await admit(env, config, publisher, { site, charged: true }, clock());
      if (replay !== undefined) return acceptedOf(replay.job);
      try {
        const source = await r2Source(env.BUNDLES, request.key);
        if (source === undefined) throw new ApiError("NOT_FOUND", "The upload is no longer stored.");
        const upload: ReceivedUpload = {
          input: (await isZip(env, request.key))
            ? { kind: "zip", source }
            : { kind: "html", name: "index.html", source },
          fields: {},
          keys: [request.key],
        };
        // The editor's choice, or — from a client that makes none — the live version's, so re-uploading a
        // dashboard from the page never silently cuts it off from the feed.
        const live =
          request.statusFeed !== undefined || site.liveVersion === null
            ? undefined
            : await getVersion(env.DB, request.tenant, site.id, site.liveVersion);
        const statusFeed = request.statusFeed ?? (live?.statusFeed === true && env.SITE_FEEDS !== undefined);
        return acceptedOf(
          (await stageUpload(env, config, publisher, { site, upload, statusFeed }, clock)).job,
        );
      } finally {
        // Staged (archived per file) or refused: the assembled upload is not needed any more.
        await env.BUNDLES.delete(request.key).catch(() => undefined);
      }
    },

    async copyVersion(env, request) {
      const config = readPublishConfig(env);
      const publisher = { tenant: request.tenant, actor: request.actor };
      const [from, to] = await Promise.all([
        getVersion(env.DB, request.tenant, request.fromSite, request.version),
        getSite(env.DB, request.tenant, request.toSite),
      ]);
      if (from === undefined || to === undefined) return undefined;
      const files = await readManifest(env.BUNDLES, request.tenant, request.fromSite, from.contentHash);
      if (files === undefined) return undefined;
      // The source's archived files, read one at a time, published to the fork as a folder upload:
      // checked again (limits may have tightened since), archived under the fork's own prefix.
      const input: InputFile[] = files.map((entry) => ({
        path: entry.path,
        size: entry.size,
        read: async () => {
          const object = await env.BUNDLES.get(fileKey(request.tenant, request.fromSite, entry.hash));
          if (object === null) throw new ApiError("NOT_FOUND", `${entry.path} is no longer stored.`);
          return new Uint8Array(await object.arrayBuffer());
        },
      }));
      const upload: ReceivedUpload = { input: { kind: "files", files: input }, fields: {}, keys: [] };
      try {
        const replay = await admit(env, config, publisher, { site: to }, clock());
        if (replay !== undefined) return acceptedOf(replay.job);
        const staged = await stageUpload(
          env,
          config,
          publisher,
          {
            site: to,
            upload,
            message: `Copied from site ${request.fromSite} v${request.version}`,
            // The fork is the same version on another page: it keeps its choice.
            statusFeed: from.statusFeed && env.SITE_FEEDS !== undefined,
          },
          clock,
        );
        return acceptedOf(staged.job);
      } catch (error) {
        // The fork exists and is bound either way; it starts empty rather than failing the bind.
        console.error(
          JSON.stringify({
            level: "error",
            event: "publish.copy_failed",
            code: error instanceof ApiError ? error.code : "INTERNAL",
          }),
        );
        return undefined;
      }
    },
  };
}
