/**
 * The control Worker (DESIGN §2): where every control-plane request enters. HTTP goes through the
 * Hono app (app/app.ts), where the route policy authenticates and authorizes every request before any
 * handler runs. Crons: every 5 minutes, stuck publish jobs are recovered and abandoned editor uploads
 * cleaned up; every minute is for monitors. The ProvisionVersion Workflow runs provisioning, and the
 * CloudflareApiBudget Durable Object holds the account-wide Cloudflare API budget.
 */

import { createApp } from "./app/app.ts";
import type { ControlEnv } from "./env.ts";
import { cleanAbandonedUploads } from "./macro/cleanup.ts";
import { pruneDenials } from "./policy/denials.ts";
import { recoverJobs } from "./publish/recover.ts";

export { CloudflareApiBudget } from "./hosting/budget-object.ts";
export { ProvisionVersion } from "./workflows/provision.ts";

const app = createApp();

/**
 * The crons of wrangler-control.toml: every 5 minutes recovers stuck jobs and does housekeeping, every
 * minute is for monitors. (Not exported: workerd refuses an entry module exporting anything but
 * handlers and classes.)
 */
const MONITOR_CRON = "* * * * *";

interface ScheduledController {
  readonly cron: string;
  readonly scheduledTime: number;
}

export default {
  fetch: (request: Request, env: ControlEnv, ctx: unknown) =>
    app.fetch(request, env, ctx as Parameters<typeof app.fetch>[2]),
  async scheduled(controller: ScheduledController, env: ControlEnv): Promise<void> {
    if (controller.cron === MONITOR_CRON) return; // Monitors land with their own issue.
    // The 5-minute cron, or a trigger by hand (the dev stack at start-up passes a scheduledTime in the
    // future so every job left running by a killed stack counts as stuck). Never earlier than now.
    const now = Math.max(Date.now(), controller.scheduledTime);
    await recoverJobs(env, now);
    await cleanAbandonedUploads(env, Date.now());
    await pruneDenials(env.DB, Date.now());
  },
};
