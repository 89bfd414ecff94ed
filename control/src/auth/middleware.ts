/**
 * Hono middleware: `authenticate({ allow })` turns exactly one presented credential into a typed
 * `Principal` on the context, or answers 401 `{"error":{"code","message"}}`. `requireForgeUser()` and
 * `requireScope()` answer 403 for callers who are authenticated but not allowed (DESIGN §8: Forge
 * reserves 401 for FIT failures).
 *
 * Which method a request uses is decided by what it presents, never by a parameter:
 *   `x-mini-sites-secret: …`        → shared secret
 *   `Authorization: Bearer ms_…`     → API token
 *   `Authorization: Bearer <JWS>`    → Forge Invocation Token
 * Presenting both headers is refused (AUTH_AMBIGUOUS) rather than resolved by a precedence rule an
 * attacker could learn to exploit. The tenant of a principal comes from the credential alone.
 *
 * Invariant 7: nothing here logs a credential. The only log line is for operators (the key set is
 * down, or the deployment is misconfigured) and carries a code, never request data.
 */

import type { Context, Env, MiddlewareHandler } from "hono";
import {
  type ApiTokenLookup,
  type ApiTokenRefusal,
  type ApiTokenScope,
  looksLikeApiToken,
  verifyApiToken,
} from "./api-tokens.ts";
import { MAX_FIT_BYTES, SHARED_SECRET_HEADER } from "./constants.ts";
import { type AuthErrorCode, type AuthFailure, authErrorBody, authFailure } from "./errors.ts";
import {
  type FitEnv,
  type FitVerifier,
  type ForgeContext,
  type ForgeTenantKey,
  fitVerifierFor,
} from "./fit.ts";
import {
  readSharedSecret,
  type SharedSecretEnv,
  type SharedSecretState,
  verifySharedSecret,
} from "./shared-secret.ts";

export type AuthMethod = "fit" | "apiToken" | "sharedSecret";

export type Principal =
  | { readonly kind: "forge"; readonly tenantKey: ForgeTenantKey; readonly ctx: ForgeContext }
  | {
      readonly kind: "apiToken";
      readonly tenantId: string;
      readonly tokenId: string;
      readonly scopes: readonly ApiTokenScope[];
    }
  | { readonly kind: "sharedSecret" };

/** Add to the app's `Variables` so `c.get("principal")` is typed (the brief's contract; routes use it). */
export interface AuthVariables {
  principal: Principal;
}

export type AuthBindings = FitEnv & SharedSecretEnv;

type AuthContext = Context<{ Variables: AuthVariables }>;

/** What the audit log needs to record a denied request; never the credential. */
export interface DeniedAttempt {
  readonly method: AuthMethod | undefined;
  readonly failure: AuthFailure;
  /** For API tokens: why (the caller only ever sees AUTH_INVALID_TOKEN), and which token if known. */
  readonly apiTokenRefusal?: ApiTokenRefusal;
  readonly tokenId?: string;
}

export interface AuthenticateOptions<E extends Env> {
  readonly allow: readonly AuthMethod[];
  /** The token store (D1). Required when `allow` has "apiToken"; without it API tokens are denied. */
  readonly apiTokens?: (c: Context<E>) => ApiTokenLookup;
  /** Defaults to the verifier for `c.env` (FORGE_JWKS_URL, ALLOWED_FORGE_APP_IDS). */
  readonly fitVerifier?: (c: Context<E>) => FitVerifier;
  /** Defaults to `readSharedSecret(c.env)`. */
  readonly sharedSecret?: (c: Context<E>) => SharedSecretState;
  /** Called for every denied request (the audit log hooks in here). Errors it throws are ignored. */
  readonly onDenied?: (c: Context<E>, attempt: DeniedAttempt) => void | Promise<void>;
  /**
   * Runs after a successful authentication with the verified principal (e.g. resolve the tenant row
   * from it). Returning a Response answers with it instead of continuing.
   */
  readonly onAuthenticated?: (
    c: Context<E>,
    principal: Principal,
  ) => Response | undefined | Promise<Response | undefined>;
  /** Clock for API token expiry. */
  readonly now?: () => number;
}

/** `Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1). Anything else: undefined. */
function bearerToken(header: string): string | undefined {
  const match = /^Bearer +([^\s]+) *$/i.exec(header);
  return match?.[1];
}

export function authenticate<E extends Env = Env>(options: AuthenticateOptions<E>): MiddlewareHandler<E> {
  if (options.allow.length === 0) throw new RangeError("authenticate() needs at least one method");
  const allow = new Set<AuthMethod>(options.allow);

  return async (c, next) => {
    const deny = async (attempt: DeniedAttempt) => {
      if (options.onDenied !== undefined) {
        try {
          await options.onDenied(c, attempt);
        } catch {
          // The audit hook failing must not turn a denial into a 500 or an allow.
        }
      }
      c.header("WWW-Authenticate", 'Bearer realm="mini-sites"');
      return c.json(authErrorBody(attempt.failure), attempt.failure.status);
    };
    const fail = (method: AuthMethod | undefined, code: AuthErrorCode) =>
      deny({ method, failure: authFailure(code) });
    const accept = async (principal: Principal) => {
      (c as unknown as AuthContext).set("principal", principal);
      const answer = await options.onAuthenticated?.(c, principal);
      if (answer !== undefined) return answer;
      await next();
    };

    const authorization = c.req.header("authorization");
    const secretHeader = c.req.header(SHARED_SECRET_HEADER);
    if (authorization !== undefined && secretHeader !== undefined) return fail(undefined, "AUTH_AMBIGUOUS");

    if (secretHeader !== undefined) {
      if (!allow.has("sharedSecret")) return fail("sharedSecret", "AUTH_METHOD_NOT_ACCEPTED");
      const state = options.sharedSecret?.(c) ?? readSharedSecret(c.env as SharedSecretEnv);
      if (state.status === "weak") logOperatorProblem("CONTROL_SHARED_SECRET_WEAK");
      const result = await verifySharedSecret(state, secretHeader);
      if (!result.ok) return deny({ method: "sharedSecret", failure: result.failure });
      return accept({ kind: "sharedSecret" });
    }

    if (authorization === undefined) return fail(undefined, "AUTH_MISSING");
    if (authorization.length > MAX_FIT_BYTES + 64) return fail(undefined, "AUTH_TOO_LARGE");
    const token = bearerToken(authorization);
    if (token === undefined) return fail(undefined, "AUTH_MALFORMED");

    if (token.startsWith("ms_")) {
      if (!allow.has("apiToken")) return fail("apiToken", "AUTH_METHOD_NOT_ACCEPTED");
      if (!looksLikeApiToken(token)) return fail("apiToken", "AUTH_MALFORMED");
      const lookup = options.apiTokens?.(c);
      if (lookup === undefined) return fail("apiToken", "AUTH_NOT_CONFIGURED");
      const result = await verifyApiToken(lookup, token, options.now?.() ?? Date.now());
      if (!result.ok) {
        return deny({
          method: "apiToken",
          failure: result.failure,
          apiTokenRefusal: result.reason,
          ...(result.tokenId === undefined ? {} : { tokenId: result.tokenId }),
        });
      }
      return accept({ kind: "apiToken", ...result.value });
    }

    if (!allow.has("fit")) return fail("fit", "AUTH_METHOD_NOT_ACCEPTED");
    let verifier: FitVerifier;
    if (options.fitVerifier !== undefined) {
      verifier = options.fitVerifier(c);
    } else {
      const found = fitVerifierFor(c.env as FitEnv);
      if ("problem" in found) {
        logOperatorProblem(`FIT_CONFIG_${found.problem.variable}`);
        return fail("fit", "AUTH_NOT_CONFIGURED");
      }
      verifier = found.verifier;
    }
    const result = await verifier.verify(token);
    if (!result.ok) {
      if (result.failure.code === "AUTH_JWKS_UNAVAILABLE") logOperatorProblem("FORGE_JWKS_UNAVAILABLE");
      return deny({ method: "fit", failure: result.failure });
    }
    return accept({ kind: "forge", tenantKey: result.value.tenantKey, ctx: result.value });
  };
}

function logOperatorProblem(code: string): void {
  console.error(JSON.stringify({ level: "error", event: "auth.unavailable", code }));
}

/** The principal `authenticate` set; throws if the route forgot to authenticate (a bug, not a 401). */
export function principalOf<E extends Env>(c: Context<E>): Principal {
  const principal = (c as unknown as AuthContext).get("principal") as Principal | undefined;
  if (principal === undefined) throw new Error("route reached without authenticate()");
  return principal;
}

function forbid<E extends Env>(c: Context<E>, code: AuthErrorCode) {
  const failure = authFailure(code);
  return c.json(authErrorBody(failure), failure.status);
}

/**
 * A route bound to a Confluence user: the caller must be a FIT with a `principal` (a UI call through
 * Forge Remote). Anything else authenticated ⇒ 403 NO_PRINCIPAL.
 */
export function requireForgeUser<E extends Env = Env>(): MiddlewareHandler<E> {
  return async (c, next) => {
    const principal = principalOf(c);
    if (principal.kind !== "forge" || principal.ctx.accountId === undefined) return forbid(c, "NO_PRINCIPAL");
    return next();
  };
}

/** An API token must carry `scope`; Forge callers and the shared secret pass (their routes decide). */
export function requireScope<E extends Env = Env>(scope: ApiTokenScope): MiddlewareHandler<E> {
  return async (c, next) => {
    const principal = principalOf(c);
    if (principal.kind === "apiToken" && !principal.scopes.includes(scope))
      return forbid(c, "INSUFFICIENT_SCOPE");
    return next();
  };
}
