/**
 * Where a site is born, whichever door it comes through — a publish to `new`, the macro's first
 * upload, a copied page's fork: the tenant's site quota (in the INSERT itself, db/sites.ts) and the
 * `site.create` audit record, always both.
 */

import type { SiteId } from "@mini-sites/core";
import { newSiteId } from "@mini-sites/core";
import { ApiError } from "../app/errors.ts";
import { audit } from "../audit/log.ts";
import { insertSite, type NotFoundHandling, type Site } from "../db/sites.ts";
import type { ControlEnv } from "../env.ts";
import type { PublishConfig } from "./config.ts";
import type { Publisher } from "./pipeline.ts";
import { target } from "./services.ts";

export interface NewSiteSettings {
  readonly name: string;
  readonly notFoundHandling?: NotFoundHandling | undefined;
  /** For audit: where the site came from (`publish`, `macro`, `fork`) and, for a fork, its source. */
  readonly origin: "publish" | "macro" | "fork";
  readonly forkedFrom?: SiteId;
}

/** Tries at a fresh random id (ids are 64-bit random: a second try is already paranoia). */
const ID_ATTEMPTS = 3;

export function quotaSitesError(config: PublishConfig): ApiError {
  return new ApiError(
    "QUOTA_SITES",
    `This tenant already has ${config.maxSitesPerTenant} sites, the most it may have.`,
  );
}

export async function createTenantSite(
  env: ControlEnv,
  config: PublishConfig,
  publisher: Publisher,
  settings: NewSiteSettings,
  options: { id?: SiteId; now: number },
): Promise<Site> {
  for (let attempt = 0; attempt < ID_ATTEMPTS; attempt++) {
    const id = options.id ?? newSiteId();
    const result = await insertSite(
      env.DB,
      publisher.tenant,
      id,
      { name: settings.name, notFoundHandling: settings.notFoundHandling },
      options.now,
      { maxSites: config.maxSitesPerTenant },
    );
    if ("refused" in result) {
      if (result.refused === "quota") throw quotaSitesError(config);
      if (options.id !== undefined) throw new ApiError("UNAVAILABLE", "A site id collided; publish again.");
      continue;
    }
    await audit(env, {
      tenantId: publisher.tenant,
      actor: publisher.actor,
      action: "site.create",
      target: target(result.site.id),
      detail: {
        name: settings.name,
        origin: settings.origin,
        ...(settings.forkedFrom === undefined ? {} : { forkedFrom: settings.forkedFrom }),
      },
    });
    return result.site;
  }
  throw new ApiError("UNAVAILABLE", "No free site id; try again.");
}
