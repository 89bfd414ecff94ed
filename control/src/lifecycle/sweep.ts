/**
 * The lifecycle sweep (5-minute cron): what an uninstall or a page deletion scheduled, once its grace
 * period is over. Each part is bounded per pass and safe to repeat: an erasure that Cloudflare or R2
 * interrupted stays scheduled and is simply tried again next pass (fail-safe retain), and nothing is
 * erased before its moment — a reinstall or a restored page within the grace period undoes it all.
 */

import { clearPageState, deletedPagesDue } from "../db/page-states.ts";
import { getSite } from "../db/sites.ts";
import { tenantsDueForPurge } from "../db/tenants.ts";
import type { ControlEnv } from "../env.ts";
import { deleteBindingsOn, sitesShownOnlyOn } from "../macro/store.ts";
import type { PublishDeps } from "../publish/services.ts";
import { deleteTenantSite } from "../publish/sites.ts";
import { eraseTenant, type TenantErasure } from "./erase.ts";

/** Tenants erased per pass: each is a Cloudflare delete-by-tag and an R2 prefix delete. */
export const TENANTS_PER_SWEEP = 5;
/** Deleted pages handled per pass. */
export const PAGES_PER_SWEEP = 20;

export const LIFECYCLE_ACTOR = "lifecycle";

export interface SweepReport {
  readonly tenants: readonly TenantErasure[];
  readonly pages: readonly { tenantId: string; contentId: string; sitesErased: number }[];
}

export async function sweepLifecycle(env: ControlEnv, deps: PublishDeps, now: number): Promise<SweepReport> {
  const tenants: TenantErasure[] = [];
  for (const tenant of await tenantsDueForPurge(env.DB, now, TENANTS_PER_SWEEP)) {
    tenants.push(await eraseTenant(env, tenant.id, LIFECYCLE_ACTOR, deps));
  }
  const pages: { tenantId: string; contentId: string; sitesErased: number }[] = [];
  for (const page of await deletedPagesDue(env.DB, now, PAGES_PER_SWEEP)) {
    const publisher = { tenant: page.tenantId, actor: LIFECYCLE_ACTOR };
    let sitesErased = 0;
    for (const siteId of await sitesShownOnlyOn(env.DB, page.tenantId, page.contentId)) {
      const site = await getSite(env.DB, page.tenantId, siteId);
      if (site === undefined) continue;
      await deleteTenantSite(env, deps, publisher, site, { reason: "page deleted", content: page.contentId });
      sitesErased++;
    }
    // Sites also shown on other pages stay; this page's macros are gone with the page.
    await deleteBindingsOn(env.DB, page.tenantId, page.contentId);
    await clearPageState(env.DB, page.tenantId, page.contentId);
    pages.push({ tenantId: page.tenantId, contentId: page.contentId, sitesErased });
  }
  return { tenants, pages };
}
