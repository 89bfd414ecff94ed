/**
 * Where a site is born, whichever door it comes through — a publish to `new`, the macro's first
 * upload, a copied page's fork: the tenant's site quota (in the INSERT itself, db/sites.ts), a name
 * no other site of the tenant holds, and the `site.create` audit record, always all three. And where
 * it ends, whoever ends it — an API token, the admin page, the erasure of a deleted page's sites.
 *
 * A name someone chose (`publish --site team-dashboard`, `?name=`) that is taken is refused with
 * NAME_TAKEN: publishing into an existing site is a different act, and guessing would put bytes
 * where the caller did not mean them. A name the product made up (a macro's "Mini-site on page 123",
 * a fork's copy of its source's name, "Untitled site") gets the first free ` (n)` instead: those
 * doors must not fail because of a name nobody typed.
 */

import { newSiteId, type SiteId, siteTag } from "@mini-sites/core";
import { ApiError } from "../app/errors.ts";
import { audit } from "../audit/log.ts";
import {
  deleteSiteRow,
  freeSiteName,
  insertSite,
  type NotFoundHandling,
  SITE_NAME_ATTEMPTS,
  type Site,
} from "../db/sites.ts";
import type { ControlEnv } from "../env.ts";
import { deleteSiteOptIns } from "../site-feeds.ts";
import type { PublishConfig } from "./config.ts";
import type { Publisher } from "./pipeline.ts";
import { deletePrefix, editorUploadsPrefix, sitePrefix } from "./r2.ts";
import { hostingFor, type PublishDeps, target } from "./services.ts";

export interface NewSiteSettings {
  readonly name: string;
  readonly notFoundHandling?: NotFoundHandling | undefined;
  /** For audit: where the site came from (`publish`, `macro`, `fork`) and, for a fork, its source. */
  readonly origin: "publish" | "macro" | "fork";
  readonly forkedFrom?: SiteId;
  /** `fail`: the caller chose the name (NAME_TAKEN if taken). `suffix`: made up, so `name (n)` is fine. */
  readonly onNameTaken: "fail" | "suffix";
}

/** Tries at a fresh random id (ids are 64-bit random: a second try is already paranoia). */
const ID_ATTEMPTS = 3;

export function quotaSitesError(config: PublishConfig): ApiError {
  return new ApiError(
    "QUOTA_SITES",
    `This tenant already has ${config.maxSitesPerTenant} sites, the most it may have.`,
  );
}

export function nameTakenError(name: string): ApiError {
  return new ApiError(
    "NAME_TAKEN",
    `This tenant already has a site named "${name}": publish to it by that name, or choose another name.`,
    { extra: { detail: { name } } },
  );
}

export async function createTenantSite(
  env: ControlEnv,
  config: PublishConfig,
  publisher: Publisher,
  settings: NewSiteSettings,
  options: { id?: SiteId; now: number },
): Promise<Site> {
  for (let attempt = 0; attempt < ID_ATTEMPTS + SITE_NAME_ATTEMPTS; attempt++) {
    const id = options.id ?? newSiteId();
    const name =
      settings.onNameTaken === "suffix"
        ? await freeSiteName(env.DB, publisher.tenant, settings.name)
        : settings.name;
    const result = await insertSite(
      env.DB,
      publisher.tenant,
      id,
      { name, notFoundHandling: settings.notFoundHandling },
      options.now,
      { maxSites: config.maxSitesPerTenant },
    );
    if ("refused" in result) {
      if (result.refused === "quota") throw quotaSitesError(config);
      if (result.refused === "name-taken") {
        if (settings.onNameTaken === "fail") throw nameTakenError(settings.name);
        continue;
      }
      if (options.id !== undefined) throw new ApiError("UNAVAILABLE", "A site id collided; publish again.");
      continue;
    }
    await audit(env, {
      tenantId: publisher.tenant,
      actor: publisher.actor,
      action: "site.create",
      target: target(result.site.id),
      detail: {
        name: result.site.name,
        origin: settings.origin,
        ...(settings.forkedFrom === undefined ? {} : { forkedFrom: settings.forkedFrom }),
      },
    });
    return result.site;
  }
  throw new ApiError("UNAVAILABLE", "No free site id or name; try again.");
}

export interface SiteDeletion {
  readonly id: SiteId;
  readonly deleted: true;
  /** "pending" when Cloudflare or R2 failed: the rows are gone already, reconcile removes the rest. */
  readonly workers: "deleted" | "pending";
  readonly bytes: "deleted" | "pending";
}

/**
 * Deletes a site: its rows first — from that statement on no grant can be minted for it (fail-safe
 * order) — audited, then its Workers by tag, its bytes and its status feed opt-ins. If Cloudflare or R2 fail after the rows are
 * gone, the leftovers are orphans that reconcile deletes later.
 */
export async function deleteTenantSite(
  env: ControlEnv,
  deps: PublishDeps,
  publisher: Publisher,
  site: Site,
  reason: Record<string, unknown> = {},
): Promise<SiteDeletion> {
  await deleteSiteRow(env.DB, publisher.tenant, site.id);
  await audit(env, {
    tenantId: publisher.tenant,
    actor: publisher.actor,
    action: "site.delete",
    target: target(site.id),
    detail: { name: site.name, ...reason },
  });
  // Inside the chain: a provider that cannot even be built (provisioning not configured) leaves the
  // Workers pending like any other failure.
  const workers = await Promise.resolve()
    .then(() => hostingFor(env, deps).deleteByTag(siteTag(site.id)))
    .then(
      (r) => (r.ok ? ("deleted" as const) : ("pending" as const)),
      () => "pending" as const,
    );
  const bytes = await Promise.all([
    deletePrefix(env.BUNDLES, sitePrefix(publisher.tenant, site.id)),
    deletePrefix(env.BUNDLES, editorUploadsPrefix(publisher.tenant, site.id)),
  ]).then(
    () => "deleted" as const,
    () => "pending" as const,
  );
  // Best effort: an opt-in key left behind names a site no grant can be minted for any more (site ids
  // are random and never reused), so it opens nothing; it is logged for the operator.
  if (env.SITE_FEEDS !== undefined)
    await deleteSiteOptIns(env.SITE_FEEDS, site.id).catch((error: unknown) =>
      console.warn(
        JSON.stringify({
          level: "warn",
          event: "site_feeds.delete_failed",
          site: site.id,
          error: error instanceof Error ? error.name : "unknown",
        }),
      ),
    );
  return { id: site.id, deleted: true, workers, bytes };
}
