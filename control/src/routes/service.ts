/**
 * Unauthenticated service endpoints: `/.well-known/mini-sites` (identity fingerprints and non-secret
 * config for `mini-sites doctor`, DESIGN §4) and `/healthz`. Neither shows a secret or any tenant's data;
 * the report answers even when a secret is missing, because saying which one is its job.
 */

import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../app/context.ts";
import { FORGE_PRODUCTION_JWKS_URL } from "../auth/constants.ts";
import { CONTROL_SECRETS } from "../env.ts";
import { controlIdentityReport, controlKeys } from "../identity.ts";
import { defineRoute } from "./define.ts";

export const WELL_KNOWN_PATH = "/.well-known/mini-sites";
export const HEALTH_PATH = "/healthz";

const WellKnown = z
  .object({
    worker: z.literal("control"),
    identity: z.record(z.string(), z.unknown()),
    config: z.object({
      sitesDomain: z.string().nullable(),
      dispatchBaseUrl: z.string().nullable(),
      wfpNamespace: z.string().nullable(),
      allowedForgeAppIds: z.array(z.string()),
      forgeJwksUrl: z.string().openapi({ description: "Where FITs' signing keys are fetched" }),
    }),
    secrets: z
      .record(z.string(), z.boolean())
      .openapi({ description: "Whether each secret is set; never its value" }),
  })
  .openapi("WellKnown");

const Health = z
  .object({ ok: z.boolean(), checks: z.object({ identity: z.boolean(), database: z.boolean() }) })
  .openapi("Health");

const wellKnownRoute = defineRoute({
  method: "get",
  path: WELL_KNOWN_PATH,
  summary: "Identity fingerprints and non-secret configuration, for `mini-sites doctor`",
  tags: ["service"],
  responses: { 200: { description: "The report", content: { "application/json": { schema: WellKnown } } } },
});

const healthRoute = defineRoute({
  method: "get",
  path: HEALTH_PATH,
  summary: "Liveness: the identity is configured and D1 answers",
  tags: ["service"],
  responses: {
    200: { description: "Healthy", content: { "application/json": { schema: Health } } },
    503: { description: "Not healthy", content: { "application/json": { schema: Health } } },
  },
});

const text = (value: unknown): string | null =>
  typeof value === "string" && value.trim() !== "" ? value : null;

export function registerServiceRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(wellKnownRoute, async (c) => {
    const env = c.env;
    const secrets: Record<string, boolean> = {};
    for (const name of CONTROL_SECRETS) secrets[name] = text(env[name]) !== null;
    const identity = (await controlIdentityReport(env)) as unknown as Record<string, unknown>;
    return c.json(
      {
        worker: "control" as const,
        identity,
        config: {
          sitesDomain: text(env.SITES_DOMAIN),
          dispatchBaseUrl: text(env.DISPATCH_BASE_URL),
          wfpNamespace: text(env.WFP_NAMESPACE),
          allowedForgeAppIds: (text(env.ALLOWED_FORGE_APP_IDS) ?? "")
            .split(",")
            .map((id) => id.trim())
            .filter((id) => id !== ""),
          forgeJwksUrl: text(env.FORGE_JWKS_URL) ?? FORGE_PRODUCTION_JWKS_URL,
        },
        secrets,
      },
      200,
    );
  });

  app.openapi(healthRoute, async (c) => {
    const identity = (await controlKeys(c.env)).ready;
    let database = false;
    try {
      database = (await c.env.DB.prepare("SELECT 1 AS ok").first<{ ok: number }>())?.ok === 1;
    } catch {
      database = false;
    }
    const ok = identity && database;
    return c.json({ ok, checks: { identity, database } }, ok ? 200 : 503);
  });
}
