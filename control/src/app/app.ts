/**
 * The control Worker's HTTP surface, assembled in one place: where a request enters (this file),
 * what every request passes (request id, security headers, body caps, authentication on /v1), the
 * routes, and the typed error handlers.
 */

import { OpenAPIHono } from "@hono/zod-openapi";
import { hexEncode } from "@mini-sites/core";
import type { ZodError } from "zod";
import { registerPlannedRoutes } from "../routes/planned.ts";
import { registerServiceRoutes } from "../routes/service.ts";
import { registerSiteRoutes } from "../routes/sites.ts";
import { limitBodies } from "./body-limit.ts";
import { type AppEnv, type Authenticate, authenticateNobody } from "./context.ts";
import { ApiError, type ApiIssue, handleError, handleNotFound } from "./errors.ts";

export const OPENAPI_PATH = "/v1/openapi.json";
export const API_VERSION = "0.1.0";

export interface AppOptions {
  /** The authentication middleware (control/src/auth/); default: nobody is authenticated. */
  readonly authenticate?: Authenticate;
}

/** A zod failure as the caller's field paths: `query.limit: Too big…`. */
export function zodIssues(target: string, error: ZodError): ApiIssue[] {
  return error.issues.map((issue) => ({
    path: [target, ...issue.path.map(String)].join("."),
    message: issue.message,
  }));
}

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
  app.use("/v1/*", async (c, next) => {
    // The API description is public: it documents, it does not reveal anyone's data.
    if (c.req.path === OPENAPI_PATH) return next();
    return authenticate(c, next);
  });

  registerServiceRoutes(app);
  registerSiteRoutes(app);
  registerPlannedRoutes(app);

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
