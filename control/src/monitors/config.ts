/**
 * The monitors' deployment settings (`[vars]` of wrangler-control.toml), each optional with a default
 * that is safe in production. docs/operations.md lists them.
 */

import type { MonitorTargetPolicy } from "@mini-sites/core";
import { dohResolver, type Resolver } from "./resolve.ts";

export interface MonitorVars {
  /** How long the Forge side accepts the previous tenant key after a rotation (seconds; default 1 day). */
  readonly TENANT_KEY_OVERLAP_SECONDS?: string;
  /**
   * "true" in the dev stack only: monitors may target loopback (its demo service). Everything else
   * private stays refused. Unset in staging and production.
   */
  readonly MONITOR_ALLOW_LOOPBACK?: string;
  /** Most monitors one cron pass checks (default 50); the rest wait for the next minute. */
  readonly MONITOR_BATCH?: string;
  /**
   * A DNS-over-HTTPS JSON endpoint (production: https://cloudflare-dns.com/dns-query; the dev stack:
   * its local resolver). Every monitor host name is resolved there first and refused if any address
   * is private, loopback, link-local, metadata or reserved. Unset: no DNS check (names are still
   * screened by the URL guard).
   */
  readonly MONITOR_DNS_URL?: string;
}

/** Checks of one pass running at once: Workers allow 6 simultaneous outgoing connections per request. */
export const MONITOR_CONCURRENCY = 6;
/** Default and bounds of a monitor's settings (DESIGN §3: interval ≥ 1 min, default 5 min). */
export const MONITOR_DEFAULTS = {
  intervalSeconds: 300,
  minIntervalSeconds: 60,
  maxIntervalSeconds: 86_400,
  timeoutSeconds: 10,
  maxTimeoutSeconds: 30,
  expectedMin: 200,
  expectedMax: 399,
} as const;
/** Monitors per tenant: a status board, not a load generator. */
export const MAX_MONITORS_PER_TENANT = 50;
/** Redirect hops a check follows, each re-validated by the SSRF guard. */
export const MAX_REDIRECTS = 5;
/** Results kept per monitor: 7 days at the shortest interval. */
export const MAX_RESULTS_PER_MONITOR = 7 * 24 * 60;
export const RESULT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** A report not delivered by then is abandoned (the state it carries is stale anyway). */
export const REPORT_EXPIRY_MS = 24 * 60 * 60 * 1000;
/** Push attempts back off from 30 s, doubling, up to 30 min. */
export const REPORT_RETRY_BASE_MS = 30_000;
export const REPORT_RETRY_MAX_MS = 30 * 60_000;
/** One push waits at most this long for the web trigger (Forge gives its functions 25 s; we wait less). */
export const REPORT_TIMEOUT_MS = 10_000;

export function monitorBatch(env: MonitorVars): number {
  const n = Number(env.MONITOR_BATCH ?? 50);
  return Number.isInteger(n) && n > 0 && n <= 500 ? n : 50;
}

/**
 * The SSRF guard's policy for this deployment: https only unless the dev stack allows plain http to
 * loopback; loopback only with MONITOR_ALLOW_LOOPBACK.
 */
export function targetPolicy(
  env: MonitorVars & { readonly DEV_ALLOW_LOOPBACK_HTTP?: string },
): MonitorTargetPolicy {
  return {
    allowHttp: env.DEV_ALLOW_LOOPBACK_HTTP === "true",
    allowLoopback: env.MONITOR_ALLOW_LOOPBACK === "true",
  };
}

/** The deployment's DNS-over-HTTPS resolver (a fresh answer cache each call), or none if unset. */
export function resolverOf(env: MonitorVars): Resolver | undefined {
  const endpoint = env.MONITOR_DNS_URL?.trim();
  if (endpoint === undefined || endpoint === "") return undefined;
  return dohResolver(endpoint);
}
