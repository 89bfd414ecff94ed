/**
 * What the pipeline builds from its env: the HostingProvider (spending the account-wide Cloudflare
 * API budget) and grants (grants.ts), failing closed with a typed NOT_CONFIGURED. Tests and the dev
 * stack override the provider (e.g. instant retry sleeps) by passing `PublishDeps`; production uses
 * the defaults.
 */

import type { SiteId, TenantShortId } from "@mini-sites/core";
import { ApiError } from "../app/errors.ts";
import type { ControlEnv } from "../env.ts";
import { mintSiteGrant, type SiteGrant } from "../grants.ts";
import { CloudflareWfPProvider, durableBudget, type HostingProvider } from "../hosting/index.ts";

export const CLOUDFLARE_API_BASE_URL = "https://api.cloudflare.com/client/v4";

export interface PublishDeps {
  /** The provider for this env; default CloudflareWfPProvider from WFP_* and CLOUDFLARE_API_BASE_URL. */
  readonly hosting?: (env: ControlEnv) => HostingProvider;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
}

/**
 * The provider every call of the control Worker provisions through. Its Cloudflare API budget is the
 * CLOUDFLARE_API_BUDGET Durable Object (hosting/budget-object.ts), shared by every isolate and
 * Workflow step; a deployment without it is not configured, never unbudgeted.
 */
export function hostingFor(env: ControlEnv, deps: PublishDeps = {}): HostingProvider {
  if (deps.hosting) return deps.hosting(env);
  const { WFP_ACCOUNT_ID, WFP_NAMESPACE, WFP_API_TOKEN_PROVISIONING, CLOUDFLARE_API_BUDGET } = env;
  if (!WFP_ACCOUNT_ID || !WFP_NAMESPACE || !WFP_API_TOKEN_PROVISIONING || CLOUDFLARE_API_BUDGET === undefined)
    throw new ApiError(
      "NOT_CONFIGURED",
      "Provisioning is not configured (WFP_ACCOUNT_ID, WFP_NAMESPACE, WFP_API_TOKEN_PROVISIONING, CLOUDFLARE_API_BUDGET).",
    );
  return new CloudflareWfPProvider({
    apiBaseUrl: env.CLOUDFLARE_API_BASE_URL ?? CLOUDFLARE_API_BASE_URL,
    accountId: WFP_ACCOUNT_ID,
    namespace: WFP_NAMESPACE,
    apiToken: WFP_API_TOKEN_PROVISIONING,
    budget: durableBudget(CLOUDFLARE_API_BUDGET, WFP_API_TOKEN_PROVISIONING),
  });
}

/** A grant for `request`, or NOT_CONFIGURED naming what is missing (never which secret value). */
export async function requireSiteGrant(
  env: ControlEnv,
  request: { tenant: TenantShortId; site: SiteId; version: number; ttlSeconds?: number },
  now: number,
): Promise<SiteGrant> {
  const result = await mintSiteGrant(env, request, now);
  if (result.ok) return result.grant;
  throw new ApiError(
    "NOT_CONFIGURED",
    `Grants cannot be minted (${result.problems.join(", ")}): see /.well-known/mini-sites.`,
  );
}

export function target(site: SiteId, version?: number): string {
  return version === undefined ? `site:${site}` : `site:${site}/v${version}`;
}

export type { SiteId, TenantShortId };
