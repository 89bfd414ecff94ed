/**
 * Resolves auth's verified principal to a tenant-scoped Caller (app/context.ts). Pass `resolveCaller`
 * as `onAuthenticated` to auth's `authenticate()`:
 *
 *   createApp({ authenticate: authenticate({ allow: [...], apiTokens: (c) => new D1ApiTokenStore(c.env.DB),
 *                                            onAuthenticated: resolveCaller }) })
 *
 * - API token → the tenant it was issued in, its scopes, actor `api-token:<id>`.
 * - Forge Invocation Token → the tenant of (app id, cloudId), created on first sight; actor
 *   `forge:<accountId>` (or `forge-app:<appId>` for a Forge function's call without a user). Forge
 *   callers get `sites:read` here; writes through Forge are authorized per page by Confluence.
 * - Shared secret → no tenant (it is deployment-wide, for CI): tenant-scoped routes answer 403.
 */

import { parseTenantShortId } from "@mini-sites/core";
import type { Context } from "hono";
import type { Principal as AuthPrincipal } from "../auth/middleware.ts";
import type { D1Database } from "../db/d1.ts";
import { ensureTenant } from "../db/tenants.ts";
import type { AppEnv, Caller, Scope } from "./context.ts";
import { SCOPES } from "./context.ts";

export async function callerFor(db: D1Database, principal: AuthPrincipal): Promise<Caller | undefined> {
  switch (principal.kind) {
    case "apiToken": {
      const tenantId = parseTenantShortId(principal.tenantId);
      if (tenantId === undefined) return undefined;
      const scopes = principal.scopes.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s));
      return { kind: "api-token", tenantId, actor: `api-token:${principal.tokenId}`, scopes };
    }
    case "forge": {
      const { ctx } = principal;
      const tenant = await ensureTenant(db, {
        forgeAppId: ctx.appId,
        cloudId: ctx.cloudId,
        installationId: ctx.installationId,
      });
      const actor = ctx.accountId === undefined ? `forge-app:${ctx.appId}` : `forge:${ctx.accountId}`;
      return { kind: "forge", tenantId: tenant.id, actor, scopes: ["sites:read"] };
    }
    case "sharedSecret":
      return undefined;
  }
}

/** auth's `onAuthenticated` hook: sets `caller` for the routes. */
export async function resolveCaller(c: Context<AppEnv>, principal: AuthPrincipal): Promise<undefined> {
  c.set("caller", await callerFor(c.env.DB, principal));
  return undefined;
}
