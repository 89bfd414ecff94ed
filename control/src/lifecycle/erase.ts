/**
 * Erasing a tenant (DESIGN §3 Lifecycle: Forge's `preUninstall` schedules it): every user Worker
 * tagged `tenant-<id>`, every R2 object under `t/<id>/`, the gateway's copy of its CSP allow-lists
 * (Workers KV, tenant-csp.ts), its monitor feed and its sites' feed opt-ins (site-feeds.ts), every D1 row (child rows cascade from the tenant row), while the audit
 * log keeps a `tenant.purge` record and the tenant's past entries.
 *
 * Order and failure: the tenant is first marked `purging` (no new grants, no publishes, the macro
 * treats it as gone), then Workers, bytes and the KV copy are deleted, and the rows last. If
 * Cloudflare, R2 or KV fail, the tenant stays `purging` and the call can simply be repeated (fail-safe
 * retain: an outage never loses track of what is still to delete — once the rows are gone, nothing
 * would remember the KV key, and reconcile only visits tenants that still exist).
 */

import { type SiteId, type TenantShortId, tenantTag } from "@mini-sites/core";
import { audit } from "../audit/log.ts";
import type { ControlEnv } from "../env.ts";
import { deletePrefix, tenantPrefix } from "../publish/r2.ts";
import { hostingFor, type PublishDeps } from "../publish/services.ts";
import { deleteTenantFeeds } from "../site-feeds.ts";
import { deleteAllowLists } from "../tenant-csp.ts";

export interface TenantErasure {
  readonly tenant: TenantShortId;
  /** "deleted" once every part is gone; "pending" while Workers or bytes remain (call again). */
  readonly state: "deleted" | "pending";
  readonly workers: "deleted" | "pending";
  readonly objects: number;
  /** The gateway's copy of the tenant's allow-lists; "deleted" too when no KV namespace is bound. */
  readonly allowLists: "deleted" | "pending";
  /** The gateway's copy of the monitor feed and the sites' opt-ins; "deleted" too when unbound. */
  readonly statusFeeds: "deleted" | "pending";
}

export async function eraseTenant(
  env: ControlEnv,
  tenant: TenantShortId,
  actor: string,
  deps: PublishDeps = {},
): Promise<TenantErasure> {
  await env.DB.prepare("UPDATE tenants SET status = 'purging' WHERE id = ?").bind(tenant).run();
  const workers = await hostingFor(env, deps)
    .deleteByTag(tenantTag(tenant))
    .then(
      (result) => (result.ok ? "deleted" : "pending"),
      () => "pending" as const,
    );
  const objects = await deletePrefix(env.BUNDLES, tenantPrefix(tenant)).catch(() => -1);
  // Without the binding this Worker never wrote a copy (saving allow-lists refuses NOT_CONFIGURED).
  const allowLists =
    env.TENANT_CSP === undefined
      ? "deleted"
      : await deleteAllowLists(env.TENANT_CSP, tenant).then(
          () => "deleted" as const,
          () => "pending" as const,
        );
  // The sites are read before their rows go: once they are gone nothing names their opt-in keys.
  const feeds = env.SITE_FEEDS;
  const statusFeeds =
    feeds === undefined
      ? "deleted"
      : await tenantSiteIds(env, tenant)
          .then((sites) => deleteTenantFeeds(feeds, tenant, sites))
          .then(
            () => "deleted" as const,
            () => "pending" as const,
          );
  const complete =
    workers === "deleted" && objects >= 0 && allowLists === "deleted" && statusFeeds === "deleted";
  // audit_actors maps the audit log's pseudonyms to account ids and has no foreign key (the log
  // outlives the tenant): deleted with the tenant row, so the kept entries name nobody any more.
  if (complete)
    await env.DB.batch([
      env.DB.prepare("DELETE FROM audit_actors WHERE tenant_id = ?").bind(tenant),
      env.DB.prepare("DELETE FROM tenants WHERE id = ?").bind(tenant),
    ]);
  await audit(env, {
    tenantId: tenant,
    actor,
    action: "tenant.purge",
    target: `tenant:${tenant}`,
    detail: { workers, objects: Math.max(objects, 0), allowLists, statusFeeds, complete },
  });
  return {
    tenant,
    state: complete ? "deleted" : "pending",
    workers,
    objects: Math.max(objects, 0),
    allowLists,
    statusFeeds,
  };
}

async function tenantSiteIds(env: ControlEnv, tenant: TenantShortId): Promise<SiteId[]> {
  const { results } = await env.DB.prepare("SELECT id FROM sites WHERE tenant_id = ?")
    .bind(tenant)
    .all<{ id: string }>();
  return results.map((row) => row.id as SiteId);
}
