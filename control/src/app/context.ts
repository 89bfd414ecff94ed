/**
 * What a request carries through the app, and the seam where authentication plugs in.
 *
 * Authentication (control/src/auth/: Forge Invocation Tokens, API tokens, the CI shared secret) is an
 * `Authenticate` middleware handed to `createApp`. It verifies the credential and sets the verified
 * `principal` (auth's type); app/caller.ts then resolves it to a `Caller` — the tenant row, an actor
 * id for audit, the scopes — and sets `caller`. Routes never read credentials or the principal: they
 * call `requireCaller(c)`, which answers 401 UNAUTHENTICATED when nobody was authenticated — so until
 * auth is wired every /v1 route fails closed.
 *
 * The tenant comes only from the credential (a verified FIT's app id + cloudId + installation id, or
 * the tenant an API token was issued in), never from a request parameter (DESIGN §6.3).
 */

import type { TenantShortId } from "@mini-sites/core";
import type { Context, MiddlewareHandler } from "hono";
import type { Principal as AuthPrincipal } from "../auth/middleware.ts";
import type { ControlEnv } from "../env.ts";
import { ApiError } from "./errors.ts";

export const PRINCIPAL_KINDS = ["forge", "api-token", "shared-secret"] as const;
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];

/** What a caller may do; the same strings as API token scopes (auth/api-tokens.ts API_TOKEN_SCOPES). */
export const SCOPES = ["sites:read", "sites:write", "tokens:manage"] as const;
export type Scope = (typeof SCOPES)[number];

/** A verified credential resolved to its tenant: what every tenant-scoped route works with. */
export interface Caller {
  readonly kind: PrincipalKind;
  /** The tenant every query of this request is scoped to. */
  readonly tenantId: TenantShortId;
  /**
   * Who, for audit rows and `published_by`: `forge:<atlassianAccountId>`, `api-token:<tokenId>` or
   * `ci`. An identifier, never a credential.
   */
  readonly actor: string;
  readonly scopes: readonly Scope[];
}

export interface AppVariables {
  /** The verified credential, as control/src/auth/ sets it. */
  principal: AuthPrincipal | undefined;
  /** The principal resolved to a tenant (app/caller.ts); unset for credentials without a tenant. */
  caller: Caller | undefined;
  /** Random per request; returned with INTERNAL errors and written to the log line. */
  requestId: string;
}

export interface AppEnv {
  Bindings: ControlEnv;
  Variables: AppVariables;
}

export type AppContext = Context<AppEnv>;

/** The authentication slot of createApp. */
export type Authenticate = MiddlewareHandler<AppEnv>;

/** Until control/src/auth/ is wired in: authenticates nobody, so every /v1 route answers 401. */
export const authenticateNobody: Authenticate = async (_c, next) => {
  await next();
};

export function requireCaller(c: AppContext): Caller {
  const caller = c.get("caller");
  if (caller !== undefined) return caller;
  if (c.get("principal") !== undefined)
    throw new ApiError(
      "FORBIDDEN",
      "This credential is not scoped to a tenant; use an API token or the Forge app.",
    );
  throw new ApiError("UNAUTHENTICATED", "Authentication required.");
}

export function requireScope(caller: Caller, scope: Scope): void {
  if (!caller.scopes.includes(scope))
    throw new ApiError("FORBIDDEN", `This credential lacks the ${scope} scope.`);
}
