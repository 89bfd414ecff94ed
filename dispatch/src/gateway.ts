/**
 * The gateway's own endpoints on a site's origin (`/__ms/…`, reserved: a bundle may not contain it).
 *
 *   /__ms/enter/<grant>[?to=/path]  verify, set the grant cookie, 303 → /__ms/check
 *   /__ms/check?g=<grant>&to=/path  cookie came back → 303 to the entry page;
 *                                    cookie refused (e.g. some Safari versions) → 303 to the
 *                                    grant-in-hostname origin g-<grant>.<SITES_DOMAIN>/path
 *   /__ms/renew/<grant>             replace the cookie, only for the same site AND version
 *   /__ms/status.json               not here: read behind the site grant check like any of its bytes
 *                                    (index.ts, site-feeds.ts)
 *
 * Renewal keeps the version so a running app never has its hashed chunks swapped underneath it; a
 * new version appears on the next page load (a new enter). Check and renew trust no query value:
 * every grant they act on is verified for the host's site, and `to` is a root-relative path.
 */

import type { GrantClaims, Keyring, SiteId } from "@mini-sites/core";
import { GRANT_HOST_PREFIX } from "@mini-sites/core";
import type { GatewayConfig } from "./config.ts";
import { grantCookie, grantCookieValues } from "./cookies.ts";
import { errorResponse, GRANT_MISSING, isNavigation, NOT_FOUND } from "./errors.ts";
import { checkCookieGrants, checkGrant } from "./grants.ts";
import { setSecurityHeaders } from "./headers.ts";
import { siblingOrigin } from "./hosts.ts";
import { safeEntryPath } from "./paths.ts";

export const ENTER_PREFIX = "/__ms/enter/";
export const CHECK_PATH = "/__ms/check";
export const RENEW_PREFIX = "/__ms/renew/";
export const MESSAGE_RENEWED = "mini-sites:renewed";

export interface SiteContext {
  readonly request: Request;
  readonly url: URL;
  readonly config: GatewayConfig;
  readonly keyring: Keyring;
  readonly siteId: SiteId;
  readonly now: number;
}

function noStore(config: GatewayConfig, init: Record<string, string>): Headers {
  const headers = new Headers(init);
  headers.set("Cache-Control", "no-store");
  setSecurityHeaders(headers, config);
  return headers;
}

function seeOther(config: GatewayConfig, location: string, cookie?: string): Response {
  const headers = noStore(config, { Location: location });
  if (cookie !== undefined) headers.set("Set-Cookie", cookie);
  return new Response(null, { status: 303, headers });
}

function cookieFor(claims: GrantClaims, grant: string, now: number): string {
  return grantCookie(grant, claims.expiresAt - Math.floor(now / 1000));
}

/** Routes `/__ms/…` on a site's origin; anything not ours is a 404, never forwarded to the site. */
export async function handleGatewayPath(ctx: SiteContext): Promise<Response> {
  const path = ctx.url.pathname;
  if (path.startsWith(ENTER_PREFIX)) return enter(ctx, path.slice(ENTER_PREFIX.length));
  if (path === CHECK_PATH) return check(ctx);
  if (path.startsWith(RENEW_PREFIX)) return renew(ctx, path.slice(RENEW_PREFIX.length));
  return errorResponse(ctx.request, ctx.config, NOT_FOUND);
}

async function enter(ctx: SiteContext, grant: string): Promise<Response> {
  const checked = await checkGrant(ctx.keyring, grant, ctx.siteId, ctx.now);
  if (!checked.ok) return errorResponse(ctx.request, ctx.config, checked.error);
  const query = new URLSearchParams({ g: grant, to: safeEntryPath(ctx.url.searchParams.get("to")) });
  return seeOther(ctx.config, `${CHECK_PATH}?${query}`, cookieFor(checked.claims, grant, ctx.now));
}

async function check(ctx: SiteContext): Promise<Response> {
  const grant = ctx.url.searchParams.get("g");
  if (grant === null) return errorResponse(ctx.request, ctx.config, GRANT_MISSING);
  const checked = await checkGrant(ctx.keyring, grant, ctx.siteId, ctx.now);
  if (!checked.ok) return errorResponse(ctx.request, ctx.config, checked.error);
  const to = safeEntryPath(ctx.url.searchParams.get("to"));
  if (grantCookieValues(ctx.request).includes(grant)) return seeOther(ctx.config, to);
  return seeOther(ctx.config, siblingOrigin(ctx.url, GRANT_HOST_PREFIX + grant, ctx.config) + to);
}

async function renew(ctx: SiteContext, grant: string): Promise<Response> {
  const next = await checkGrant(ctx.keyring, grant, ctx.siteId, ctx.now);
  if (!next.ok) return errorResponse(ctx.request, ctx.config, next.error);
  const current = await checkCookieGrants(ctx.keyring, grantCookieValues(ctx.request), ctx.siteId, ctx.now);
  if (!current.ok) return errorResponse(ctx.request, ctx.config, current.error);
  if (current.claims.version !== next.claims.version || current.claims.tenantId !== next.claims.tenantId) {
    return errorResponse(ctx.request, ctx.config, {
      status: 409,
      code: "GRANT_VERSION_MISMATCH",
      message:
        `The renewal is for version ${next.claims.version} but this view shows version ${current.claims.version}; ` +
        "reload the page to see the new version.",
    });
  }
  const cookie = cookieFor(next.claims, grant, ctx.now);
  if (!isNavigation(ctx.request)) {
    const headers = noStore(ctx.config, {});
    headers.set("Set-Cookie", cookie);
    return new Response(null, { status: 204, headers });
  }
  // A hidden frame of the macro view: tell it (and only it) when the new grant runs out.
  const message = JSON.stringify({ type: MESSAGE_RENEWED, expiresAt: next.claims.expiresAt });
  const target = JSON.stringify(ctx.config.embedOrigin ?? null).replace(/</g, "\\u003c");
  const html =
    `<!doctype html><meta charset="utf-8"><title>renewed</title>` +
    `<script>(()=>{const O=${target};if(O&&window.parent!==window)window.parent.postMessage(${message},O)})();</script>`;
  const headers = noStore(ctx.config, { "Content-Type": "text/html; charset=utf-8" });
  headers.set("Set-Cookie", cookie);
  return new Response(ctx.request.method === "HEAD" ? null : html, { status: 200, headers });
}
