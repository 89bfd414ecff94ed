/**
 * The gateway's own host (DISPATCH_BASE_URL): identity fingerprints for `mini-sites doctor` and a
 * health check — nothing of any site. The report answers even when the secret is missing, because
 * saying which secret is missing where is its whole job (DESIGN §4); it never contains a secret.
 */

import type { GatewayConfig } from "./config.ts";
import type { DispatchEnv } from "./env.ts";
import { errorResponse, METHOD_NOT_ALLOWED, NOT_FOUND } from "./errors.ts";
import { setSecurityHeaders } from "./headers.ts";
import { gatewayIdentity, gatewayIdentityReport } from "./identity.ts";

export const WELL_KNOWN_PATH = "/.well-known/mini-sites";
export const HEALTH_PATH = "/healthz";

/** The gateway's own host: identity fingerprints for `doctor`, and health. Nothing of any site. */
export async function handleGatewayHost(
  request: Request,
  url: URL,
  env: DispatchEnv,
  config: GatewayConfig,
): Promise<Response> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return errorResponse(request, config, METHOD_NOT_ALLOWED);
  }
  let status = 200;
  let body: unknown;
  if (url.pathname === WELL_KNOWN_PATH) {
    body = {
      worker: "dispatch",
      identity: await gatewayIdentityReport(env),
      config: {
        sitesDomain: config.sitesDomain,
        embedAncestors: config.embedAncestors,
        // Unbound, every site gets the fail-safe CSP and tenants' allow-lists are ignored.
        tenantCsp: env.TENANT_CSP === undefined ? "missing" : "bound",
        // Unbound, no site can read its tenant's monitor feed (`/__ms/status.json` is a 404).
        siteFeeds: env.SITE_FEEDS === undefined ? "missing" : "bound",
      },
    };
  } else if (url.pathname === HEALTH_PATH) {
    const identity = await gatewayIdentity(env);
    status = identity.ready ? 200 : 503;
    body = identity.ready ? { ok: true } : { ok: false, code: identity.state.code };
  } else {
    return errorResponse(request, config, NOT_FOUND);
  }
  const headers = new Headers({
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "no-store",
  });
  setSecurityHeaders(headers, config);
  return new Response(request.method === "HEAD" ? null : JSON.stringify(body), { status, headers });
}
