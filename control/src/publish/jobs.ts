/** Starting a job's Workflow instance (the instance id IS the job id, so a second start is refused by Workflows itself). */

import { ApiError } from "../app/errors.ts";
import type { ControlEnv } from "../env.ts";
import type { ProvisionParams } from "../workflows/provision.ts";
import { type Job, setJobInstance } from "./store.ts";

export function requireWorkflow(env: ControlEnv): NonNullable<ControlEnv["PROVISION_VERSION"]> {
  if (env.PROVISION_VERSION === undefined)
    throw new ApiError("NOT_CONFIGURED", "The PROVISION_VERSION Workflow binding is missing.");
  return env.PROVISION_VERSION;
}

export function paramsOf(job: Job): ProvisionParams {
  return { tenantId: job.tenantId, siteId: job.siteId, version: job.version, jobId: job.id, kind: job.kind };
}

/**
 * Starts the job's instance if it has none yet. A failure to start leaves the job `queued` with no
 * instance: the request still answers 202 (the version is staged, nothing is lost) and recoverJobs —
 * or the same request retried with its Idempotency-Key — starts it.
 */
export async function ensureStarted(env: ControlEnv, job: Job, now: number): Promise<boolean> {
  if (job.state !== "queued" || job.workflowInstanceId !== null) return true;
  const workflow = requireWorkflow(env);
  try {
    await workflow.create({ id: job.id, params: paramsOf(job) });
  } catch (error) {
    // "already exists": an earlier attempt created it but did not record it.
    const exists = await workflow.get(job.id).then(
      () => true,
      () => false,
    );
    if (!exists) {
      console.error(
        JSON.stringify({
          event: "workflow_start_failed",
          job: job.id,
          name: error instanceof Error ? error.name : "error",
        }),
      );
      return false;
    }
  }
  await setJobInstance(env.DB, job.tenantId, job.id, job.id, now);
  return true;
}
