/**
 * What the pipeline builds from its env: the HostingProvider, grants (grants.ts) and audit appends,
 * the last two failing closed with a typed NOT_CONFIGURED. Tests and the dev stack override the
 * provider (e.g. instant retry sleeps) by passing `PublishDeps`; production uses the defaults.
 */

import type { SiteId, TenantShortId } from "@mini-sites/core";
import { type AuditEntry, AuditLog } from "../audit/index.ts";
import type { ControlEnv } from "../env.ts";
import { mintSiteGrant, type SiteGrant } from "../grants.ts";
import { CloudflareWfPProvider, type HostingProvider } from "../hosting/index.ts";
import { controlKeys } from "../identity.ts";
import { PublishError } from "./errors.ts";

export const CLOUDFLARE_API_BASE_URL = "https://api.cloudflare.com/client/v4";

export interface PublishDeps {
  /** The provider for this env; default CloudflareWfPProvider from WFP_* and CLOUDFLARE_API_BASE_URL. */
  readonly hosting?: (env: ControlEnv) => HostingProvider;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
}

export function hostingFor(env: ControlEnv, deps: PublishDeps = {}): HostingProvider {
  if (deps.hosting) return deps.hosting(env);
  const { WFP_ACCOUNT_ID, WFP_NAMESPACE, WFP_API_TOKEN_PROVISIONING } = env;
  if (!WFP_ACCOUNT_ID || !WFP_NAMESPACE || !WFP_API_TOKEN_PROVISIONING)
    throw new PublishError(
      "NOT_CONFIGURED",
      "Provisioning is not configured (WFP_ACCOUNT_ID, WFP_NAMESPACE, WFP_API_TOKEN_PROVISIONING).",
    );
  return new CloudflareWfPProvider({
    apiBaseUrl: env.CLOUDFLARE_API_BASE_URL ?? CLOUDFLARE_API_BASE_URL,
    accountId: WFP_ACCOUNT_ID,
    namespace: WFP_NAMESPACE,
    apiToken: WFP_API_TOKEN_PROVISIONING,
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
  throw new PublishError(
    "NOT_CONFIGURED",
    `Grants cannot be minted (${result.problems.join(", ")}): see /.well-known/mini-sites.`,
  );
}

/** Appends to the audit chain; fails closed (the action is refused) when the audit key is missing. */
export async function audit(env: ControlEnv, entry: AuditEntry): Promise<void> {
  const keys = await controlKeys(env);
  if (!keys.ready)
    throw new PublishError(
      "NOT_CONFIGURED",
      "The deployment identity secret is missing; see /.well-known/mini-sites.",
    );
  await new AuditLog(env.DB, keys.audit).append(entry);
}

export function target(site: SiteId, version?: number): string {
  return version === undefined ? `site:${site}` : `site:${site}/v${version}`;
}

export type { SiteId, TenantShortId };
