/**
 * The dispatch Worker: the serve gateway and the only way to a site's bytes (DESIGN §3 Serve,
 * §6 invariants 1, 6, 7). A request enters here and is decided in this order:
 *
 *   1. host        s-<site> / g-<grant> / the gateway's own host / anything else → 404 (hosts.ts)
 *   2. identity    no deployment secret → every site request 401, fail closed (identity.ts)
 *   3. policy      GET/HEAD, no service workers, Fetch Metadata (policy.ts)
 *   4. path        decode-aware traversal refusal; `/__ms/` is the gateway's (paths.ts, gateway.ts)
 *   5. grant       cookie or host label → verifyGrant for this host's site (grants.ts)
 *   6. serve       DISPATCHER.get(workerNameFor(site, version)).fetch(clean request) (serve.ts), or
 *                  for `/__ms/status.json` the grant's tenant's monitor feed if the grant's version
 *                  opted in, else the same 404 as any other `/__ms/` path (site-feeds.ts)
 *
 * Every response, refusals and redirects included, carries the CSP and security headers
 * (headers.ts); a site's own bytes carry its tenant's CSP, the deployment's plus the tenant's
 * allow-lists from Workers KV, kept per isolate (tenant-csp.ts); refusals are typed (errors.ts).
 */

import { STATUS_FEED_PATH } from "@mini-sites/core";
import { readConfig } from "./config.ts";
import { grantCookieValues } from "./cookies.ts";
import type { DispatchEnv } from "./env.ts";
import {
  errorResponse,
  GRANT_MISSING,
  HOST_NOT_FOUND,
  INTERNAL_ERROR,
  NOT_FOUND,
  PATH_TRAVERSAL,
} from "./errors.ts";
import { handleGatewayPath } from "./gateway.ts";
import { checkCookieGrants, checkHostGrant } from "./grants.ts";
import { routeHost } from "./hosts.ts";
import { gatewayIdentity } from "./identity.ts";
import { isReservedPath, isSafeSitePath } from "./paths.ts";
import { requestPolicyError } from "./policy.ts";
import { serveSite } from "./serve.ts";
import { serveStatusFeed } from "./site-feeds.ts";
import { handleGatewayHost } from "./well-known.ts";

// A Worker module's named exports must be handlers (workerd refuses anything else), so only types
// and the default export leave this file.
export type { DispatchEnv } from "./env.ts";

async function handle(request: Request, env: DispatchEnv): Promise<Response> {
  const configState = readConfig(env);
  if (!configState.ok) {
    return errorResponse(request, undefined, {
      status: 503,
      code: "GATEWAY_MISCONFIGURED",
      message: `${configState.message} (variable ${configState.variable})`,
      details: { variables: [configState.variable] },
    });
  }
  const config = configState.config;
  const url = new URL(request.url);
  const host = routeHost(url, config);
  if (host.kind === "unknown") return errorResponse(request, config, HOST_NOT_FOUND);
  if (host.kind === "gateway") return handleGatewayHost(request, url, env, config);

  const identity = await gatewayIdentity(env);
  if (!identity.ready) {
    const { code, message, variables } = identity.state;
    return errorResponse(request, config, { status: 401, code, message, details: { variables } });
  }
  const policyError = requestPolicyError(request);
  if (policyError !== undefined) return errorResponse(request, config, policyError);
  if (!isSafeSitePath(url.pathname)) return errorResponse(request, config, PATH_TRAVERSAL);

  const now = Date.now();
  // The status feed is read like any of the site's bytes, behind the same grant check; the other
  // `/__ms/` endpoints act on a grant of their own.
  const isFeed = url.pathname === STATUS_FEED_PATH;
  if (host.kind === "grant-host") {
    // The fallback origin has no gateway endpoints: its grant is its host, nothing to enter or renew.
    // Its status feed works as on the site's origin, so a dashboard works in a browser without cookies.
    if (isReservedPath(url.pathname) && !isFeed) return errorResponse(request, config, NOT_FOUND);
    const checked = await checkHostGrant(identity.keyring, host.grant, now);
    if (!checked.ok) return errorResponse(request, config, checked.error);
    const { siteId } = checked.claims;
    if (isFeed) return serveStatusFeed(request, env, config, siteId, checked.claims, now);
    return serveSite(request, url, env, config, siteId, checked.claims, now);
  }

  const { siteId } = host;
  if (isReservedPath(url.pathname) && !isFeed) {
    return handleGatewayPath({ request, url, config, keyring: identity.keyring, siteId, now });
  }
  const cookies = grantCookieValues(request);
  if (cookies.length === 0) return errorResponse(request, config, GRANT_MISSING);
  const checked = await checkCookieGrants(identity.keyring, cookies, siteId, now);
  if (!checked.ok) return errorResponse(request, config, checked.error);
  if (isFeed) return serveStatusFeed(request, env, config, siteId, checked.claims, now);
  return serveSite(request, url, env, config, siteId, checked.claims, now);
}

export default {
  async fetch(request, env): Promise<Response> {
    try {
      return await handle(request, env);
    } catch {
      // Never a stack trace or a message that might quote a grant (DESIGN §6.10, §6.7).
      const configState = readConfig(env);
      return errorResponse(request, configState.ok ? configState.config : undefined, INTERNAL_ERROR);
    }
  },
} satisfies ExportedHandler<DispatchEnv>;
