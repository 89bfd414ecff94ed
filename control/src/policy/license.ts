/**
 * The app's Marketplace license, as Forge states it in a FIT (`app.license`, present only for a paid
 * app in PRODUCTION — developer.atlassian.com/platform/forge/remote/essentials). A lapsed license stops
 * what shows or publishes a site (routes marked `licensed` in table.ts) and deletes nothing; the
 * development and staging environments are never refused, and a FIT without `app.license` (a free or
 * unlisted app) is not "inactive".
 */

import type { ForgeContext } from "../auth/fit.ts";

const ENFORCED_ENVIRONMENT = "PRODUCTION";

export function licenseLapsed(ctx: ForgeContext): boolean {
  return ctx.environment?.type === ENFORCED_ENVIRONMENT && ctx.license?.isActive === false;
}

/** What a FIT tells us to remember for the tenant (API tokens carry no license), or nothing. */
export function licenseStateOf(ctx: ForgeContext): "active" | "inactive" | undefined {
  if (ctx.environment?.type !== ENFORCED_ENVIRONMENT || ctx.license === undefined) return undefined;
  return ctx.license.isActive ? "active" : "inactive";
}
