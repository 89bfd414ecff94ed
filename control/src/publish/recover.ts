/**
 * Stuck-job recovery, for the cron handler and for the dev stack at start-up.
 *
 * A local Workflow does not resume after its process is killed: the instance stays `running` forever
 * (dev/research/workflow-resume.ts), and `restart()` runs it again from step 1. Every step of
 * ProvisionVersion is idempotent, so restarting is safe; the flip is one guarded D1 batch, so a version
 * is never half-live whatever was interrupted. A job whose row has not moved for
 * `jobStuckAfterSeconds` is:
 *   - started, if it never got an instance (its start failed after staging);
 *   - finished, if its instance ended but the row was not updated (the version is live ⇒ succeeded);
 *   - restarted, while it is younger than (maxJobRestarts + 1) × the TTL;
 *   - failed with JOB_STUCK after that (its version `failed`, the previous live version untouched).
 */

import { getVersion } from "../db/versions.ts";
import type { ControlEnv } from "../env.ts";
import { readPublishConfig } from "./config.ts";
import { ensureStarted } from "./jobs.ts";
import { failJob, type Job, markJobSucceeded, touchJob, unfinishedJobsBefore } from "./store.ts";

/** Jobs handled per pass: bounded work per cron invocation (reconcile's blast-radius rule). */
export const RECOVER_BATCH = 50;

export interface RecoveryReport {
  readonly started: string[];
  readonly restarted: string[];
  readonly finished: string[];
  readonly failed: string[];
}

const ENDED = new Set(["complete", "errored", "terminated"]);

export async function recoverJobs(env: ControlEnv, now: number): Promise<RecoveryReport> {
  const config = readPublishConfig(env);
  const ttlMs = config.jobStuckAfterSeconds * 1000;
  const report: RecoveryReport = { started: [], restarted: [], finished: [], failed: [] };
  const jobs = await unfinishedJobsBefore(env.DB, now - ttlMs, RECOVER_BATCH);
  for (const job of jobs) {
    try {
      await recoverOne(env, job, now, ttlMs, config.maxJobRestarts, report);
    } catch (error) {
      console.error(
        JSON.stringify({
          event: "job_recovery_failed",
          job: job.id,
          name: error instanceof Error ? error.name : "error",
        }),
      );
    }
  }
  return report;
}

async function stuck(
  env: ControlEnv,
  job: Job,
  now: number,
  why: string,
  report: RecoveryReport,
): Promise<void> {
  await failJob(env.DB, job.tenantId, job, { code: "JOB_STUCK", message: why }, now);
  report.failed.push(job.id);
}

async function recoverOne(
  env: ControlEnv,
  job: Job,
  now: number,
  ttlMs: number,
  maxRestarts: number,
  report: RecoveryReport,
): Promise<void> {
  const version = await getVersion(env.DB, job.tenantId, job.siteId, job.version);
  if (version?.status === "live") {
    await markJobSucceeded(env.DB, job.tenantId, job.id, now);
    report.finished.push(job.id);
    return;
  }
  const tooOld = now - job.createdAt > (maxRestarts + 1) * ttlMs;
  const workflow = env.PROVISION_VERSION;
  if (tooOld || workflow === undefined) {
    if (job.workflowInstanceId !== null && workflow !== undefined)
      await workflow
        .get(job.workflowInstanceId)
        .then((i) => i.terminate())
        .catch(() => undefined);
    await stuck(
      env,
      job,
      now,
      "Provisioning stopped making progress and was given up; publish again.",
      report,
    );
    return;
  }
  if (job.workflowInstanceId === null) {
    if (await ensureStarted(env, job, now)) report.started.push(job.id);
    return;
  }
  const instance = await workflow.get(job.workflowInstanceId).catch(() => undefined);
  if (instance === undefined) {
    await stuck(env, job, now, "The provisioning instance was lost.", report);
    return;
  }
  const { status } = await instance.status();
  if (ENDED.has(status)) {
    await stuck(env, job, now, `Provisioning ended (${status}) without finishing the job.`, report);
    return;
  }
  await instance.restart();
  await touchJob(env.DB, job.tenantId, job.id, now);
  report.restarted.push(job.id);
}
