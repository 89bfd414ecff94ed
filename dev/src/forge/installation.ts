/**
 * One installation of the app on one Confluence site, as the stand-in plays it — and the claims every
 * FIT it signs for that installation carries (UI calls, product events, a function's invokeRemote),
 * so the three kinds of call can never disagree on the tenant, the environment or the license.
 *
 * The license: Forge puts `app.license` in a FIT only for a paid app in the PRODUCTION environment
 * (developer.atlassian.com/platform/forge/remote/essentials). The stand-in plays three states per
 * site: no Marketplace license at all (DEVELOPMENT, the default: nothing is enforced), an active one
 * and a lapsed one (both PRODUCTION), so the control Worker's LICENSE_INACTIVE path can be seen.
 */

import { ENVIRONMENT_ARI_PREFIX, type FitClaimsInput, type FitPageContext } from "./fit.ts";

export type LicenseState = "none" | "active" | "inactive";
export const LICENSE_STATES: readonly LicenseState[] = ["none", "active", "inactive"];

export interface ForgeInstallation {
  readonly appId: string;
  readonly installationId: string;
  readonly cloudId: string;
  /** `app.apiBaseUrl` of its FITs: where the product's REST API answers for this site. */
  readonly apiBaseUrl: string;
  /** The Confluence site's address (context.siteUrl). */
  readonly siteUrl: string;
  /** The Marketplace license the stand-in plays for this site. */
  readonly license: LicenseState;
}

/** Stable environment ids per type, so the control Worker sees one environment per type. */
const ENVIRONMENT_IDS = {
  DEVELOPMENT: "00000000-0000-4000-8000-000000000001",
  PRODUCTION: "00000000-0000-4000-8000-000000000003",
} as const;

export function environmentOf(installation: ForgeInstallation): {
  readonly type: "DEVELOPMENT" | "PRODUCTION";
  readonly id: string;
} {
  const type = installation.license === "none" ? "DEVELOPMENT" : "PRODUCTION";
  return { type, id: `${ENVIRONMENT_ARI_PREFIX}${installation.appId}/${ENVIRONMENT_IDS[type]}` };
}

/** What a FIT for this installation says; `principal` and `context` are the call's own. */
export function fitClaimsFor(
  installation: ForgeInstallation,
  call: { readonly principal?: string; readonly context: FitPageContext | null },
): FitClaimsInput {
  return {
    appId: installation.appId,
    installationId: installation.installationId,
    cloudId: installation.cloudId,
    apiBaseUrl: installation.apiBaseUrl,
    environment: environmentOf(installation),
    ...(installation.license === "none" ? {} : { license: { isActive: installation.license === "active" } }),
    ...(call.principal === undefined ? {} : { principal: call.principal }),
    context: call.context,
  };
}
