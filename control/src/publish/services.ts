/**
 * What the pipeline builds from its env, once per env object: the HostingProvider, the grant and
 * audit keyrings. Tests and the dev stack override the provider (e.g. instant retry sleeps) by passing
 * `PublishDeps`; production uses the defaults.
 */

import {
  KEY_PURPOSE,
  type Keyring,
  keyringFor,
  readIdentity,
  type SiteId,
  siteHostLabel,
  type TenantShortId,
} from "@mini-sites/core";
import { type AuditEntry, AuditLog } from "../audit/index.ts";
import { CloudflareWfPProvider, type HostingProvider } from "../hosting/index.ts";
import { controlKeys } from "../identity.ts";
import type { PublishEnv } from "./config.ts";
import { PublishError } from "./errors.ts";

export const CLOUDFLARE_API_BASE_URL = "https://api.cloudflare.com/client/v4";

export interface PublishDeps {
  /** The provider for this env; default CloudflareWfPProvider from WFP_* and CLOUDFLARE_API_BASE_URL. */
  readonly hosting?: (env: PublishEnv) => HostingProvider;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
}

export function hostingFor(env: PublishEnv, deps: PublishDeps = {}): HostingProvider {
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

const grantKeyrings = new WeakMap<object, Promise<Keyring | undefined>>();

/** The grant keyring of this deployment, or undefined when the identity secret is missing. */
export function grantKeyring(env: PublishEnv): Promise<Keyring | undefined> {
  let loading = grantKeyrings.get(env);
  if (loading === undefined) {
    const state = readIdentity(env);
    loading =
      state.status === "ready" ? keyringFor(state.identity, KEY_PURPOSE.grant) : Promise.resolve(undefined);
    grantKeyrings.set(env, loading);
  }
  return loading;
}

export async function requireGrantKeyring(env: PublishEnv): Promise<Keyring> {
  const keyring = await grantKeyring(env);
  if (keyring === undefined)
    throw new PublishError(
      "NOT_CONFIGURED",
      "The deployment identity secret is missing; see /.well-known/mini-sites.",
    );
  return keyring;
}

/** Appends to the audit chain; fails closed (the action is refused) when the audit key is missing. */
export async function audit(env: PublishEnv, entry: AuditEntry): Promise<void> {
  const keys = await controlKeys(env as never);
  if (!keys.ready)
    throw new PublishError(
      "NOT_CONFIGURED",
      "The deployment identity secret is missing; see /.well-known/mini-sites.",
    );
  await new AuditLog(env.DB, keys.audit).append(entry);
}

/**
 * A site's own origin: `https://s-<site>.<SITES_DOMAIN>`. Locally SITES_DOMAIN is `localhost` and
 * sites are served over http on the gateway's port, which DISPATCH_BASE_URL carries.
 */
export function siteOrigin(env: PublishEnv, site: SiteId): string {
  const domain = env.SITES_DOMAIN;
  if (!domain) throw new PublishError("NOT_CONFIGURED", "SITES_DOMAIN is not set.");
  const base = env.DISPATCH_BASE_URL ? new URL(env.DISPATCH_BASE_URL) : undefined;
  const protocol = base?.protocol ?? "https:";
  const port = base?.port ? `:${base.port}` : "";
  return `${protocol}//${siteHostLabel(site)}.${domain}${port}`;
}

export function target(site: SiteId, version?: number): string {
  return version === undefined ? `site:${site}` : `site:${site}/v${version}`;
}

export type { SiteId, TenantShortId };
