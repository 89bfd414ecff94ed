/**
 * The control Worker (DESIGN §2): where every control-plane request enters. HTTP goes through the
 * Hono app (app/app.ts) behind authentication verified here, once per request; the 5-minute cron
 * recovers stuck publish jobs (publish/recover.ts); the ProvisionVersion Workflow runs provisioning.
 */

import { createApp } from "./app/app.ts";
import { resolveCaller } from "./app/caller.ts";
import type { AppContext, AppEnv } from "./app/context.ts";
import { AuditLog } from "./audit/index.ts";
import { type AuthenticateOptions, authenticate, type DeniedAttempt } from "./auth/index.ts";
import { D1ApiTokenStore, recordApiTokenUse } from "./db/api-tokens.ts";
import type { ControlEnv } from "./env.ts";
import { controlKeys } from "./identity.ts";
import { recoverJobs } from "./publish/recover.ts";

export { ProvisionVersion } from "./workflows/provision.ts";

/**
 * DESIGN §6.8: every denied request is appended to the audit chain (code and method only: never the
 * credential). A failing audit write never turns a 401 into something else.
 */
async function auditDenied(c: AppContext, attempt: DeniedAttempt): Promise<void> {
  const keys = await controlKeys(c.env);
  if (!keys.ready) return;
  await new AuditLog(c.env.DB, keys.audit).append({
    tenantId: null,
    actor: "anonymous",
    action: "request.denied",
    target: `${c.req.method} ${new URL(c.req.url).pathname}`.slice(0, 200),
    detail: { code: attempt.failure.code, method: attempt.method ?? "none" },
  });
}

/** Work that must not delay the answer; a failure costs only that work. */
function afterResponse(c: AppContext, work: Promise<unknown>): void {
  const guarded = work.catch(() => {});
  try {
    c.executionCtx.waitUntil(guarded);
  } catch {
    // No execution context (in-process requests in tests): the promise still runs to completion.
  }
}

const common: Omit<AuthenticateOptions<AppEnv>, "allow"> = { onDenied: auditDenied };

const app = createApp({
  authenticate: authenticate<AppEnv>({
    ...common,
    allow: ["fit", "apiToken", "sharedSecret"],
    apiTokens: (c) => new D1ApiTokenStore(c.env.DB),
    onAuthenticated: (c, principal) => {
      // `last_used_at` for the token list (written at most once a minute per token, after the answer).
      if (principal.kind === "apiToken")
        afterResponse(c, recordApiTokenUse(c.env.DB, principal.tokenId, Date.now()));
      return resolveCaller(c, principal);
    },
  }),
  // The Macro API resolves its tenant from the FIT itself (never creating one for a mere viewer) and
  // authorizes per page with Confluence: no caller resolution, and no other credential.
  authenticateForge: authenticate<AppEnv>({ ...common, allow: ["fit"] }),
});

/**
 * The crons of wrangler-control.toml: every 5 minutes recovers stuck jobs, every minute is for
 * monitors. (Not exported: workerd refuses an entry module exporting anything but handlers and classes.)
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
    await recoverJobs(env, Math.max(Date.now(), controller.scheduledTime));
  },
};
