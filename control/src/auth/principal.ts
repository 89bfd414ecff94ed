/**
 * Who a verified credential speaks for — the ONE principal type of the control Worker — and the ONE
 * list of scopes. Authentication (this folder) produces a Principal from exactly one presented
 * credential; authorization (control/src/policy) decides, per route, what that principal may do.
 */

import type { ForgeContext } from "./fit.ts";

/**
 * What an API token may be issued for. The Forge admin page (a Confluence admin, policy/kinds.ts)
 * holds every scope; a Forge macro or a Forge function holds none (they reach only their own routes).
 *
 * - `sites:read`     list and read sites and versions, preview them (view URLs), download bundles
 * - `sites:write`    publish, roll back, disable/enable, delete
 * - `tokens:manage`  issue, list and revoke API tokens (never wider than the issuer's own scopes)
 * - `tenant:admin`   the tenant's audit log and its verification, its settings (CSP allow-lists), its usage
 */
export const SCOPES = ["sites:read", "sites:write", "tokens:manage", "tenant:admin"] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: unknown): value is Scope {
  return typeof value === "string" && (SCOPES as readonly string[]).includes(value);
}

export type Principal =
  /** A Forge Invocation Token: a Custom UI (with a user) or a Forge function (without). */
  | { readonly kind: "forge"; readonly ctx: ForgeContext }
  /** An API token (`ms_…`): one tenant, its scopes. */
  | {
      readonly kind: "apiToken";
      readonly tenantId: string;
      readonly tokenId: string;
      readonly scopes: readonly Scope[];
    }
  /** The deployment's CI secret: no tenant at all. */
  | { readonly kind: "sharedSecret" };
