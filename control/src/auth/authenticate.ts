/**
 * `authenticate(request, env)` turns exactly one presented credential into the verified `Principal`
 * (principal.ts), or a typed 401 failure. It decides nothing about what the principal may do: that is
 * the route policy's job (control/src/policy), which calls this once per request.
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

import {
  type ApiTokenLookup,
  type ApiTokenRefusal,
  looksLikeApiToken,
  verifyApiToken,
} from "./api-tokens.ts";
import { MAX_FIT_BYTES, SHARED_SECRET_HEADER } from "./constants.ts";
import { type AuthErrorCode, type AuthFailure, authFailure } from "./errors.ts";
import { type FitEnv, type FitVerifier, fitVerifierFor } from "./fit.ts";
import type { Principal } from "./principal.ts";
import {
  readSharedSecret,
  type SharedSecretEnv,
  type SharedSecretState,
  verifySharedSecret,
} from "./shared-secret.ts";

export type AuthMethod = "fit" | "apiToken" | "sharedSecret";

export type AuthBindings = FitEnv & SharedSecretEnv;

/** A refused credential, as the denial counter and the audit log see it; never the credential. */
export interface AuthDenial {
  readonly method: AuthMethod | undefined;
  readonly failure: AuthFailure;
  /** For API tokens: why (the caller only ever sees AUTH_INVALID_TOKEN), and which token if known. */
  readonly apiTokenRefusal?: ApiTokenRefusal;
  readonly tokenId?: string;
}

export type AuthOutcome =
  | { readonly ok: true; readonly principal: Principal }
  | ({ readonly ok: false } & AuthDenial);

export interface AuthenticateOptions {
  /** The token store (D1). Without it API tokens are denied with AUTH_NOT_CONFIGURED. */
  readonly apiTokens?: ApiTokenLookup;
  /** Defaults to the verifier for `env` (FORGE_JWKS_URL, ALLOWED_FORGE_APP_IDS). */
  readonly fitVerifier?: FitVerifier;
  /** Defaults to `readSharedSecret(env)`. */
  readonly sharedSecret?: SharedSecretState;
  /** Clock for API token expiry. */
  readonly now?: number;
}

/** `Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1). Anything else: undefined. */
function bearerToken(header: string): string | undefined {
  const match = /^Bearer +([^\s]+) *$/i.exec(header);
  return match?.[1];
}

const fail = (method: AuthMethod | undefined, code: AuthErrorCode): AuthOutcome => ({
  ok: false,
  method,
  failure: authFailure(code),
});

export async function authenticate(
  headers: Headers,
  env: AuthBindings,
  options: AuthenticateOptions = {},
): Promise<AuthOutcome> {
  const authorization = headers.get("authorization");
  const secretHeader = headers.get(SHARED_SECRET_HEADER);
  if (authorization !== null && secretHeader !== null) return fail(undefined, "AUTH_AMBIGUOUS");

  if (secretHeader !== null) {
    const state = options.sharedSecret ?? readSharedSecret(env);
    if (state.status === "weak") logOperatorProblem("CONTROL_SHARED_SECRET_WEAK");
    const result = await verifySharedSecret(state, secretHeader);
    if (!result.ok) return { ok: false, method: "sharedSecret", failure: result.failure };
    return { ok: true, principal: { kind: "sharedSecret" } };
  }

  if (authorization === null) return fail(undefined, "AUTH_MISSING");
  if (authorization.length > MAX_FIT_BYTES + 64) return fail(undefined, "AUTH_TOO_LARGE");
  const token = bearerToken(authorization);
  if (token === undefined) return fail(undefined, "AUTH_MALFORMED");

  if (token.startsWith("ms_")) {
    if (!looksLikeApiToken(token)) return fail("apiToken", "AUTH_MALFORMED");
    if (options.apiTokens === undefined) return fail("apiToken", "AUTH_NOT_CONFIGURED");
    const result = await verifyApiToken(options.apiTokens, token, options.now ?? Date.now());
    if (!result.ok) {
      return {
        ok: false,
        method: "apiToken",
        failure: result.failure,
        apiTokenRefusal: result.reason,
        ...(result.tokenId === undefined ? {} : { tokenId: result.tokenId }),
      };
    }
    return { ok: true, principal: { kind: "apiToken", ...result.value } };
  }

  let verifier = options.fitVerifier;
  if (verifier === undefined) {
    const found = fitVerifierFor(env);
    if ("problem" in found) {
      logOperatorProblem(`FIT_CONFIG_${found.problem.variable}`);
      return fail("fit", "AUTH_NOT_CONFIGURED");
    }
    verifier = found.verifier;
  }
  const result = await verifier.verify(token);
  if (!result.ok) {
    if (result.failure.code === "AUTH_JWKS_UNAVAILABLE") logOperatorProblem("FORGE_JWKS_UNAVAILABLE");
    return { ok: false, method: "fit", failure: result.failure };
  }
  return { ok: true, principal: { kind: "forge", ctx: result.value } };
}

function logOperatorProblem(code: string): void {
  console.error(JSON.stringify({ level: "error", event: "auth.unavailable", code }));
}
