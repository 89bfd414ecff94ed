/// <reference path="./cloudflare-workers.d.ts" />
/**
 * The ProvisionVersion Workflow: makes one staged version live, as durable steps that Cloudflare
 * Workflows retries with backoff (DESIGN §3 Publish, §6.5 no half state).
 *
 *   prepare      staging → provisioning (a rollback's version stays superseded until the flip)
 *   worker       the user Worker workerNameFor(site, version), files read from R2 one at a time
 *                (the provider uploads only the contents Cloudflare lacks)
 *   status-feed  a version published with `statusFeed`: its opt-in key in Workers KV (site-feeds.ts),
 *                so the gateway lets it read its tenant's monitor feed from its first request
 *   smoke-check  the entry page through the dispatch path with a grant for this version
 *   flip         ONE D1 batch: the old live version superseded, this one live, the site pointed at it
 *   prune        user Workers beyond the newest WORKERS_KEPT_PER_SITE deleted (bundles stay in R2)
 *
 * Every step is idempotent, because a Workflow may run a step again (a retry, or recoverJobs calling
 * `restart()` on an instance a local dev stack lost when it was killed — local Workflows do not
 * resume after SIGKILL): prepare and flip are guarded compare-and-sets, createWorker replaces the
 * Worker of the same name with the same files, smoke and prune only read or delete.
 *
 * The flip is the only thing that makes a version live, and the dispatch Worker only serves a version
 * a grant names, which the control Worker mints for the live version only — so a failure at any step
 * leaves the previous live version serving and this one `failed` with a typed code.
 */

import {
  WorkflowEntrypoint,
  type WorkflowEvent,
  type WorkflowStep,
  type WorkflowStepConfig,
} from "cloudflare:workers";
import {
  parseWorkerName,
  type SiteId,
  siteTag,
  type TenantShortId,
  tenantTag,
  workerNameFor,
} from "@mini-sites/core";
import { getSite } from "../db/sites.ts";
import { getTenant } from "../db/tenants.ts";
import { getVersion } from "../db/versions.ts";
import type { ControlEnv } from "../env.ts";
import type { HostingProvider } from "../hosting/index.ts";
import { type PublishConfig, readPublishConfig } from "../publish/config.ts";
import { readArchivedFile, readManifest } from "../publish/r2.ts";
import { hostingFor, type PublishDeps } from "../publish/services.ts";
import { smokeCheck } from "../publish/smoke.ts";
import {
  type FlipOutcome,
  failJob,
  flipLive,
  getJob,
  type JobKind,
  markJobRunning,
  markJobSucceeded,
  markProvisioning,
  versionNumbers,
} from "../publish/store.ts";
import { writeFeedOptIn } from "../site-feeds.ts";

export interface ProvisionParams {
  readonly tenantId: TenantShortId;
  readonly siteId: SiteId;
  readonly version: number;
  readonly jobId: string;
  readonly kind: JobKind;
}

/** Why a job failed: stable codes, shown by `GET /v1/jobs/{id}` and recorded on the version. */
export const PROVISION_FAILURE_CODES = [
  "SITE_DELETED",
  "VERSION_NOT_PROVISIONABLE",
  "BUNDLE_MISSING",
  "SMOKE_CHECK_FAILED",
  "NOT_CONFIGURED",
  "NEWER_VERSION_LIVE",
  "FLIP_REFUSED",
  "JOB_STUCK",
  "PROVISION_FAILED",
] as const;

/** A failure that retrying will not fix: ends the job at once. */
class ProvisionFailure extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(`${code}: ${message}`);
    this.name = "ProvisionFailure";
    this.code = code;
  }
}

/** Workflows hands the run the last error of a step that ran out of retries; its message starts with our code. */
function failureOf(error: unknown): { code: string; message: string } {
  if (error instanceof ProvisionFailure)
    return { code: error.code, message: error.message.slice(error.code.length + 2) };
  const text = error instanceof Error ? error.message : String(error);
  const match = /^([A-Z][A-Z0-9_]{2,63}): ([\s\S]*)$/.exec(text);
  return match
    ? { code: match[1] as string, message: (match[2] as string).slice(0, 500) }
    : { code: "PROVISION_FAILED", message: text.slice(0, 500) };
}

type StepValue<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: string; readonly message: string };

const ok = <T>(value: T): StepValue<T> => ({ ok: true, value });
const refuse = (code: string, message: string): StepValue<never> => ({ ok: false, code, message });

function unwrap<T>(result: StepValue<T>): T {
  if (!result.ok) throw new ProvisionFailure(result.code, result.message);
  return result.value;
}

export class ProvisionVersion extends WorkflowEntrypoint<ControlEnv, ProvisionParams> {
  /** Retries of the steps that talk to Cloudflare or the gateway. Subclasses (tests) shorten them. */
  protected stepConfig(): WorkflowStepConfig {
    return { retries: { limit: 4, delay: "5 seconds", backoff: "exponential" }, timeout: "10 minutes" };
  }

  /** Retries of the D1-only steps. */
  protected dbStepConfig(): WorkflowStepConfig {
    return { retries: { limit: 5, delay: "1 second", backoff: "exponential" }, timeout: "1 minute" };
  }

  protected deps(): PublishDeps {
    return {};
  }

  /** The flip (store.ts flipLive); a method so tests can inject a failure at exactly this step. */
  protected async flip(
    env: ControlEnv,
    tenant: TenantShortId,
    site: SiteId,
    version: number,
    options: Parameters<typeof flipLive>[4],
    now: number,
  ): Promise<FlipOutcome> {
    return flipLive(env.DB, tenant, site, version, options, now);
  }

  override async run(event: Readonly<WorkflowEvent<ProvisionParams>>, step: WorkflowStep): Promise<unknown> {
    const params = event.payload;
    const env = this.env;
    const deps = this.deps();
    const now = deps.now ?? Date.now;
    const config = readPublishConfig(env);
    const { tenantId: tenant, siteId: site, version, jobId } = params;
    const name = workerNameFor(site, version);
    const progress = (label: string, fraction: number) =>
      markJobRunning(env.DB, tenant, jobId, label, fraction, now());

    try {
      const prepared = await step.do("prepare", this.dbStepConfig(), async () => {
        const job = await getJob(env.DB, tenant, jobId);
        if (job === undefined) return refuse("SITE_DELETED", "The job's site was deleted.");
        if (job.state === "succeeded" || job.state === "failed") return ok({ done: job.state });
        // An uninstalled tenant's job must not recreate Workers after (or during) its erasure.
        if ((await getTenant(env.DB, tenant))?.status !== "active")
          return refuse("TENANT_PURGING", "The app was uninstalled; nothing is provisioned for it any more.");
        await progress("prepare", 0.05);
        if (params.kind === "reprovision") {
          // Reconcile: the live version's Worker went missing; provision it again, flip nothing.
          const current = await getVersion(env.DB, tenant, site, version);
          if (current === undefined) return refuse("SITE_DELETED", "The version no longer exists.");
          if (current.status !== "live")
            return refuse(
              "VERSION_NOT_PROVISIONABLE",
              `Version ${version} is ${current.status}, no longer live.`,
            );
        } else if (params.kind === "publish") {
          const status = await markProvisioning(env.DB, tenant, site, version, now());
          if (status === undefined) return refuse("SITE_DELETED", "The version no longer exists.");
          if (status === "live") return ok({ done: "live" });
          if (status !== "provisioning")
            return refuse(
              "VERSION_NOT_PROVISIONABLE",
              `Version ${version} is ${status}; it cannot be provisioned.`,
            );
        } else {
          const current = await getVersion(env.DB, tenant, site, version);
          if (current === undefined) return refuse("SITE_DELETED", "The version no longer exists.");
          if (current.status === "live") return ok({ done: "live" });
          if (current.status !== "superseded")
            return refuse(
              "VERSION_NOT_PROVISIONABLE",
              `Version ${version} is ${current.status}; only an earlier live version can be rolled back to.`,
            );
        }
        return ok({ done: "" });
      });
      const { done } = unwrap(prepared);
      if (done === "live") {
        await step.do("finish", this.dbStepConfig(), async () =>
          markJobSucceeded(env.DB, tenant, jobId, now()),
        );
        return { live: version };
      }
      if (done !== "") return { state: done };

      const report = unwrap(
        await step.do("worker", this.stepConfig(), async () => {
          await progress("upload", 0.2);
          const siteRow = await getSite(env.DB, tenant, site);
          const versionRow = await getVersion(env.DB, tenant, site, version);
          if (siteRow === undefined || versionRow === undefined)
            return refuse("SITE_DELETED", "The site was deleted.");
          const files = await readManifest(env.BUNDLES, tenant, site, versionRow.contentHash);
          if (files === undefined)
            return refuse("BUNDLE_MISSING", "The version's archived bundle is missing from storage.");
          const hosting: HostingProvider = hostingFor(env, deps);
          const created = await hosting.createWorker({
            name,
            files,
            readFile: (entry) => readArchivedFile(env.BUNDLES, tenant, site, entry),
            tags: [tenantTag(tenant), siteTag(site)],
            assets: { notFoundHandling: siteRow.notFoundHandling },
          });
          if (!created.ok) {
            // Retryable (rate limit, outage): throw, so Workflows tries the step again with backoff.
            if (created.error.retryable) throw new Error(`${created.error.code}: ${created.error.message}`);
            return refuse(created.error.code, created.error.message);
          }
          return ok({ uploadedFiles: created.value.uploadedFiles, files: created.value.files });
        }),
      );

      unwrap(
        await step.do("status-feed", this.stepConfig(), async () => {
          const versionRow = await getVersion(env.DB, tenant, site, version);
          if (versionRow === undefined) return refuse("SITE_DELETED", "The site was deleted.");
          if (!versionRow.statusFeed) return ok(false);
          if (env.SITE_FEEDS === undefined)
            return refuse(
              "NOT_CONFIGURED",
              "The version reads the status feed, but the SITE_FEEDS KV namespace binding is missing.",
            );
          // A failed write throws: retried like any step, and the version never goes live without it.
          await writeFeedOptIn(env.SITE_FEEDS, site, version);
          return ok(true);
        }),
      );

      unwrap(
        await step.do("smoke-check", this.stepConfig(), async () => {
          await progress("smoke-check", 0.7);
          const result = await smokeCheck(env, config, { tenant, site, version }, now());
          if (result.ok) return ok(result.status);
          if (result.status === 0 || result.status >= 500)
            throw new Error(`SMOKE_CHECK_FAILED: ${result.detail}`);
          return refuse("SMOKE_CHECK_FAILED", result.detail);
        }),
      );

      if (params.kind === "reprovision") {
        await step.do("finish", this.dbStepConfig(), async () =>
          markJobSucceeded(env.DB, tenant, jobId, now()),
        );
        return { live: version, reprovisioned: true, uploadedFiles: report.uploadedFiles };
      }

      const flipped = await step.do("flip", this.dbStepConfig(), async () => {
        await progress("flip", 0.9);
        return this.flip(
          env,
          tenant,
          site,
          version,
          params.kind === "publish"
            ? { from: ["provisioning"], onlyForward: true, reason: "publish" }
            : { from: ["superseded"], onlyForward: false, reason: "rollback" },
          now(),
        );
      });
      if (flipped === "newer-live")
        throw new ProvisionFailure(
          "NEWER_VERSION_LIVE",
          "A newer version went live first; this one was not made live.",
        );
      if (flipped === "acceptance-withdrawn")
        throw new ProvisionFailure(
          "ACCEPTANCE_WITHDRAWN",
          "An accepted finding this version relies on was withdrawn by an admin while it was provisioned; it was not made live.",
        );
      if (flipped === "not-flippable")
        throw new ProvisionFailure("FLIP_REFUSED", "The version changed state while it was provisioned.");

      // Pruning is housekeeping: the version is live whatever happens here; reconcile retries later.
      await step
        .do("prune", this.stepConfig(), async () => {
          await progress("prune", 0.95);
          return pruneWorkers(env, deps, config, tenant, site);
        })
        .catch(() => undefined);
      await step.do("finish", this.dbStepConfig(), async () =>
        markJobSucceeded(env.DB, tenant, jobId, now()),
      );
      return { live: version, uploadedFiles: report.uploadedFiles };
    } catch (error) {
      const failure = failureOf(error);
      await step.do("fail", this.dbStepConfig(), async () => {
        await failJob(
          env.DB,
          tenant,
          { id: jobId, siteId: site, version, kind: params.kind },
          failure,
          now(),
        );
        // A Worker made for a version that did not go live serves nobody (no grant names it); delete it
        // anyway so a failed publish leaves nothing behind. Best effort: reconcile removes leftovers.
        const row = await getVersion(env.DB, tenant, site, version);
        if (row?.status !== "live")
          await hostingForSafe(env, deps)
            ?.delete(name)
            .catch(() => undefined);
      });
      return { failed: failure.code };
    }
  }
}

function hostingForSafe(env: ControlEnv, deps: PublishDeps): HostingProvider | undefined {
  try {
    return hostingFor(env, deps);
  } catch {
    return undefined;
  }
}

/**
 * Keeps the user Workers of the live version, of versions still on their way (newer than live), and of
 * the newest `workersKeptPerSite` live-or-superseded versions; deletes every other Worker tagged with
 * the site. Their bundles stay in R2, so a rollback to them re-provisions.
 */
export async function pruneWorkers(
  env: ControlEnv,
  deps: PublishDeps,
  config: PublishConfig,
  tenant: TenantShortId,
  site: SiteId,
): Promise<{ deleted: string[] }> {
  const versions = await versionNumbers(env.DB, tenant, site);
  const keep = new Set<number>();
  let kept = 0;
  for (const v of versions) {
    if (v.status === "staging" || v.status === "provisioning") keep.add(v.number);
    else if (
      (v.status === "live" || v.status === "superseded") &&
      (v.status === "live" || kept < config.workersKeptPerSite)
    ) {
      keep.add(v.number);
      kept += 1;
    }
  }
  const hosting = hostingFor(env, deps);
  const listed = await hosting.listByTag(siteTag(site));
  if (!listed.ok) throw new Error(`${listed.error.code}: ${listed.error.message}`);
  const deleted: string[] = [];
  for (const worker of listed.value) {
    const parsed = parseWorkerName(worker.name);
    if (parsed === undefined || parsed.siteId !== site || keep.has(parsed.version)) continue;
    const gone = await hosting.delete(worker.name);
    if (gone.ok) deleted.push(worker.name);
  }
  return { deleted };
}
