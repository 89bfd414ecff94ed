/**
 * The control Worker (DESIGN §2): where every control-plane request enters. HTTP goes through the
 * Hono app (app/app.ts), where the route policy authenticates and authorizes every request before any
 * handler runs. The ProvisionVersion Workflow runs provisioning, and the CloudflareApiBudget Durable
 * Object holds the account-wide Cloudflare API budget.
 */

import { createApp } from "./app/app.ts";
import type { ControlEnv } from "./env.ts";
import { reconcilePass } from "./lifecycle/reconcile.ts";
import { sweepLifecycle } from "./lifecycle/sweep.ts";
import { cleanAbandonedUploads } from "./macro/cleanup.ts";
import { checkDueMonitors } from "./monitors/checker.ts";
import { rewrapTenantKeys } from "./monitors/keys.ts";
import { pruneReports, pushPendingReports } from "./monitors/reports.ts";
import { pruneDenials } from "./policy/denials.ts";
import { recoverJobs } from "./publish/recover.ts";

export { CloudflareApiBudget } from "./hosting/budget-object.ts";
export { ProvisionVersion } from "./workflows/provision.ts";

const app = createApp();

/**
 * The crons of wrangler-control.toml: every 5 minutes the housekeeping below, every minute monitors.
 * (Not exported: workerd refuses an entry module exporting anything but handlers and classes.)
 */
const MONITOR_CRON = "* * * * *";

interface ScheduledController {
  readonly cron: string;
  readonly scheduledTime: number;
}

/** One housekeeping task: a failure is logged by name and never stops the others. */
async function task(name: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    console.error(
      JSON.stringify({
        level: "error",
        event: "cron.task_failed",
        task: name,
        code: typeof code === "string" ? code : "INTERNAL",
      }),
    );
  }
}

export default {
  fetch: (request: Request, env: ControlEnv, ctx: unknown) =>
    app.fetch(request, env, ctx as Parameters<typeof app.fetch>[2]),
  async scheduled(controller: ScheduledController, env: ControlEnv): Promise<void> {
    if (controller.cron === MONITOR_CRON) {
      // Check first, then push: a state change found now is reported in the same pass.
      await task("monitors", () => checkDueMonitors(env));
      await task("monitor-reports", () => pushPendingReports(env));
      return;
    }
    // The 5-minute cron, or a trigger by hand (the dev stack at start-up passes a scheduledTime in the
    // future so every job left running by a killed stack counts as stuck). Never earlier than now.
    const now = Math.max(Date.now(), controller.scheduledTime);
    await task("recover-jobs", () => recoverJobs(env, now));
    await task("abandoned-uploads", () => cleanAbandonedUploads(env, Date.now()));
    await task("denial-counts", () => pruneDenials(env.DB, Date.now()));
    await task("monitor-reports-prune", () => pruneReports(env, Date.now()));
    await task("lifecycle", () => sweepLifecycle(env, {}, Date.now()));
    await task("reconcile", () => reconcilePass(env, {}, Date.now()));
    await task("rewrap-tenant-keys", async () => {
      const report = await rewrapTenantKeys(env);
      // While APP_PSK_PREVIOUS is set: `remaining: 0` is when the operator may delete it.
      if (report.rewrapped + report.failed + report.remaining > 0)
        console.log(JSON.stringify({ level: "info", event: "tenant_keys.rewrap", ...report }));
    });
  },
};
