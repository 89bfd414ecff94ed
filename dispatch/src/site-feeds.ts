/**
 * `/__ms/status.json` on a site's origin: the site's tenant's monitor feed, for a site whose version
 * opted in at publish time (DESIGN §3: "a mini-site may opt in to read its tenant's monitor feed at a
 * reserved same-origin path so static dashboards can show live status without network access of their
 * own"). The control Worker keeps both facts in Workers KV (SITE_FEEDS, control/src/site-feeds.ts);
 * this module reads them, keeps them per isolate for SITE_FEED_CACHE_SECONDS, and answers.
 *
 * Threats, and what answers them:
 * - a viewer without access, with an expired or forged grant, or with another site's grant: the
 *   request has passed the same grant check as any of the site's bytes before it gets here (index.ts);
 * - another tenant's feed: the tenant is the one the verified grant names, under its MAC — never a
 *   query value, a header or the site's bytes; the key is core's `feedKey(claims.tenantId)`;
 * - a site (or a version of it) that did not opt in reading the feed, or probing whether its tenant
 *   has monitors: without `optin/<site>/<claims.version>` the answer is the gateway's plain 404 for an
 *   unknown `/__ms/` path, whatever the feed holds. The version is the grant's, so a grant for an
 *   opted-out version stays opted out even while another version of the site is opted in;
 * - KV failing: 503 STATUS_FEED_UNAVAILABLE, nothing cached, never a guess and never another key;
 * - caching by the browser or anything between: `no-store`, and the usual security headers.
 * What the feed holds — names, states, latency, uptime, recent results, never URLs — is the control
 * Worker's serializer (control/src/monitors/feed.ts), the Service status macro's own.
 */

import {
  EMPTY_FEED,
  FEED_OPT_IN,
  feedKey,
  feedOptInKey,
  type GrantClaims,
  IsolateCache,
  onePer,
  type SiteId,
} from "@mini-sites/core";
import type { GatewayConfig } from "./config.ts";
import type { DispatchEnv } from "./env.ts";
import { errorResponse, type GatewayError, NOT_FOUND } from "./errors.ts";
import { setSecurityHeaders } from "./headers.ts";

/** The part of a Workers KV namespace binding this module calls. */
export interface SiteFeedStore {
  get(key: string, options: { type: "text" }): Promise<string | null>;
}

/**
 * How long an isolate keeps a feed or an opt-in answer. Short: the feed changes with every monitor
 * check (at most once a minute per monitor), and a dashboard should show it within seconds of the copy.
 */
export const SITE_FEED_CACHE_SECONDS = 10;
/** Tenants' feeds plus (site, version) opt-ins one isolate keeps; a feed is at most a few hundred KiB. */
export const SITE_FEED_CACHE_ENTRIES = 512;

export const STATUS_FEED_UNAVAILABLE: GatewayError = {
  status: 503,
  code: "STATUS_FEED_UNAVAILABLE",
  message: "The status feed could not be read. Try again shortly.",
  headers: { "Retry-After": "5" },
};

/** A KV read that failed: answered with 503, and never cached. */
const FAILED = Symbol("failed");

export interface SiteFeedsOptions {
  readonly capacity?: number;
  readonly ttlSeconds?: number;
}

/** The feeds and opt-ins this isolate has read, per gateway config (so per env). */
export class SiteFeeds {
  readonly #store: SiteFeedStore | undefined;
  readonly #ttlMs: number;
  readonly #entries: IsolateCache<string | null>;

  constructor(store: SiteFeedStore | undefined, options: SiteFeedsOptions = {}) {
    this.#store = store;
    this.#ttlMs = (options.ttlSeconds ?? SITE_FEED_CACHE_SECONDS) * 1000;
    this.#entries = new IsolateCache(options.capacity ?? SITE_FEED_CACHE_ENTRIES);
  }

  get bound(): boolean {
    return this.#store !== undefined;
  }

  /** The stored value of `key` (null: no key), from this isolate while fresh; FAILED when KV failed. */
  async #read(key: string, now: number): Promise<string | null | typeof FAILED> {
    const cached = this.#entries.get(key, now);
    if (cached !== undefined) return cached;
    if (this.#store === undefined) return null;
    try {
      const value = await this.#store.get(key, { type: "text" });
      this.#entries.set(key, value, now + this.#ttlMs);
      return value;
    } catch (error) {
      console.warn(
        JSON.stringify({
          level: "warn",
          event: "site_feeds.read_failed",
          key: key.split("/")[0],
          error: error instanceof Error ? error.name : "unknown",
        }),
      );
      return FAILED;
    }
  }

  /**
   * The feed body for the grant's (site, version, tenant): the JSON text, `undefined` when the version
   * did not opt in (or no namespace is bound), FAILED when KV could not answer.
   */
  async feedFor(site: SiteId, claims: GrantClaims, now: number): Promise<string | undefined | typeof FAILED> {
    if (this.#store === undefined) return undefined;
    const optIn = await this.#read(feedOptInKey(site, claims.version), now);
    if (optIn === FAILED) return FAILED;
    if (optIn !== FEED_OPT_IN) return undefined;
    const feed = await this.#read(feedKey(claims.tenantId), now);
    if (feed === FAILED) return FAILED;
    return feed ?? EMPTY_FEED;
  }
}

/** The isolate's feeds for this config (one config per env, so one per deployment's bindings). */
export const siteFeedsFor = onePer(
  (_config: GatewayConfig, store: SiteFeedStore | undefined) => new SiteFeeds(store),
);

/**
 * Answers `/__ms/status.json` for a request whose grant was verified for `site` (index.ts); the
 * method was checked by the request policy (GET or HEAD only).
 */
export async function serveStatusFeed(
  request: Request,
  env: DispatchEnv,
  config: GatewayConfig,
  site: SiteId,
  claims: GrantClaims,
  now: number,
): Promise<Response> {
  const body = await siteFeedsFor(config, env.SITE_FEEDS).feedFor(site, claims, now);
  if (body === FAILED) return errorResponse(request, config, STATUS_FEED_UNAVAILABLE);
  if (body === undefined) return errorResponse(request, config, NOT_FOUND);
  const headers = new Headers({
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "no-store",
  });
  setSecurityHeaders(headers, config);
  return new Response(request.method === "HEAD" ? null : body, { status: 200, headers });
}
