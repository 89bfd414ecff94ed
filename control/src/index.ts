/**
 * The control Worker (DESIGN §2): where every control-plane request enters. HTTP goes through the
 * Hono app (app/app.ts); cron triggers will run reconcile and monitors; the ProvisionVersion
 * Workflow runs provisioning.
 */

import { createApp } from "./app/app.ts";
import { resolveCaller } from "./app/caller.ts";
import { AuditLog } from "./audit/index.ts";
import { authenticate } from "./auth/index.ts";
import { D1ApiTokenStore } from "./db/api-tokens.ts";
import type { ControlEnv } from "./env.ts";
import { controlKeys } from "./identity.ts";

export { ProvisionVersion } from "./workflows/provision-version.ts";

const app = createApp({
  authenticate: authenticate({
    allow: ["fit", "apiToken", "sharedSecret"],
    apiTokens: (c) => new D1ApiTokenStore(c.env.DB),
    onAuthenticated: resolveCaller,
    // DESIGN §6.8: every denied request is appended to the audit chain (code and method only: never
    // the credential). A failing audit write never turns a 401 into something else.
    onDenied: async (c, attempt) => {
      const keys = await controlKeys(c.env);
      if (!keys.ready) return;
      await new AuditLog(c.env.DB, keys.audit).append({
        tenantId: null,
        actor: "anonymous",
        action: "request.denied",
        target: `${c.req.method} ${new URL(c.req.url).pathname}`.slice(0, 200),
        detail: { code: attempt.failure.code, method: attempt.method ?? "none" },
      });
    },
  }),
});

interface ScheduledController {
  readonly cron: string;
  readonly scheduledTime: number;
}

export default {
  fetch: (request: Request, env: ControlEnv, ctx: unknown) =>
    app.fetch(request, env, ctx as Parameters<typeof app.fetch>[2]),
  async scheduled(_controller: ScheduledController, _env: ControlEnv): Promise<void> {
    // Reconcile (every 5 min) and monitor checks (every minute) land with the publish pipeline.
  },
};
