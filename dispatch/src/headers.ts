/**
 * The headers every response carries, errors and redirects included (DESIGN §3 Serve), and the
 * clean-up of what a user Worker answers. A site's response can add nothing that outlives or
 * escapes its origin: no cookie (the only cookie on a site's origin is the gateway's grant), no CSP
 * of its own (ours replaces it: the deployment's, plus the site's tenant's allow-lists on the site's
 * own bytes), no shared caching (bytes are per-viewer, behind a grant).
 */

import { FALLBACK_CSP, type GatewayConfig } from "./config.ts";

export const ERROR_HEADER = "x-mini-sites-error";

/** The gateway's own answers (refusals, redirects, the renew page): the deployment's policy. */
export function setSecurityHeaders(headers: Headers, config: GatewayConfig | undefined): void {
  setHeadersWithCsp(headers, config?.csp ?? FALLBACK_CSP);
}

function setHeadersWithCsp(headers: Headers, csp: string): void {
  headers.set("Content-Security-Policy", csp);
  headers.set("X-Content-Type-Options", "nosniff");
  headers.set("Referrer-Policy", "no-referrer");
  headers.set("Cross-Origin-Resource-Policy", "same-origin");
  // https only from now on, for a year, on this host (each site's own origin): Atlassian's cloud app
  // security requirements ask for HSTS of at least a year. Browsers ignore it on plain http (RFC 6797
  // §8.1), so the local stack's http origins are unaffected. Not includeSubDomains: the gateway does
  // not own every name under SITES_DOMAIN's parent.
  headers.set("Strict-Transport-Security", HSTS);
}

export const HSTS = "max-age=31536000";

/** Headers of a user Worker's response that never reach the browser. */
const DROPPED_UPSTREAM_HEADERS = [
  "set-cookie",
  "set-cookie2",
  "content-security-policy",
  "content-security-policy-report-only",
  "clear-site-data",
  "access-control-allow-origin",
  "access-control-allow-credentials",
  "service-worker-allowed",
  "refresh",
  "link",
];

/**
 * Browsers keep a copy but must revalidate through the gateway (and so re-check the grant) before
 * using it; shared caches keep nothing.
 */
export const SITE_CACHE_CONTROL = "private, no-cache";

/**
 * Rewrites (a mutable copy of) a user Worker's response headers into what the browser may see; `csp`
 * is the site's tenant's policy (tenant-csp.ts), never anything the user Worker sent.
 */
export function secureUpstreamHeaders(headers: Headers, csp: string): void {
  // workerd's delete() of an absent header costs about four times has(), and most are absent.
  for (const name of DROPPED_UPSTREAM_HEADERS) if (headers.has(name)) headers.delete(name);
  headers.set("Cache-Control", SITE_CACHE_CONTROL);
  setHeadersWithCsp(headers, csp);
}

/** Request headers a user Worker (Workers Static Assets) needs; the grant cookie is never among them. */
const FORWARDED_REQUEST_HEADERS = [
  "accept",
  "accept-language",
  "range",
  "if-range",
  "if-none-match",
  "if-modified-since",
  "sec-fetch-dest",
  "sec-fetch-mode",
];

/** A plain record: the upstream Request builds its own Headers from it, so no second copy is made. */
export function forwardedRequestHeaders(incoming: Headers): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = incoming.get(name);
    if (value !== null) headers[name] = value;
  }
  return headers;
}
