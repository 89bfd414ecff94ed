/**
 * Where the control Worker makes a grant (DESIGN §3 Serve, §6 invariant 4). Every grant URL — a
 * viewer's serve URL (macro/routes.ts), a token holder's view URL and the Workflow's smoke check
 * (publish/) — is minted here, with one key (identity.ts), one TTL rule and one site-origin rule.
 * The dispatch Worker verifies what this mints; the control Worker never verifies a grant itself.
 *
 * Threats: a grant URL pointing at plain http outside a developer's machine (a network attacker would
 * read the grant off the wire) — so http is allowed only for `*.localhost` origins and only when the
 * deployment sets DEV_ALLOW_LOOPBACK_HTTP=true; a misconfigured TTL silently making grants live for
 * days — so a TTL that is not an integer in 1..MAX_GRANT_TTL_SECONDS fails closed instead of falling
 * back to a default.
 */

import {
  DEFAULT_GRANT_TTL_SECONDS,
  MAX_GRANT_TTL_SECONDS,
  mintGrant,
  type SiteId,
  siteHostLabel,
  type TenantShortId,
} from "@mini-sites/core";
import type { ControlEnv } from "./env.ts";
import { controlKeys } from "./identity.ts";

/** The dev stack's flag for plain http to loopback (Confluence stand-in, `*.localhost` sites). */
export function allowsLoopbackHttp(env: ControlEnv): boolean {
  return env.DEV_ALLOW_LOOPBACK_HTTP === "true";
}

/**
 * A site's own origin, `<scheme>://s-<site>.<SITES_DOMAIN>[:port]`, scheme and port taken from
 * DISPATCH_BASE_URL (default https). Undefined when the configuration would give an unsafe or
 * malformed origin.
 */
export function siteOrigin(env: ControlEnv, siteId: SiteId): string | undefined {
  const domain = env.SITES_DOMAIN?.trim().toLowerCase();
  if (domain === undefined || domain === "" || !/^[a-z0-9.-]+$/.test(domain)) return undefined;
  let scheme = "https:";
  let port = "";
  if (env.DISPATCH_BASE_URL !== undefined && env.DISPATCH_BASE_URL !== "") {
    let base: URL;
    try {
      base = new URL(env.DISPATCH_BASE_URL);
    } catch {
      return undefined;
    }
    scheme = base.protocol;
    port = base.port;
  }
  const local = domain === "localhost" || domain.endsWith(".localhost");
  // Plain http only for the dev stack's `s-<id>.localhost` origins (DESIGN §7), never in production.
  if (scheme !== "https:" && !(scheme === "http:" && local && allowsLoopbackHttp(env))) return undefined;
  return `${scheme}//${siteHostLabel(siteId)}.${domain}${port === "" ? "" : `:${port}`}`;
}

/** GRANT_TTL_SECONDS (default DEFAULT_GRANT_TTL_SECONDS); undefined when set to anything out of range. */
export function grantTtlSeconds(env: ControlEnv): number | undefined {
  const raw = env.GRANT_TTL_SECONDS?.trim();
  if (raw === undefined || raw === "") return DEFAULT_GRANT_TTL_SECONDS;
  if (!/^[0-9]{1,6}$/.test(raw)) return undefined;
  const ttl = Number(raw);
  return ttl >= 1 && ttl <= MAX_GRANT_TTL_SECONDS ? ttl : undefined;
}

export interface SiteGrant {
  /** The site's origin the grant is for. */
  readonly origin: string;
  /** The grant itself (a cookie value for the smoke check). */
  readonly text: string;
  /** `<origin>/__ms/enter/<grant>`: opens the site. */
  readonly url: string;
  /** `<origin>/__ms/renew/<grant>`: renews it in place (same version). */
  readonly renewUrl: string;
  readonly version: number;
  readonly expiresAt: string;
}

/** Which part of the configuration kept a grant from being minted (for the operator's log line). */
export type GrantProblem = "identity" | "siteOrigin" | "grantTtl";

export type GrantResult =
  | { readonly ok: true; readonly grant: SiteGrant }
  | { readonly ok: false; readonly problems: readonly GrantProblem[] };

/**
 * A grant for one version of one site of one tenant. The caller has already decided the version is
 * servable (live, or superseded for a renewal / rollback) and that the caller may see it.
 */
export async function mintSiteGrant(
  env: ControlEnv,
  request: {
    readonly tenant: TenantShortId;
    readonly site: SiteId;
    readonly version: number;
    /** Overrides GRANT_TTL_SECONDS (the smoke check's short-lived grant). */
    readonly ttlSeconds?: number;
  },
  nowMs: number,
): Promise<GrantResult> {
  const keys = await controlKeys(env);
  const origin = siteOrigin(env, request.site);
  const ttlSeconds = request.ttlSeconds ?? grantTtlSeconds(env);
  const problems: GrantProblem[] = [];
  if (!keys.ready) problems.push("identity");
  if (origin === undefined) problems.push("siteOrigin");
  if (ttlSeconds === undefined) problems.push("grantTtl");
  if (!keys.ready || origin === undefined || ttlSeconds === undefined) return { ok: false, problems };
  const grant = await mintGrant(
    keys.grant,
    { siteId: request.site, tenantId: request.tenant, version: request.version, ttlSeconds },
    nowMs,
  );
  return {
    ok: true,
    grant: {
      origin,
      text: grant.text,
      url: `${origin}/__ms/enter/${grant.text}`,
      renewUrl: `${origin}/__ms/renew/${grant.text}`,
      version: request.version,
      expiresAt: new Date(grant.claims.expiresAt * 1000).toISOString(),
    },
  };
}
