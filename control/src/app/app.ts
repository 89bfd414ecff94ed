/**
 * The control Worker's HTTP surface, assembled in one place. Every request passes, in order:
 *
 *   1. request id and security headers on the answer
 *   2. the route's entry in the policy table, or 404/405 (policy/match.ts, policy/table.ts)
 *   3. the body cap that entry names, enforced while the body streams (body-limit.ts)
 *   4. authentication and authorization per that entry — caller kind, scope, tenant, Confluence
 *      check, object lookup in the tenant (policy/authorize.ts)
 *   5. the handler, which reads `access` (context.ts) and never decides who may do what
 *
 * Routes live in control/src/routes/ (one file per resource or macro role). `createApp` refuses to
 * build an app in which a route has no policy or a policy has no route, so a new route cannot ship
 * without stating who may call it.
 */

import { OpenAPIHono } from "@hono/zod-openapi";
import { hexEncode } from "@mini-sites/core";
import type { MacroPublisher } from "../macro/publisher.ts";
import { authorize, matchRoute, type PolicyDeps } from "../policy/authorize.ts";
import { checkPolicyTable, ROUTE_POLICIES, type RoutePolicy } from "../policy/table.ts";
import { createPipelinePublisher } from "../publish/pipeline.ts";
import type { PublishDeps } from "../publish/services.ts";
import { registerAuditRoutes } from "../routes/audit.ts";
import { registerFindingRoutes } from "../routes/findings.ts";
import { registerLifecycleRoutes } from "../routes/lifecycle.ts";
import { registerMacroBindingRoutes } from "../routes/macro-binding.ts";
import { registerMacroUploadRoutes } from "../routes/macro-uploads.ts";
import { registerMacroViewerRoutes } from "../routes/macro-viewer.ts";
import { registerMonitorRoutes } from "../routes/monitors.ts";
import { registerOperatorRoutes } from "../routes/operators.ts";
import { registerPublishRoutes } from "../routes/publish.ts";
import { registerServiceRoutes } from "../routes/service.ts";
import { registerSiteRoutes } from "../routes/sites.ts";
import { registerTenantRoutes } from "../routes/tenant.ts";
import { registerTenantKeyRoutes } from "../routes/tenant-keys.ts";
import { registerTokenRoutes } from "../routes/tokens.ts";
import { registerWhoAmIRoutes } from "../routes/whoami.ts";
import { limitBodies } from "./body-limit.ts";
import type { AppEnv } from "./context.ts";
import { handleError, handleNotFound, invalidRequest } from "./errors.ts";

export const OPENAPI_PATH = "/v1/openapi.json";
export const API_VERSION = "0.2.0";

export interface AppOptions {
  /** Authorization's dependencies (Confluence client, clock, FIT verifier); production uses the defaults. */
  readonly policy?: PolicyDeps;
  /** The publish pipeline's dependencies (hosting provider, clock); production uses the defaults. */
  readonly publish?: PublishDeps;
  /** How editor uploads and forks are published; defaults to the publish pipeline (tests observe it). */
  readonly publisher?: MacroPublisher;
}

/** Every handler route of `app`, as `METHOD /path` in Hono's spelling (middleware excluded). */
export function handlerRoutes(app: OpenAPIHono<AppEnv>): string[] {
  return [
    ...new Set(
      app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method.toUpperCase()} ${r.path}`),
    ),
  ];
}

/** Throws unless the app's routes and the policy table name exactly the same routes. */
export function checkRoutesHavePolicies(app: OpenAPIHono<AppEnv>, table: readonly RoutePolicy[]): void {
  const routes = new Set(handlerRoutes(app));
  const policies = new Set(table.map((p) => `${p.method} ${p.path}`));
  const unpoliced = [...routes].filter((r) => !policies.has(r));
  const unrouted = [...policies].filter((p) => !routes.has(p));
  if (unpoliced.length > 0)
    throw new Error(`routes without a policy (policy/table.ts): ${unpoliced.join(", ")}`);
  if (unrouted.length > 0) throw new Error(`policies without a route: ${unrouted.join(", ")}`);
}

export function createApp(options: AppOptions = {}): OpenAPIHono<AppEnv> {
  checkPolicyTable(ROUTE_POLICIES);
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw invalidRequest(result.target, result.error);
    },
  });

  app.use("*", async (c, next) => {
    c.set("requestId", hexEncode(crypto.getRandomValues(new Uint8Array(8))));
    c.set("route", undefined);
    c.set("access", undefined);
    await next();
    // JSON only, never sniffed, never cached by a shared cache, never framed.
    c.res.headers.set("X-Content-Type-Options", "nosniff");
    if (!c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
    c.res.headers.set("X-Frame-Options", "DENY");
    c.res.headers.set("Referrer-Policy", "no-referrer");
    // A year of https only for this host (Atlassian's security requirements); ignored on plain http.
    c.res.headers.set("Strict-Transport-Security", "max-age=31536000");
  });
  app.use("*", matchRoute(ROUTE_POLICIES));
  app.use("*", limitBodies());
  app.use("*", authorize(options.policy));

  const publish = options.publish ?? {};
  const now = publish.now ?? options.policy?.now ?? Date.now;
  const publisher = options.publisher ?? createPipelinePublisher(publish);
  registerServiceRoutes(app);
  registerWhoAmIRoutes(app);
  registerSiteRoutes(app, publish);
  registerPublishRoutes(app, publish);
  registerTokenRoutes(app);
  registerAuditRoutes(app);
  registerTenantRoutes(app, now);
  registerFindingRoutes(app, now);
  registerMonitorRoutes(app, now);
  registerTenantKeyRoutes(app, now);
  registerMacroViewerRoutes(app, now);
  registerMacroBindingRoutes(app, { publisher, publish, now });
  registerMacroUploadRoutes(app, { publisher, now });
  registerLifecycleRoutes(app, now);
  registerOperatorRoutes(app, publish);

  app.openAPIRegistry.registerComponent("securitySchemes", "apiToken", {
    type: "http",
    scheme: "bearer",
    description: "An API token (`ms_…`) for the CLI, MCP or CI; scoped to one tenant.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "forgeInvocationToken", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A Forge Invocation Token (RS256), sent by Forge Remote.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "sharedSecret", {
    type: "apiKey",
    in: "header",
    name: "x-mini-sites-secret",
    description: "CONTROL_SHARED_SECRET, for CI and operators only; it reaches no tenant's data.",
  });
  app.doc31(OPENAPI_PATH, {
    openapi: "3.1.0",
    info: {
      title: "Mini-Sites control API",
      version: API_VERSION,
      description:
        'Errors are always `{"error":{"code","message"}}` with a stable code. A site of another tenant answers 404. ' +
        "Each operation says who may call it; anything else is refused (401 without a valid credential, 403 otherwise).",
    },
  });

  app.onError(handleError);
  app.notFound(handleNotFound);
  checkRoutesHavePolicies(app, ROUTE_POLICIES);
  return app;
}
