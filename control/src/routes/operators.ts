/**
 * Deployment-wide operator routes, for the CI secret only (policy/table.ts), showing no tenant's data:
 *
 *   GET  /v1/admin/denials     the counted unauthenticated denials (policy/denials.ts) of the last hours,
 *                              so an operator sees a flood without it ever touching an audit chain
 *   POST /v1/admin/reconcile   one reconcile pass now (lifecycle/reconcile.ts), as the cron runs it
 *   GET  /v1/admin/diagnostics what `mini-sites doctor` cannot see from outside: whether the Workers
 *                              for Platforms namespace answers this Worker's token, and D1
 */

import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../app/context.ts";
import { ApiError } from "../app/errors.ts";
import { reconcilePass } from "../lifecycle/reconcile.ts";
import { flushDenialCounts } from "../policy/authorize.ts";
import { recentDenials } from "../policy/denials.ts";
import { hostingFor, type PublishDeps } from "../publish/services.ts";
import { defineRoute } from "./define.ts";

const DenialsQuery = z.object({
  hours: z.coerce
    .number()
    .int()
    .min(1)
    .max(168)
    .default(24)
    .openapi({ param: { name: "hours", in: "query" } }),
});

const denialsRoute = defineRoute(
  {
    method: "get",
    path: "/v1/admin/denials",
    summary: "Counted denials of requests without a valid credential, per minute, code and method",
    tags: ["operators"],
    request: { query: DenialsQuery },
    responses: {
      200: {
        description: "Counts, newest window first",
        content: {
          "application/json": {
            schema: z
              .object({
                windows: z.array(
                  z.object({
                    windowStart: z.string(),
                    code: z.string(),
                    method: z.string(),
                    count: z.number().int(),
                  }),
                ),
              })
              .openapi("DenialCounts"),
          },
        },
      },
    },
  },
  "INVALID_REQUEST",
);

const ReconcileQuery = z.object({
  fromStart: z
    .enum(["true", "false"])
    .default("false")
    .openapi({ param: { name: "fromStart", in: "query" }, description: "Start at the first tenant" }),
});

const reconcileRoute = defineRoute(
  {
    method: "post",
    path: "/v1/admin/reconcile",
    summary: "Run one reconcile pass now: re-provision missing live Workers, delete orphans seen twice",
    tags: ["operators"],
    request: { query: ReconcileQuery },
    responses: {
      200: {
        description: "What the pass found and did",
        content: {
          "application/json": {
            schema: z
              .object({
                tenantsChecked: z.number().int(),
                reprovisioned: z.array(z.string()),
                orphansSeen: z.array(z.string()),
                deleted: z.array(z.string()),
                skipped: z.array(z.object({ tenant: z.string(), code: z.string() })),
                deferred: z.number().int(),
                nextAfter: z.string(),
              })
              .openapi("ReconcileReport"),
          },
        },
      },
    },
  },
  "NOT_CONFIGURED",
);

/** A tag no Worker carries: listing it costs one API call and proves the namespace and the token. */
const PROBE_TAG = "doctor-probe";

const Check = z.object({ ok: z.boolean(), code: z.string().optional(), message: z.string().optional() });

const diagnosticsRoute = defineRoute({
  method: "get",
  path: "/v1/admin/diagnostics",
  summary: "Whether the Workers for Platforms namespace and D1 answer this Worker (for `mini-sites doctor`)",
  tags: ["operators"],
  responses: {
    200: {
      description: "One verdict per dependency; a failing one says why, never a secret",
      content: {
        "application/json": {
          schema: z.object({ namespace: Check, database: Check }).openapi("Diagnostics"),
        },
      },
    },
  },
});

interface Verdict {
  readonly ok: boolean;
  readonly code?: string;
  readonly message?: string;
}

const NAMESPACE_CHECK_TTL_MS = 60_000;
const namespaceChecks = new WeakMap<object, { at: number; verdict: Promise<Verdict> }>();

async function checkNamespace(env: AppEnv["Bindings"], deps: PublishDeps): Promise<Verdict> {
  try {
    const listed = await hostingFor(env, deps).listByTag(PROBE_TAG);
    return listed.ok ? { ok: true } : { ok: false, code: listed.error.code, message: listed.error.message };
  } catch (error) {
    return error instanceof ApiError
      ? { ok: false, code: error.code, message: error.message }
      : { ok: false, code: "INTERNAL", message: "The namespace check failed." };
  }
}

export function registerOperatorRoutes(app: OpenAPIHono<AppEnv>, deps: PublishDeps = {}): void {
  app.openapi(diagnosticsRoute, async (c) => {
    // One Cloudflare API call per env and minute at most, however often this is asked: the call
    // spends the account-wide budget every publish needs (hosting/budget.ts).
    const now = (deps.now ?? Date.now)();
    let cached = namespaceChecks.get(c.env);
    if (cached === undefined || now - cached.at > NAMESPACE_CHECK_TTL_MS) {
      cached = { at: now, verdict: checkNamespace(c.env, deps) };
      namespaceChecks.set(c.env, cached);
    }
    const namespace = await cached.verdict;
    const database = await c.env.DB.prepare("SELECT 1 AS one")
      .first()
      .then(
        () => ({ ok: true }),
        () => ({ ok: false, code: "UNAVAILABLE", message: "D1 did not answer." }),
      );
    return c.json({ namespace, database }, 200);
  });

  app.openapi(reconcileRoute, async (c) => {
    const report = await reconcilePass(c.env, deps, (deps.now ?? Date.now)(), {
      fromStart: c.req.valid("query").fromStart === "true",
    });
    return c.json(
      {
        ...report,
        reprovisioned: [...report.reprovisioned],
        orphansSeen: [...report.orphansSeen],
        deleted: [...report.deleted],
        skipped: [...report.skipped],
      },
      200,
    );
  });

  app.openapi(denialsRoute, async (c) => {
    const since = Date.now() - c.req.valid("query").hours * 3_600_000;
    await flushDenialCounts(c.env.DB);
    const windows = await recentDenials(c.env.DB, since);
    return c.json(
      { windows: windows.map((w) => ({ ...w, windowStart: new Date(w.windowStart).toISOString() })) },
      200,
    );
  });
}
