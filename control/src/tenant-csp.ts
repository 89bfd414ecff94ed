/**
 * Where a tenant's CSP allow-lists reach the gateway (DESIGN §3 Serve). D1's `tenant_settings` is the
 * record; the dispatch Worker reads no database, so it gets a copy in Workers KV (TENANT_CSP, shared
 * with it: dispatch/src/tenant-csp.ts), keyed by the tenant's short id — the id every grant carries —
 * holding core's `encodeTenantAllowLists`. No key means nothing is added to the deployment's policy,
 * so empty lists are stored as no key.
 *
 * When the copy changes, and why it cannot silently lag:
 * - saved (PUT /v1/tenant/settings): after the D1 write; a failed KV write fails the request with
 *   SETTINGS_NOT_APPLIED, so an admin is never told "saved" while sites get the old lists;
 * - erased (lifecycle/erase.ts): deleted with the tenant's Workers and bytes, before the rows, so a
 *   tenant that is gone leaves no copy (a grant still running out meanwhile gets the deployment's
 *   policy, which is narrower);
 * - every reconcile pass compares each tenant's copy with D1 and rewrites the ones that drifted (a
 *   failed save, lists saved before the copy existed, a hand-edited value).
 * KV is eventually consistent: what the gateway serves follows a write within its cache TTL plus
 * about 60 s (docs/security.md).
 */

import {
  type CspSourceKind,
  cspSourceProblem,
  encodeTenantAllowLists,
  isEmptyAllowLists,
  MAX_CSP_SOURCES,
  type TenantAllowLists,
  type TenantShortId,
} from "@mini-sites/core";
import { ApiError } from "./app/errors.ts";
import type { D1Database } from "./db/d1.ts";
import { getTenantSettings } from "./db/tenant-settings.ts";
import type { KvNamespace } from "./env.ts";

/**
 * The stored value for `lists`, or null when nothing is added to the deployment's policy (no key).
 * Lists were checked when saved; a record from before a rule tightened loses the entries the gateway
 * would drop anyway, rather than blocking the copy.
 */
export function storedAllowLists(lists: TenantAllowLists): string | null {
  const keep = (list: readonly string[], kind: CspSourceKind) =>
    list.filter((source) => cspSourceProblem(source, kind) === undefined).slice(0, MAX_CSP_SOURCES);
  const checked = { cdn: keep(lists.cdn, "cdn"), connect: keep(lists.connect, "connect") };
  return isEmptyAllowLists(checked) ? null : encodeTenantAllowLists(checked);
}

/** The binding, or NOT_CONFIGURED: lists the gateway would never see must not be accepted. */
export function tenantCspStore(env: { readonly TENANT_CSP?: KvNamespace }): KvNamespace {
  if (env.TENANT_CSP === undefined)
    throw new ApiError(
      "NOT_CONFIGURED",
      "The TENANT_CSP KV namespace binding is missing (wrangler-control.toml).",
    );
  return env.TENANT_CSP;
}

/** What the gateway's copy should hold now: D1's record, as stored (null: no key). */
async function recordedValue(db: D1Database, tenant: TenantShortId): Promise<string | null> {
  const settings = await getTenantSettings(db, tenant);
  return storedAllowLists({ cdn: settings.cdnAllowList, connect: settings.connectAllowList });
}

/**
 * Makes the gateway's copy hold D1's record; rejects with the store's error when a write fails. Two
 * saves (or a save and a reconcile pass) can interleave so that the older record's KV write lands
 * last; so after writing, the record is read again and, if it moved, written too: whichever write
 * comes last then carries the newest record.
 */
export async function publishAllowLists(
  store: KvNamespace,
  db: D1Database,
  tenant: TenantShortId,
): Promise<void> {
  const write = (value: string | null) => (value === null ? store.delete(tenant) : store.put(tenant, value));
  const written = await recordedValue(db, tenant);
  await write(written);
  const after = await recordedValue(db, tenant);
  if (after !== written) await write(after);
}

/** Removes the tenant's copy (erasure). */
export async function deleteAllowLists(store: KvNamespace, tenant: TenantShortId): Promise<void> {
  await store.delete(tenant);
}

/**
 * Reconcile: rewrites the gateway's copy when it differs from D1's record. A copy read from KV's
 * cache (up to ~60 s old) can only cause a needless rewrite of the record's value.
 */
export async function resyncAllowLists(
  store: KvNamespace,
  db: D1Database,
  tenant: TenantShortId,
): Promise<"unchanged" | "repaired"> {
  const current = await store.get(tenant, { type: "text" });
  if (current === (await recordedValue(db, tenant))) return "unchanged";
  await publishAllowLists(store, db, tenant);
  return "repaired";
}
