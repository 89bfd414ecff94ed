/**
 * Publish-pipeline configuration: every limit is a named number with a default and a reason, and a
 * deployment may override it through a `[vars]` entry of the same name (DESIGN §6.9 abuse bounds;
 * wrangler-control.toml lists them with their defaults). The bindings are typed once, in env.ts.
 */

import { type BundleLimits, DEFAULT_LIMITS } from "@mini-sites/core";

const MiB = 1024 * 1024;

export interface PublishConfig {
  /** The core's bundle limits (DESIGN §5). */
  readonly bundle: BundleLimits;
  /**
   * Bytes accepted from one upload body, counted while it streams: the bundle cap plus zip/multipart
   * framing (same reasoning as app/limits.ts UPLOAD_OVERHEAD_BYTES).
   */
  readonly maxUploadBytes: number;
  /** Sites one tenant may hold (QUOTA_SITES). */
  readonly maxSitesPerTenant: number;
  /** Sum of the sizes of a tenant's kept (non-failed) versions (QUOTA_BYTES). Logical bytes, before dedupe. */
  readonly maxStoredBytesPerTenant: number;
  /** Publishes (jobs) one tenant may start per window (RATE_LIMITED). */
  readonly publishesPerWindow: number;
  readonly rateWindowSeconds: number;
  /** User Workers kept per site: the live one plus the newest earlier ones, for instant rollback. */
  readonly workersKeptPerSite: number;
  /** A job whose row has not moved for this long is stuck (recoverJobs). */
  readonly jobStuckAfterSeconds: number;
  /** Restarts recoverJobs may give one job before it is failed with JOB_STUCK. */
  readonly maxJobRestarts: number;
  /** The smoke check's grant lives this long: enough for the check, useless afterwards. */
  readonly smokeGrantTtlSeconds: number;
  /** After an uninstall, how long a reinstall restores everything before the tenant is erased. */
  readonly tenantPurgeGraceSeconds: number;
  /** After a page is deleted (not trashed), how long before the sites shown only there are erased. */
  readonly pagePurgeGraceSeconds: number;
  /** Reconcile's blast radius: unknown Workers deleted per pass, at most. */
  readonly reconcileMaxDeletes: number;
  /** Missing live Workers re-provisioned per pass, at most (each spends the Cloudflare API budget). */
  readonly reconcileMaxReprovisions: number;
}

export const DEFAULT_PUBLISH_CONFIG: PublishConfig = {
  bundle: DEFAULT_LIMITS,
  maxUploadBytes: DEFAULT_LIMITS.maxBundleBytes + 8 * MiB,
  maxSitesPerTenant: 1_000,
  maxStoredBytesPerTenant: 10 * 1024 * MiB,
  publishesPerWindow: 30,
  rateWindowSeconds: 60,
  workersKeptPerSite: 3,
  jobStuckAfterSeconds: 15 * 60,
  maxJobRestarts: 2,
  smokeGrantTtlSeconds: 60,
  // Marketplace apps keep a tenant's data for 30 days after uninstall, so a mistaken uninstall is
  // undone by reinstalling; the same grace for a deleted page (Confluence's own trash is separate).
  tenantPurgeGraceSeconds: 30 * 24 * 60 * 60,
  pagePurgeGraceSeconds: 30 * 24 * 60 * 60,
  // A broken listing or a bug must never wipe a namespace: a handful of deletions per 5-minute pass
  // clears real drift within the hour and bounds any mistake to the same handful.
  reconcileMaxDeletes: 10,
  reconcileMaxReprovisions: 20,
};

/** The names of the `[vars]` that override PublishConfig (all optional, decimal integers). */
export interface PublishVars {
  readonly PUBLISH_MAX_UPLOAD_BYTES?: string;
  readonly PUBLISH_MAX_BUNDLE_BYTES?: string;
  readonly PUBLISH_MAX_FILES?: string;
  readonly QUOTA_MAX_SITES?: string;
  readonly QUOTA_MAX_STORED_BYTES?: string;
  readonly RATE_PUBLISHES_PER_WINDOW?: string;
  readonly RATE_WINDOW_SECONDS?: string;
  readonly WORKERS_KEPT_PER_SITE?: string;
  readonly JOB_STUCK_AFTER_SECONDS?: string;
  /** Lifetime of serve and view grants (grants.ts reads it: default 600, at most MAX_GRANT_TTL_SECONDS). */
  readonly GRANT_TTL_SECONDS?: string;
  readonly TENANT_PURGE_GRACE_SECONDS?: string;
  readonly PAGE_PURGE_GRACE_SECONDS?: string;
  readonly RECONCILE_MAX_DELETES?: string;
  readonly RECONCILE_MAX_REPROVISIONS?: string;
}

function positive(value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

export function readPublishConfig(env: PublishVars): PublishConfig {
  const d = DEFAULT_PUBLISH_CONFIG;
  const maxBundleBytes = positive(env.PUBLISH_MAX_BUNDLE_BYTES, d.bundle.maxBundleBytes);
  return {
    ...d,
    bundle: {
      ...d.bundle,
      maxBundleBytes,
      maxFiles: positive(env.PUBLISH_MAX_FILES, d.bundle.maxFiles),
    },
    maxUploadBytes: positive(env.PUBLISH_MAX_UPLOAD_BYTES, d.maxUploadBytes),
    maxSitesPerTenant: positive(env.QUOTA_MAX_SITES, d.maxSitesPerTenant),
    maxStoredBytesPerTenant: positive(env.QUOTA_MAX_STORED_BYTES, d.maxStoredBytesPerTenant),
    publishesPerWindow: positive(env.RATE_PUBLISHES_PER_WINDOW, d.publishesPerWindow),
    rateWindowSeconds: positive(env.RATE_WINDOW_SECONDS, d.rateWindowSeconds),
    workersKeptPerSite: positive(env.WORKERS_KEPT_PER_SITE, d.workersKeptPerSite),
    jobStuckAfterSeconds: positive(env.JOB_STUCK_AFTER_SECONDS, d.jobStuckAfterSeconds),
    tenantPurgeGraceSeconds: positive(env.TENANT_PURGE_GRACE_SECONDS, d.tenantPurgeGraceSeconds),
    pagePurgeGraceSeconds: positive(env.PAGE_PURGE_GRACE_SECONDS, d.pagePurgeGraceSeconds),
    reconcileMaxDeletes: positive(env.RECONCILE_MAX_DELETES, d.reconcileMaxDeletes),
    reconcileMaxReprovisions: positive(env.RECONCILE_MAX_REPROVISIONS, d.reconcileMaxReprovisions),
  };
}
