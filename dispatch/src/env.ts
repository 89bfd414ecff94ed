/**
 * What the dispatch Worker is given (wrangler-dispatch.toml). Everything except DISPATCHER, TENANT_CSP
 * and SITE_FEEDS is a string var or secret; unset vars take the defaults in config.ts, unset secrets fail
 * closed.
 */

import type { IdentityEnv } from "@mini-sites/core";
import type { SiteFeedStore } from "./site-feeds.ts";
import type { TenantCspStore } from "./tenant-csp.ts";

export interface DispatchEnv extends IdentityEnv {
  /** The Workers-for-Platforms namespace holding one user Worker per site version. */
  readonly DISPATCHER: DispatchNamespace;
  /** Sites live at `s-<siteId>.<SITES_DOMAIN>`; locally `localhost`. */
  readonly SITES_DOMAIN?: string;
  /** This Worker's own origin, e.g. `https://gw.<SITES_DOMAIN>`: only `/.well-known/mini-sites` and health. */
  readonly DISPATCH_BASE_URL?: string;
  /** CSP `frame-ancestors` sources, space-separated: the Custom UI origin and the Confluence site origin. */
  readonly EMBED_ANCESTORS?: string;
  /** The macro view's origin: the only origin the injected script tells which link to open. */
  readonly EMBED_ORIGIN?: string;
  /** Script/style/image/font CDN sources, space-separated; defaults to DEFAULT_CDN_ALLOW_LIST. */
  readonly CDN_ALLOW_LIST?: string;
  /** Extra `connect-src` sources for every site of the deployment, space-separated; default none. */
  readonly CONNECT_ALLOW_LIST?: string;
  /**
   * Workers KV, written by the control Worker: each tenant's own allow-lists, by tenant short id
   * (tenant-csp.ts). Unbound: every site gets the fail-safe policy, and `/.well-known/mini-sites` says so.
   */
  readonly TENANT_CSP?: TenantCspStore;
  /** Seconds an isolate keeps a tenant's allow-lists; default 30 (config.ts). */
  readonly TENANT_CSP_CACHE_SECONDS?: string;
  /**
   * Workers KV, written by the control Worker: each tenant's monitor feed and the site versions that
   * opted in to read it at `/__ms/status.json` (site-feeds.ts). Unbound: that path is a 404 on every
   * site, and `/.well-known/mini-sites` says so.
   */
  readonly SITE_FEEDS?: SiteFeedStore;
}
