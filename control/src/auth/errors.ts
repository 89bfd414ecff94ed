/**
 * Authentication failures are values with a stable code, an HTTP status and a message written for
 * the caller. Invariant 7 (DESIGN §6): no message ever contains the presented credential, a part of
 * it, or anything decoded from it — messages are fixed strings chosen by code, never built from input
 * or from a library's error text (which may quote claim values).
 *
 * Status rule (DESIGN §8, Forge remote contract): 401 means "we could not authenticate you" and Forge
 * reserves it for FIT failures; "authenticated but not allowed" is 403.
 */

export const AUTH_ERROR_CODES = [
  /** No credential of any accepted kind was presented. */
  "AUTH_MISSING",
  /** More than one credential kind was presented; we refuse to guess which one speaks for the caller. */
  "AUTH_AMBIGUOUS",
  /** A credential of a kind this route does not accept. */
  "AUTH_METHOD_NOT_ACCEPTED",
  /** Not a well-formed token (structure, encoding, JSON, claim types). */
  "AUTH_MALFORMED",
  /** Larger than the cap: refused before any parsing or cryptography. */
  "AUTH_TOO_LARGE",
  /** `alg` is not RS256 (`none`, HS256 with the public key, ES*, PS*, …). */
  "AUTH_ALGORITHM_NOT_ALLOWED",
  /** The signature does not verify with the key the token names. */
  "AUTH_BAD_SIGNATURE",
  /** The token names a key (`kid`) that the key set does not hold, even after a refresh. */
  "AUTH_UNKNOWN_KEY",
  /** `exp` is in the past (beyond the clock tolerance), or the token is older than the age cap. */
  "AUTH_EXPIRED",
  /** `nbf` (or `iat`) is in the future beyond the clock tolerance. */
  "AUTH_NOT_YET_VALID",
  /** `iss` is not Forge's invocation-token issuer. */
  "AUTH_WRONG_ISSUER",
  /** `aud` / `app.id` names an app this deployment does not serve. */
  "AUTH_WRONG_APP",
  /** The key set could not be fetched and no usable cached key exists: deny, never allow. */
  "AUTH_JWKS_UNAVAILABLE",
  /** This deployment is missing configuration the method needs (e.g. ALLOWED_FORGE_APP_IDS unset). */
  "AUTH_NOT_CONFIGURED",
  /** An API token or shared secret that is unknown, revoked, expired or wrong (one code: no oracle). */
  "AUTH_INVALID_TOKEN",
  /** 403: a user-bound route called without a user (a FIT without `principal`, or a non-Forge caller). */
  "NO_PRINCIPAL",
  /** 403: an API token without the scope this route needs. */
  "INSUFFICIENT_SCOPE",
] as const;

export type AuthErrorCode = (typeof AUTH_ERROR_CODES)[number];

export interface AuthFailure {
  readonly code: AuthErrorCode;
  readonly status: 401 | 403;
  readonly message: string;
}

const MESSAGES: Record<AuthErrorCode, string> = {
  AUTH_MISSING:
    "Authentication required: send a Forge Invocation Token or an API token as `Authorization: Bearer …`.",
  AUTH_AMBIGUOUS: "Send exactly one credential: an Authorization header or x-mini-sites-secret, not both.",
  AUTH_METHOD_NOT_ACCEPTED: "This endpoint does not accept that kind of credential.",
  AUTH_MALFORMED: "The credential is malformed.",
  AUTH_TOO_LARGE: "The credential is larger than this service accepts.",
  AUTH_ALGORITHM_NOT_ALLOWED: "The token's signing algorithm is not accepted (RS256 only).",
  AUTH_BAD_SIGNATURE: "The token's signature is invalid.",
  AUTH_UNKNOWN_KEY: "The token is signed with a key this service does not know.",
  AUTH_EXPIRED: "The token has expired.",
  AUTH_NOT_YET_VALID: "The token is not valid yet.",
  AUTH_WRONG_ISSUER: "The token was not issued by Forge.",
  AUTH_WRONG_APP: "The token was issued for an app this service does not serve.",
  AUTH_JWKS_UNAVAILABLE:
    "Forge's signing keys cannot be fetched right now, so the token cannot be verified. Retry shortly.",
  AUTH_NOT_CONFIGURED: "This service is not configured for this kind of credential.",
  AUTH_INVALID_TOKEN: "The credential is invalid, expired or revoked.",
  NO_PRINCIPAL: "This action needs a signed-in Confluence user.",
  INSUFFICIENT_SCOPE: "The API token does not have the scope this action needs.",
};

const FORBIDDEN: ReadonlySet<AuthErrorCode> = new Set(["NO_PRINCIPAL", "INSUFFICIENT_SCOPE"]);

export function authFailure(code: AuthErrorCode): AuthFailure {
  return { code, status: FORBIDDEN.has(code) ? 403 : 401, message: MESSAGES[code] };
}

/** The JSON body every auth failure answers with, the same shape as every other API error. */
export function authErrorBody(failure: AuthFailure): { error: { code: AuthErrorCode; message: string } } {
  return { error: { code: failure.code, message: failure.message } };
}

export type AuthResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly failure: AuthFailure };

export function denied<T>(code: AuthErrorCode): AuthResult<T> {
  return { ok: false, failure: authFailure(code) };
}
