/**
 * `defineRoute` — createRoute with what the route policy (policy/table.ts) already says filled in, so
 * the OpenAPI document cannot drift from who may actually call a route: its `security` schemes, a
 * "Who may call this" line, and the refusals the policy itself can answer (401 for a bad credential,
 * 403 for a caller or scope it does not allow, 404 for an object not in the caller's tenant). A route
 * with no policy entry throws here, at build time.
 */

import { createRoute, type RouteConfig } from "@hono/zod-openapi";
import type { ApiErrorCode } from "../app/errors.ts";
import { ROUTE_POLICIES, type RoutePolicy } from "../policy/table.ts";
import { errorResponses } from "./schemas.ts";

const honoPath = (openapiPath: string) => openapiPath.replace(/\{([^}]+)\}/g, ":$1");

export function policyOf(method: string, openapiPath: string): RoutePolicy {
  const path = honoPath(openapiPath);
  const found = ROUTE_POLICIES.find((p) => p.method === method.toUpperCase() && p.path === path);
  if (found === undefined)
    throw new Error(`route ${method.toUpperCase()} ${path} has no policy (policy/table.ts)`);
  return found;
}

/** Plain words for the policy, shown in the API document. */
export function describePolicy(policy: RoutePolicy): string {
  const who: string[] = [];
  const { allow } = policy;
  if (allow.public) return "Public: no credential.";
  if (allow.apiToken !== undefined)
    who.push(
      allow.apiToken === "any"
        ? "an API token of the tenant (any scope)"
        : `an API token with ${(typeof allow.apiToken === "string" ? [allow.apiToken] : allow.apiToken).map((s) => `\`${s}\``).join(" or ")}`,
    );
  if (allow.forgeMacro === "read") who.push("the Forge macro, for a user who may view its page");
  if (allow.forgeMacro === "update") who.push("the Forge macro, for a user who may edit its page");
  if (allow.forgeMacro === "uploadTicket")
    who.push("the Forge macro, with an upload ticket issued to this user on this page");
  if (allow.forgeAdmin) who.push("the Forge admin page, for a Confluence administrator");
  if (allow.forgeStatus === "read") who.push("the Service status macro, for a user who may view its page");
  if (allow.forgeApp) who.push("a Forge function of the app (no user)");
  if (allow.sharedSecret) who.push("the deployment's CI secret");
  return `Who may call this: ${who.join("; ")}.`;
}

const SECURITY: Record<string, string> = {
  apiToken: "apiToken",
  forgeMacro: "forgeInvocationToken",
  forgeAdmin: "forgeInvocationToken",
  forgeStatus: "forgeInvocationToken",
  forgeApp: "forgeInvocationToken",
  sharedSecret: "sharedSecret",
};

export function defineRoute<R extends RouteConfig>(config: R, ...codes: ApiErrorCode[]): R {
  const policy = policyOf(config.method, config.path);
  const schemes = [
    ...new Set(
      Object.keys(policy.allow)
        .map((k) => SECURITY[k])
        .filter((s) => s !== undefined),
    ),
  ];
  const refusals: ApiErrorCode[] = [];
  if (!policy.allow.public) {
    refusals.push("AUTH_MISSING", "AUTH_INVALID_TOKEN", "PRINCIPAL_NOT_ALLOWED");
    if (policy.allow.apiToken !== undefined && policy.allow.apiToken !== "any")
      refusals.push("INSUFFICIENT_SCOPE");
    if (
      policy.allow.forgeMacro !== undefined ||
      policy.allow.forgeAdmin ||
      policy.allow.forgeStatus !== undefined
    )
      refusals.push("NO_ACCESS", "TENANT_PURGING", "PERMISSION_CHECK_UNAVAILABLE");
    if (policy.allow.forgeMacro !== undefined || policy.allow.forgeStatus !== undefined)
      refusals.push("INVALID_CONTEXT");
    if (policy.object !== "none" && policy.object !== "macro") refusals.push("NOT_FOUND");
    refusals.push("INTERNAL");
  }
  if (policy.body === "json" || policy.body === "fileList")
    refusals.push("INVALID_REQUEST", "BODY_TOO_LARGE");
  const description = [config.description, describePolicy(policy)].filter(Boolean).join("\n\n");
  return createRoute({
    ...config,
    description,
    ...(schemes.length === 0 ? {} : { security: schemes.map((s) => ({ [s as string]: [] })) }),
    responses: { ...errorResponses(...new Set([...refusals, ...codes])), ...config.responses },
  }) as R;
}
