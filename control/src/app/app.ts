/**
 * The control Worker's HTTP surface, assembled in one place: where a request enters (this file),
 * what every request passes (request id, security headers, body caps, authentication on /v1), the
 * routes, and the typed error handlers.
 *
 *   /.well-known/mini-sites, /healthz   routes/service.ts     public
 *   /v1/openapi.json                    this file             public
 *   /v1/sites… (read)                   routes/sites.ts       API token | FIT | shared secret
 *   /v1/sites… (write), /v1/jobs/…      publish/routes.ts     API token | FIT | shared secret
 *   /v1/macro/…                         macro/routes.ts       FIT only (Forge Remote)
 *
 * Every credential is verified exactly once, here, before any route runs: `authenticate` for /v1 and
 * `authenticateForge` (FIT only) for /v1/macro, so an API token or the CI secret never reaches a
 * macro route; the macro sub-app itself only re-checks that the principal is a Forge one.
 */

import { OpenAPIHono } from "@hono/zod-openapi";
import { hexEncode } from "@mini-sites/core";
import type { MiddlewareHandler } from "hono";
import { authErrorBody, authFailure } from "../auth/errors.ts";
import type { Principal } from "../auth/middleware.ts";
import { createMacroRoutes, type MacroDeps } from "../macro/routes.ts";
import { createPipelinePublisher } from "../publish/pipeline.ts";
import { createPublishRoutes } from "../publish/routes.ts";
import { audit, type PublishDeps } from "../publish/services.ts";
import { registerMountedRouteDocs } from "../routes/mounted.ts";
import { registerServiceRoutes } from "../routes/service.ts";
import { registerSiteRoutes } from "../routes/sites.ts";
import { tokenRoutes } from "../routes/tokens.ts";
import { limitBodies } from "./body-limit.ts";
import { type AppEnv, type Authenticate, authenticateNobody } from "./context.ts";
import { ApiError, handleError, handleNotFound, zodIssues } from "./errors.ts";

export const OPENAPI_PATH = "/v1/openapi.json";
export const MACRO_PREFIX = "/v1/macro";
export const API_VERSION = "0.1.0";

export interface AppOptions {
  /** The authentication middleware for /v1 (control/src/auth/); default: nobody is authenticated. */
  readonly authenticate?: Authenticate;
  /** The authentication middleware for /v1/macro: must accept FITs only. Default: nobody. */
  readonly authenticateForge?: Authenticate;
  /** The publish pipeline's dependencies (hosting provider, clock); production uses the defaults. */
  readonly publish?: PublishDeps;
  /** Overrides for the Macro API (tests); its publisher defaults to the publish pipeline. */
  readonly macro?: Pick<MacroDeps, "permissions" | "publisher" | "audit" | "now">;
}

/**
 * The macro sub-app's own authentication slot: the FIT was verified by `authenticateForge` already, so
 * this verifies nothing again — it only refuses anything that is not a Forge principal, whatever the
 * app in front of it was wired with.
 */
const forgeOnly: MiddlewareHandler = async (c, next) => {
  const principal = c.get("principal" as never) as Principal | undefined;
  if (principal !== undefined && principal.kind !== "forge") {
    const failure = authFailure("AUTH_METHOD_NOT_ACCEPTED");
    return c.json(authErrorBody(failure), failure.status);
  }
  await next();
};

export function createApp(options: AppOptions = {}): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const issues = zodIssues(result.target, result.error);
        const first = issues[0];
        throw new ApiError(
          "INVALID_REQUEST",
          first === undefined ? "The request is not valid." : `${first.path}: ${first.message}`,
          issues,
        );
      }
    },
  });

  app.use("*", async (c, next) => {
    c.set("requestId", hexEncode(crypto.getRandomValues(new Uint8Array(8))));
    c.set("principal", undefined);
    c.set("caller", undefined);
    await next();
    // JSON only, never sniffed, never cached by a shared cache, never framed.
    c.res.headers.set("X-Content-Type-Options", "nosniff");
    if (!c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
    c.res.headers.set("X-Frame-Options", "DENY");
    c.res.headers.set("Referrer-Policy", "no-referrer");
  });
  app.use("*", limitBodies());
  const authenticate = options.authenticate ?? authenticateNobody;
  const authenticateForge = options.authenticateForge ?? authenticateNobody;
  app.use("/v1/*", async (c, next) => {
    // The API description is public: it documents, it does not reveal anyone's data.
    if (c.req.path === OPENAPI_PATH) return next();
    // Hono routes case-sensitively on the raw path, so this prefix is exactly what reaches the macro.
    if (c.req.path.startsWith(`${MACRO_PREFIX}/`)) return authenticateForge(c, next);
    return authenticate(c, next);
  });

  registerServiceRoutes(app);
  registerSiteRoutes(app);
  registerMountedRouteDocs(app);
  app.route(
    MACRO_PREFIX,
    createMacroRoutes({
      publisher: createPipelinePublisher(options.publish),
      audit,
      ...options.macro,
      authenticate: forgeOnly,
    }) as never,
  );
  app.route("/v1", createPublishRoutes(options.publish));
  app.route("/v1", tokenRoutes);

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
    description: "CONTROL_SHARED_SECRET, for CI and smoke tests only.",
  });
  app.doc31(OPENAPI_PATH, {
    openapi: "3.1.0",
    info: {
      title: "Mini-Sites control API",
      version: API_VERSION,
      description:
        'Errors are always `{"error":{"code","message"}}` with a stable code. A site of another tenant answers 404.',
    },
  });

  app.onError(handleError);
  app.notFound(handleNotFound);
  return app;
}
