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
 * only the first time this isolate serves those bytes; after that the user Worker is asked only to
 * confirm the page is unchanged (kept-pages.ts).
 */

import { type GrantClaims, onePer, type SiteId, siteHostLabel, workerNameFor } from "@mini-sites/core";
import type { GatewayConfig } from "./config.ts";
import type { DispatchEnv } from "./env.ts";
import { errorResponse, SITE_NOT_FOUND, UPSTREAM_FAILED } from "./errors.ts";
import { forwardedRequestHeaders, secureUpstreamHeaders } from "./headers.ts";
import {
  askToConfirm,
  KEPT_PAGE_BYTES,
  KeptPages,
  keptPageKey,
  servedKept,
  servedWithBootstrap,
} from "./kept-pages.ts";
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
  const workerName = workerNameFor(siteId, claims.version);
  // A string when this isolate knows the tenant's policy (a Map lookup); otherwise a KV read that
  // runs while the user Worker answers, and never rejects.
  const csp = tenantCspsFor(config, env.TENANT_CSP).cspFor(claims.tenantId, now);
  const pages = keptPagesOf(config);
  const pageKey = keptPageKey(request.method, workerName, url.pathname);
  const kept = pageKey === undefined ? undefined : pages.get(pageKey);
  const forwarded = forwardedRequestHeaders(request.headers);
  const confirming = kept !== undefined && askToConfirm(forwarded, kept);
  let upstream: Response;
  try {
    // URL and init rather than a Request: the Fetcher builds the one Request it sends.
    upstream = await env.DISPATCHER.get(workerName).fetch(siteOrigin + url.pathname + url.search, {
      method: request.method,
      headers: forwarded,
      redirect: "manual",
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return errorResponse(
      request,
      config,
      message.startsWith(WORKER_NOT_FOUND) ? SITE_NOT_FOUND : UPSTREAM_FAILED,
    );
  }
  const policy = typeof csp === "string" ? csp : await csp;
  // The user Worker confirmed the kept page (the viewer asked nothing conditional: this 304 is ours).
  if (confirming && upstream.status === 304) return servedKept(kept, policy);

  // Status, status text and a mutable copy of the headers, in one step.
  const response = new Response(upstream.body, upstream);
  const headers = response.headers;
  secureUpstreamHeaders(headers, policy);
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

  // A viewer is served HTML rewritten, so never the user Worker's strong validator or length for it:
  // on a 200, a HEAD or a 304 alike (a Range with If-Range on a strong ETag could splice the user
  // Worker's bytes into the rewritten copy). The user Worker still matches the weak form.
  const isHtml = (contentType ?? "").toLowerCase().startsWith("text/html");
  const etag = headers.get("etag");
  if (isHtml && etag !== null && !etag.startsWith("W/")) headers.set("etag", `W/${etag}`);
  const upstreamLength = Number(headers.get("content-length") ?? Number.NaN);
  if (isHtml && upstream.status === 200) headers.delete("content-length");

  const isHtmlDocument =
    isHtml && request.method === "GET" && upstream.status === 200 && upstream.body !== null;
  if (!isHtmlDocument) return response;
  // Not encoded (the kept bytes are the document itself), and not known to be too large to keep (then
  // it is rewritten as it streams, never read whole).
  const keepable =
    (headers.get("content-encoding") ?? "identity") === "identity" && !(upstreamLength > KEPT_PAGE_BYTES)
      ? pageKey
      : undefined;
  return servedWithBootstrap(response, config.bootstrapScript, pages, keepable, etag);
}

/** This isolate's kept pages for this configuration (its bootstrap script is part of the bytes). */
const keptPagesOf = onePer((_config: GatewayConfig) => new KeptPages());
