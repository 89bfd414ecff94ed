/**
 * The OpenAPI description of the routes the app mounts as plain Hono sub-apps — the publish
 * pipeline's (publish/routes.ts: it streams upload bodies to R2, which a zod validator would buffer)
 * and the Macro API (macro/routes.ts: Forge-only, with its own error codes). Their handlers validate
 * for themselves; these entries only document them, so `GET /v1/openapi.json` lists every route the
 * Worker answers. Keep them in step with the handlers' own path lists (top of each routes.ts).
 */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../app/context.ts";
import { AUTH_ERROR_CODES, type AuthErrorCode, authFailure } from "../auth/errors.ts";
import { MACRO_ERROR_CODES, type MacroErrorCode } from "../macro/routes.ts";
import { PUBLISH_ERRORS, type PublishErrorCode } from "../publish/errors.ts";
import {
  API_SECURITY,
  errorResponsesOf,
  JobParams,
  PublishQuery,
  RollbackBody,
  SiteParams,
  SiteUpdateBody,
} from "./schemas.ts";

const security = API_SECURITY;
const forgeSecurity: Record<string, string[]>[] = [{ forgeInvocationToken: [] }];

const AUTH_STATUS = Object.fromEntries(
  AUTH_ERROR_CODES.map((code) => [code, authFailure(code).status]),
) as Record<AuthErrorCode, number>;
/** 401 (and 403) from authentication, which every /v1 route can answer. */
const authErrors = errorResponsesOf(AUTH_STATUS, ["AUTH_MISSING", "AUTH_INVALID_TOKEN"]);
const publishErrors = (...codes: PublishErrorCode[]) => ({
  ...authErrors,
  ...errorResponsesOf(PUBLISH_ERRORS, ["INVALID_REQUEST", "NOT_FOUND", "UNAVAILABLE", ...codes]),
});
const macroErrors = (...codes: MacroErrorCode[]) => ({
  ...authErrors,
  ...errorResponsesOf(MACRO_ERROR_CODES, ["NO_ACCESS", "PERMISSION_CHECK_UNAVAILABLE", ...codes]),
});

const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });

const PublishSiteParams = z.object({
  site: z
    .string()
    .openapi({ param: { name: "site", in: "path" }, description: "A site id, or `new` for a new site" }),
});

const Accepted = z
  .object({
    jobId: z.string(),
    version: z.number().int(),
    siteId: z.string(),
    statusUrl: z.string(),
    replayed: z.boolean().optional(),
  })
  .openapi("PublishAccepted");

const Job = z
  .object({
    jobId: z.string(),
    siteId: z.string(),
    version: z.number().int(),
    kind: z.enum(["publish", "rollback", "reprovision"]),
    state: z.enum(["queued", "running", "succeeded", "failed"]),
    step: z.string().nullable(),
    progress: z.number(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
  })
  .openapi("Job");

const SiteEnabled = z.object({ id: z.string(), enabled: z.boolean() }).openapi("SiteEnabled");
const GrantUrl = z
  .object({ url: z.string(), version: z.number().int(), expiresAt: z.string() })
  .openapi("ViewUrl");

export const PUBLISH_ROUTE_DOCS = [
  createRoute({
    method: "post",
    path: "/v1/sites/{site}/versions",
    summary:
      "Publish a version: a zip, one HTML file or a folder (multipart), streamed; Idempotency-Key honoured",
    tags: ["publish"],
    security,
    request: {
      params: PublishSiteParams,
      query: PublishQuery,
      headers: z.object({ "idempotency-key": z.string().min(1).max(255).optional() }),
      body: {
        content: {
          "application/zip": { schema: z.string().openapi({ format: "binary" }) },
          "text/html": { schema: z.string() },
          "multipart/form-data": { schema: z.record(z.string(), z.unknown()) },
        },
        required: true,
      },
    },
    responses: {
      202: { description: "Staged; provisioning runs as a job", ...json(Accepted) },
      ...publishErrors(
        "BUNDLE_REJECTED",
        "BODY_TOO_LARGE",
        "UNSUPPORTED_MEDIA_TYPE",
        "RATE_LIMITED",
        "QUOTA_SITES",
        "NOT_CONFIGURED",
      ),
    },
  }),
  createRoute({
    method: "get",
    path: "/v1/jobs/{job}",
    summary: "A publish or rollback job's state",
    tags: ["publish"],
    security,
    request: { params: JobParams },
    responses: { 200: { description: "The job", ...json(Job) }, ...publishErrors() },
  }),
  createRoute({
    method: "post",
    path: "/v1/sites/{site}/rollback",
    summary: "Make an earlier version live again (instant if its Worker is kept, else re-provisioned)",
    tags: ["sites"],
    security,
    request: { params: SiteParams, body: { ...json(RollbackBody), required: true } },
    responses: {
      200: { description: "Flipped at once" },
      202: { description: "Re-provisioning job started", ...json(Accepted) },
      ...publishErrors("VERSION_NOT_SERVABLE", "RATE_LIMITED"),
    },
  }),
  ...(["disable", "enable"] as const).map((action) =>
    createRoute({
      method: "post",
      path: `/v1/sites/{site}/${action}`,
      summary:
        action === "disable"
          ? "Disable a site (admin kill switch: no new grants at once)"
          : "Enable a disabled site",
      tags: ["sites"],
      security,
      request: { params: SiteParams },
      responses: { 200: { description: "The site's state", ...json(SiteEnabled) }, ...publishErrors() },
    }),
  ),
  createRoute({
    method: "patch",
    path: "/v1/sites/{site}",
    summary: "Enable or disable a site (the same switch as /disable and /enable)",
    tags: ["sites"],
    security,
    request: { params: SiteParams, body: { ...json(SiteUpdateBody), required: true } },
    responses: { 200: { description: "The site's state", ...json(SiteEnabled) }, ...publishErrors() },
  }),
  createRoute({
    method: "delete",
    path: "/v1/sites/{site}",
    summary: "Delete a site: its rows at once, then its Workers and R2 objects",
    tags: ["sites"],
    security,
    request: { params: SiteParams },
    responses: { 200: { description: "Deleted" }, ...publishErrors() },
  }),
  createRoute({
    method: "post",
    path: "/v1/sites/{site}/view-url",
    summary: "A grant URL for the live version, for previews by token holders",
    tags: ["sites"],
    security,
    request: { params: SiteParams },
    responses: {
      200: { description: "The view URL", ...json(GrantUrl) },
      ...publishErrors("SITE_DISABLED", "NOT_LIVE", "NOT_CONFIGURED"),
    },
  }),
  createRoute({
    method: "get",
    path: "/v1/sites/{site}/versions/{n}/bundle",
    summary: "Download a version's bundle as a zip",
    tags: ["sites"],
    security,
    request: {
      params: SiteParams.extend({
        n: z.string().openapi({ param: { name: "n", in: "path" }, example: "1" }),
      }),
    },
    responses: {
      200: {
        description: "The zip",
        content: { "application/zip": { schema: z.string().openapi({ format: "binary" }) } },
      },
      ...publishErrors(),
    },
  }),
];

const TicketParams = z.object({
  ticket: z.string().openapi({ param: { name: "ticket", in: "path" } }),
});

export const MACRO_ROUTE_DOCS = [
  createRoute({
    method: "post",
    path: "/v1/macro/serve-url",
    summary: "Viewer: a grant URL for the site bound to the FIT's macro (NOT_PUBLISHED when unbound)",
    tags: ["macro"],
    security: forgeSecurity,
    request: {
      body: { ...json(z.object({ version: z.number().int().optional() })), required: false },
    },
    responses: {
      200: { description: "`{state: PUBLISHED, url, renewUrl, …}` or `{state: NOT_PUBLISHED}`" },
      ...macroErrors("SITE_DISABLED", "INVALID_CONTEXT", "NOT_CONFIGURED"),
    },
  }),
  createRoute({
    method: "get",
    path: "/v1/macro/state",
    summary: "Editor: the bound site, its live version and last job",
    tags: ["macro"],
    security: forgeSecurity,
    responses: { 200: { description: "The macro's state" }, ...macroErrors("INVALID_CONTEXT") },
  }),
  createRoute({
    method: "post",
    path: "/v1/macro/bind",
    summary: "Editor: bind the macro to a site (a site shown elsewhere is forked)",
    tags: ["macro"],
    security: forgeSecurity,
    request: { body: { ...json(z.object({ siteId: z.string() })), required: true } },
    responses: {
      200: { description: "Bound" },
      ...macroErrors("INVALID_REQUEST", "INVALID_CONTEXT", "NOT_FOUND"),
    },
  }),
  createRoute({
    method: "post",
    path: "/v1/macro/upload-ticket",
    summary: "Editor: a short-lived ticket for a chunked upload",
    tags: ["macro"],
    security: forgeSecurity,
    request: {
      body: {
        ...json(z.object({ size: z.number().int(), name: z.string().optional() })),
        required: true,
      },
    },
    responses: {
      200: { description: "The ticket and chunk layout" },
      ...macroErrors("INVALID_REQUEST", "INVALID_CONTEXT", "BUNDLE_TOO_LARGE", "NOT_CONFIGURED"),
    },
  }),
  createRoute({
    method: "put",
    path: "/v1/macro/uploads/{ticket}/chunks/{n}",
    summary: "Browser (requestRemote): one chunk of an editor upload",
    tags: ["macro"],
    security: forgeSecurity,
    request: {
      params: TicketParams.extend({ n: z.string().openapi({ param: { name: "n", in: "path" } }) }),
      body: {
        content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
        required: true,
      },
    },
    responses: {
      200: { description: "Stored" },
      ...macroErrors("INVALID_REQUEST", "NOT_FOUND", "UPLOAD_TICKET_EXPIRED"),
    },
  }),
  createRoute({
    method: "post",
    path: "/v1/macro/uploads/{ticket}/complete",
    summary: "Browser (requestRemote): assemble the upload and publish it through the publish pipeline",
    tags: ["macro"],
    security: forgeSecurity,
    request: { params: TicketParams },
    responses: {
      202: { description: "Publishing", ...json(Accepted.omit({ siteId: true })) },
      ...macroErrors("NOT_FOUND", "UPLOAD_INCOMPLETE", "BUNDLE_REJECTED", "UPLOAD_TICKET_EXPIRED"),
    },
  }),
];

export function registerMountedRouteDocs(app: OpenAPIHono<AppEnv>): void {
  for (const route of [...PUBLISH_ROUTE_DOCS, ...MACRO_ROUTE_DOCS]) app.openAPIRegistry.registerPath(route);
}
