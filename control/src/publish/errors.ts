/**
 * Typed refusals of the publish pipeline and the Sites API write side. Same body shape as the app's
 * errors (`{"error":{"code","message"}}`, app/errors.ts) with codes of their own; a bundle refusal
 * also carries the core's errors and redacted secret findings so the author sees what to fix.
 */

import type { BundleError, SecretFinding } from "@mini-sites/core";

export const PUBLISH_ERRORS = {
  /** The bundle breaks a rule of DESIGN §5 or holds a secret: `errors` and `findings` say where. */
  BUNDLE_REJECTED: 422,
  /** The upload grew past the cap while streaming; nothing of it was kept. */
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INVALID_REQUEST: 400,
  NOT_FOUND: 404,
  /** Too many publishes from this tenant in the window; `Retry-After` says when to come back. */
  RATE_LIMITED: 429,
  /** The tenant holds as many sites as it may. */
  QUOTA_SITES: 403,
  /** Storing this version would take the tenant over its byte quota. */
  QUOTA_BYTES: 403,
  /** The site is disabled by an admin: no new grants. */
  SITE_DISABLED: 409,
  /** The site has no live version yet. */
  NOT_LIVE: 409,
  /** That version never went live (failed, or still provisioning): it cannot be rolled back to. */
  VERSION_NOT_SERVABLE: 409,
  /** Deployment secrets are missing (grants and audit need them); `/.well-known/mini-sites` says which. */
  NOT_CONFIGURED: 503,
  /** R2, D1 or the Cloudflare API failed; nothing half-done was kept. Retry. */
  UNAVAILABLE: 503,
} as const;

export type PublishErrorCode = keyof typeof PUBLISH_ERRORS;

export class PublishError extends Error {
  readonly code: PublishErrorCode;
  readonly extra: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;
  constructor(
    code: PublishErrorCode,
    message: string,
    options: { extra?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "PublishError";
    this.code = code;
    this.extra = options.extra ?? {};
    this.headers = options.headers ?? {};
  }
  get status(): number {
    return PUBLISH_ERRORS[this.code];
  }
}

export function bundleRejected(
  errors: readonly BundleError[],
  findings: readonly SecretFinding[],
): PublishError {
  const first = errors[0];
  const summary =
    first === undefined
      ? "The bundle cannot be published."
      : `${first.code}${first.path ? ` (${first.path})` : ""}: ${first.message}`;
  return new PublishError(
    "BUNDLE_REJECTED",
    errors.length > 1 ? `${summary} (and ${errors.length - 1} more)` : summary,
    { extra: { errors, findings } },
  );
}

export function publishErrorResponse(error: PublishError): Response {
  return new Response(
    JSON.stringify({ error: { code: error.code, message: error.message, ...error.extra } }),
    {
      status: error.status,
      headers: {
        "Content-Type": "application/json; charset=utf-8",
        "Cache-Control": "no-store",
        ...error.headers,
      },
    },
  );
}
