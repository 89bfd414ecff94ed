/**
 * A site's bytes are served with its tenant's CSP: the deployment's policy (config.ts) plus the
 * sources the tenant's admins allowed (DESIGN §3 Serve: the CDN allow-list "that tenant admins can
 * change"; "network calls leave the site only to hosts the tenant allows"). The control Worker keeps
 * each tenant's lists in Workers KV (TENANT_CSP, keyed by the tenant's short id); this module reads
 * them, checks them again and keeps the finished header per isolate.
 *
 * Threats, and what answers them:
 * - a stored value that would widen or break the policy (`https://a.com; script-src *`, `*`,
 *   `'unsafe-hashes'`, `data:`, plain http, a huge list): decoded by core's `decodeTenantAllowLists`
 *   with `cspSourceProblem`, the check the control Worker applies when an admin saves; a refused
 *   entry is dropped, never passed on, and a value not in the format gives the deployment's policy;
 * - one tenant's sources on another tenant's site: the key is the tenant the verified grant names
 *   (under its MAC), never anything the request or the site's bytes choose;
 * - KV failing or unbound: the fail-safe policy — the deployment's CDN list and `connect-src 'self'`
 *   only, narrower than any tenant's — kept for FAILED_READ_CACHE_MS at most, so recovery is quick;
 * - the serve path (docs/performance.md): a hit is one Map lookup; a miss is one KV read per tenant
 *   per isolate per TENANT_CSP_CACHE_SECONDS, started beside the user Worker's fetch.
 *
 * Concurrent misses for one tenant each read KV: sharing one read would hand a promise made in one
 * request's context to another request, which workerd does not support (the waiter can hang when the
 * first request ends). A handful of reads per tenant per isolate per TTL is the price.
 *
 * A change reaches viewers within TENANT_CSP_CACHE_SECONDS plus KV's own propagation (a read at
 * another location may be served from a cache up to about 60 s old): docs/security.md.
 */

import {
  decodeTenantAllowLists,
  IsolateCache,
  isEmptyAllowLists,
  onePer,
  type TenantAllowLists,
} from "@mini-sites/core";
import { contentSecurityPolicy, type GatewayConfig } from "./config.ts";

/** The part of a Workers KV namespace binding this module calls. */
export interface TenantCspStore {
  get(key: string, options: { type: "text" }): Promise<string | null>;
}

/**
 * Tenants whose sites one isolate served within a TTL; a policy is under 2 KiB, so the cache stays
 * within a couple of megabytes. The least recently used tenant is dropped first.
 */
export const TENANT_CSP_CACHE_ENTRIES = 1024;

/** A failed read is retried after this long (or the TTL, if shorter): KV hiccups should heal fast. */
export const FAILED_READ_CACHE_MS = 5_000;

export interface TenantCspOptions {
  readonly capacity?: number;
  /** Overrides config.tenantCspCacheSeconds (tests). */
  readonly ttlSeconds?: number;
}

/** The CSP each tenant's sites get, per gateway config (so per env) and isolate. */
export class TenantCsps {
  readonly #config: GatewayConfig;
  readonly #store: TenantCspStore | undefined;
  readonly #ttlMs: number;
  readonly #entries: IsolateCache<string>;
  /** The deployment's CDN list and `connect-src 'self'`: what a site gets when its tenant's lists are unknown. */
  readonly failSafeCsp: string;

  constructor(config: GatewayConfig, store: TenantCspStore | undefined, options: TenantCspOptions = {}) {
    this.#config = config;
    this.#store = store;
    this.#entries = new IsolateCache(options.capacity ?? TENANT_CSP_CACHE_ENTRIES);
    this.#ttlMs = (options.ttlSeconds ?? config.tenantCspCacheSeconds) * 1000;
    this.failSafeCsp = contentSecurityPolicy({ ...config, connectAllowList: [] });
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * The CSP for `tenant`'s sites at `now` (Unix ms): the cached string while it is fresh, otherwise a
   * promise of the freshly read one. The promise never rejects: a failed read gives the fail-safe.
   */
  cspFor(tenant: string, now: number): string | Promise<string> {
    return this.#entries.get(tenant, now) ?? this.#load(tenant, now);
  }

  async #load(tenant: string, now: number): Promise<string> {
    const retryFailure = now + Math.min(this.#ttlMs, FAILED_READ_CACHE_MS);
    if (this.#store === undefined) {
      this.#remember(tenant, this.failSafeCsp, retryFailure);
      return this.failSafeCsp;
    }
    let text: string | null;
    try {
      text = await this.#store.get(tenant, { type: "text" });
    } catch (error) {
      log("tenant_csp.read_failed", tenant, { error: error instanceof Error ? error.name : "unknown" });
      this.#remember(tenant, this.failSafeCsp, retryFailure);
      return this.failSafeCsp;
    }
    const csp = text === null ? this.#config.csp : this.#build(tenant, text);
    this.#remember(tenant, csp, now + this.#ttlMs);
    return csp;
  }

  #build(tenant: string, text: string): string {
    const { lists, dropped } = decodeTenantAllowLists(text);
    if (dropped > 0) log("tenant_csp.entries_dropped", tenant, { dropped });
    if (lists === undefined || isEmptyAllowLists(lists)) return this.#config.csp;
    return tenantPolicy(this.#config, lists);
  }

  #remember(tenant: string, csp: string, expiresAt: number): void {
    this.#entries.set(tenant, csp, expiresAt);
  }
}

/** The deployment's policy with a tenant's (already checked) sources added to it. */
export function tenantPolicy(config: GatewayConfig, lists: TenantAllowLists): string {
  const union = (base: readonly string[], extra: readonly string[]) => [...new Set([...base, ...extra])];
  return contentSecurityPolicy({
    ...config,
    cdnAllowList: union(config.cdnAllowList, lists.cdn),
    connectAllowList: union(config.connectAllowList, lists.connect),
  });
}

/** One line per event: the tenant's short id is not a secret, a stored value is never logged. */
function log(event: string, tenant: string, detail: Record<string, unknown>): void {
  console.warn(JSON.stringify({ level: "warn", event, tenant, ...detail }));
}

/** The isolate's cache for this config (one config per env, so one per deployment's bindings). */
export const tenantCspsFor = onePer(
  (config: GatewayConfig, store: TenantCspStore | undefined) => new TenantCsps(config, store),
);
