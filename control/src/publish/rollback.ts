/**
 * Rolling a site back to an earlier version — the same for an API token (`POST /v1/sites/{site}/
 * rollback`) and the macro's editor (`POST /v1/macro/rollback`): an instant flip when the version's
 * user Worker is still kept, otherwise a re-provisioning job from the archived bundle. The version
 * rolled back AWAY from is marked so: its open pages get no renewed grant (routes/macro-viewer.ts).
 */

import { workerNameFor } from "@mini-sites/core";
import { ApiError } from "../app/errors.ts";
import { audit } from "../audit/log.ts";
import type { Site } from "../db/sites.ts";
import { getVersion } from "../db/versions.ts";
import type { ControlEnv } from "../env.ts";
import { readPublishConfig } from "./config.ts";
import { ensureStarted } from "./jobs.ts";
import { type Publisher, rateLimit } from "./pipeline.ts";
import { hostingFor, type PublishDeps, target } from "./services.ts";
import { flipLive, getJob, insertJob, type Job, newJobId, withdrawnAcceptancesOf } from "./store.ts";

export type RollbackOutcome =
  | { readonly instant: true; readonly version: number }
  | { readonly instant: false; readonly job: Job };

export async function rollbackSite(
  env: ControlEnv,
  deps: PublishDeps,
  publisher: Publisher,
  site: Site,
  number: number,
): Promise<RollbackOutcome> {
  const clock = deps.now ?? Date.now;
  const version = await getVersion(env.DB, publisher.tenant, site.id, number);
  if (version === undefined) throw new ApiError("NOT_FOUND", "No such version.");
  if (version.status === "live") return { instant: true, version: number };
  if (version.status !== "superseded")
    throw new ApiError(
      "VERSION_NOT_SERVABLE",
      `Version ${number} is ${version.status}; only a version that was live can be rolled back to.`,
    );
  const withdrawn = await withdrawnAcceptancesOf(env.DB, publisher.tenant, site.id, number);
  if (withdrawn.length > 0)
    throw new ApiError(
      "ACCEPTANCE_WITHDRAWN",
      `Version ${number} passed the secret scan only because of ${withdrawn.length === 1 ? "a finding" : `${withdrawn.length} findings`} ` +
        "your admins accepted and have since withdrawn; publish a version without the secret instead.",
      { extra: { detail: { withdrawn } } },
    );
  const hosting = hostingFor(env, deps);
  const kept = await hosting.exists(workerNameFor(site.id, number));
  if (kept.ok && kept.value) {
    const outcome = await flipLive(
      env.DB,
      publisher.tenant,
      site.id,
      number,
      { from: ["superseded"], onlyForward: false, reason: "rollback" },
      clock(),
    );
    if (outcome === "acceptance-withdrawn")
      throw new ApiError(
        "ACCEPTANCE_WITHDRAWN",
        `Version ${number} relies on a finding your admins have just withdrawn.`,
      );
    if (outcome === "flipped" || outcome === "already-live") {
      await audit(env, {
        tenantId: publisher.tenant,
        actor: publisher.actor,
        action: "site.rollback",
        target: target(site.id, number),
        detail: { instant: true, from: site.liveVersion },
      });
      return { instant: true, version: number };
    }
  }
  // Pruned (or the provider could not tell): re-provision from R2 through the same Workflow, then flip.
  const config = readPublishConfig(env);
  await rateLimit(env, config, publisher.tenant, clock());
  const jobId = newJobId();
  await insertJob(
    env.DB,
    publisher.tenant,
    site.id,
    { id: jobId, version: number, kind: "rollback" },
    clock(),
  );
  const job = (await getJob(env.DB, publisher.tenant, jobId)) as Job;
  await audit(env, {
    tenantId: publisher.tenant,
    actor: publisher.actor,
    action: "site.rollback",
    target: target(site.id, number),
    detail: { instant: false, job: jobId, from: site.liveVersion },
  });
  await ensureStarted(env, job, clock());
  return { instant: false, job };
}
