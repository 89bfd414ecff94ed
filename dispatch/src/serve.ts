/**
 * Where a site's bytes leave: a verified grant names (site, version); the version's user Worker is
 * `workerNameFor(site, version)` in the dispatch namespace — a pure function, no database read.
 * The user Worker sees a clean request: the site's canonical origin (never the `g-<grant>` host),
 * the path we checked, and only the headers static assets need (never the grant cookie).
 *
 * The site's bytes carry its tenant's CSP (tenant-csp.ts): the grant's tenant, verified with the grant.
 *
 * Every viewer pays this on every request, so the answer is rewritten in place: one copy of the
 * upstream headers (a fetched Response's are immutable), the edits headers.ts requires, and the body
 * handed on untouched — only an HTML document goes through the rewriter that injects the script, and
 * only the first time this isolate serves those bytes (inject.ts RewrittenHtmlCache).
 */

import { type GrantClaims, type SiteId, siteHostLabel, workerNameFor } from "@mini-sites/core";
import type { GatewayConfig } from "./config.ts";
import type { DispatchEnv } from "./env.ts";
import { errorResponse, SITE_NOT_FOUND, UPSTREAM_FAILED } from "./errors.ts";
import { forwardedRequestHeaders, secureUpstreamHeaders } from "./headers.ts";
import { injectBootstrapCached, REWRITTEN_HTML_MAX_PATH, RewrittenHtmlCache } from "./inject.ts";
import { tenantCspsFor } from "./tenant-csp.ts";

/** WfP: `get()` of a missing script does not throw; its `fetch()` rejects with this (DESIGN §8). */
const WORKER_NOT_FOUND = "Worker not found";

export async function serveSite(
  request: Request,
  url: URL,
  env: DispatchEnv,
  config: GatewayConfig,
  siteId: SiteId,
  claims: GrantClaims,
  now: number,
): Promise<Response> {
  const siteOrigin = `https://${siteHostLabel(siteId)}.${config.sitesDomain}`;
  // A string when this isolate knows the tenant's policy (a Map lookup); otherwise a KV read that
  // runs while the user Worker answers, and never rejects.
  const csp = tenantCspsFor(config, env.TENANT_CSP).cspFor(claims.tenantId, now);
  let upstream: Response;
  try {
    // URL and init rather than a Request: the Fetcher builds the one Request it sends.
    upstream = await env.DISPATCHER.get(workerNameFor(siteId, claims.version)).fetch(
      siteOrigin + url.pathname + url.search,
      { method: request.method, headers: forwardedRequestHeaders(request.headers), redirect: "manual" },
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return errorResponse(
      request,
      config,
      message.startsWith(WORKER_NOT_FOUND) ? SITE_NOT_FOUND : UPSTREAM_FAILED,
    );
  }

  // Status, status text and a mutable copy of the headers, in one step.
  const response = new Response(upstream.body, upstream);
  const headers = response.headers;
  secureUpstreamHeaders(headers, typeof csp === "string" ? csp : await csp);
  const location = headers.get("location");
  if (location !== null) {
    // Asset routing redirects (e.g. /about.html → /about) point at the canonical origin; keep the
    // viewer on the origin they came from (their cookie, or their g- host). Anything else is dropped.
    const target = URL.parse(location, siteOrigin + url.pathname);
    if (target !== null && target.origin === siteOrigin)
      headers.set("location", target.pathname + target.search);
    else headers.delete("location");
  }
  const contentType = headers.get("content-type");
  if (contentType === null && upstream.body !== null) headers.set("content-type", "application/octet-stream");

  const isHtmlDocument =
    request.method === "GET" &&
    upstream.status === 200 &&
    (contentType ?? "").toLowerCase().startsWith("text/html") &&
    upstream.body !== null;
  if (!isHtmlDocument) return response;

  headers.delete("content-length");
  const etag = headers.get("etag");
  if (etag !== null && !etag.startsWith("W/")) headers.set("etag", `W/${etag}`);
  // Same version, same path, same bytes (ETag), not encoded: the rewritten copy can be reused.
  const reusable =
    etag !== null &&
    (headers.get("content-encoding") ?? "identity") === "identity" &&
    url.pathname.length <= REWRITTEN_HTML_MAX_PATH;
  const key = reusable ? `${workerNameFor(siteId, claims.version)}\n${url.pathname}\n${etag}` : undefined;
  return injectBootstrapCached(response, config.bootstrapScript, rewrittenHtmlOf(config), key);
}

const rewrittenHtml = new WeakMap<GatewayConfig, RewrittenHtmlCache>();

/** This isolate's rewritten pages for this configuration (its bootstrap script is part of the bytes). */
function rewrittenHtmlOf(config: GatewayConfig): RewrittenHtmlCache {
  let cache = rewrittenHtml.get(config);
  if (cache === undefined) {
    cache = new RewrittenHtmlCache();
    rewrittenHtml.set(config, cache);
  }
  return cache;
}
