/**
 * Which origin a request is for, from its host name alone (the port is ignored: locally every host
 * carries the dev port, in production none does).
 *
 *   s-<siteId>.<SITES_DOMAIN>  a site's own origin; the grant comes from the `__Host-ms` cookie
 *   g-<grant>.<SITES_DOMAIN>   the grant-in-hostname fallback; the grant names its own site
 *   DISPATCH_BASE_URL's host   the gateway itself: `/.well-known/mini-sites` and health only
 *
 * Anything else (another label shape, a deeper subdomain, the bare domain) is no origin of ours: 404.
 * URL parsing already lowercased the host, as browsers and DNS do, so one grant is one fallback origin.
 */

import { GRANT_HOST_PREFIX, parseSiteHostLabel, type SiteId } from "@mini-sites/core";
import type { GatewayConfig } from "./config.ts";

export type HostRoute =
  | { readonly kind: "site"; readonly siteId: SiteId }
  | { readonly kind: "grant-host"; readonly grant: string }
  | { readonly kind: "gateway" }
  | { readonly kind: "unknown" };

export function routeHost(url: URL, config: GatewayConfig): HostRoute {
  const host = url.hostname;
  if (config.gatewayHost !== undefined && host === config.gatewayHost) return { kind: "gateway" };
  const suffix = `.${config.sitesDomain}`;
  if (!host.endsWith(suffix)) return { kind: "unknown" };
  const label = host.slice(0, -suffix.length);
  if (label.includes(".")) return { kind: "unknown" };
  const siteId = parseSiteHostLabel(label);
  if (siteId !== undefined) return { kind: "site", siteId };
  if (label.startsWith(GRANT_HOST_PREFIX))
    return { kind: "grant-host", grant: label.slice(GRANT_HOST_PREFIX.length) };
  return { kind: "unknown" };
}

/** `<scheme>//<label>.<SITES_DOMAIN>[:port]`, keeping the request's own scheme and port (local dev). */
export function siblingOrigin(url: URL, label: string, config: GatewayConfig): string {
  return `${url.protocol}//${label}.${config.sitesDomain}${url.port === "" ? "" : `:${url.port}`}`;
}
