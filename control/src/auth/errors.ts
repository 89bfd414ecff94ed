/**
 * Authentication failures are values with a stable code, an HTTP status and a message written for
 * the caller. Invariant 7 (DESIGN §6): no message ever contains the presented credential, a part of
 * it, or anything decoded from it — messages are fixed strings chosen by code, never built from input
 * or from a library's error text (which may quote claim values).
 *
 * Every code here is a 401 (the one table, app/errors.ts): "authenticated but not allowed" is the
 * policy's to say (control/src/policy), with a 403.
 */

import { type ApiErrorCode, statusOf } from "../app/errors.ts";

/** The codes authentication answers with; their statuses are in the one table (app/errors.ts). */
export const AUTH_ERROR_CODES = [
  "AUTH_MISSING",
  "AUTH_AMBIGUOUS",
  "AUTH_MALFORMED",
  "AUTH_TOO_LARGE",
  "AUTH_ALGORITHM_NOT_ALLOWED",
  "AUTH_BAD_SIGNATURE",
  "AUTH_UNKNOWN_KEY",
  "AUTH_EXPIRED",
  "AUTH_NOT_YET_VALID",
  "AUTH_WRONG_ISSUER",
  "AUTH_WRONG_APP",
  "AUTH_JWKS_UNAVAILABLE",
  "AUTH_NOT_CONFIGURED",
  "AUTH_INVALID_TOKEN",
] as const satisfies readonly ApiErrorCode[];

export type AuthErrorCode = (typeof AUTH_ERROR_CODES)[number];

export interface AuthFailure {
  readonly code: AuthErrorCode;
  readonly status: 401;
  readonly message: string;
}

const MESSAGES: Record<AuthErrorCode, string> = {
  AUTH_MISSING:
    "Authentication required: send a Forge Invocation Token or an API token as `Authorization: Bearer …`.",
  AUTH_AMBIGUOUS: "Send exactly one credential: an Authorization header or x-mini-sites-secret, not both.",
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
};

export function authFailure(code: AuthErrorCode): AuthFailure {
  return { code, status: statusOf(code) as 401, message: MESSAGES[code] };
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
