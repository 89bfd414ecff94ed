/**
 * Every answer that is not a success is `{"error":{"code","message", …}}` with a stable code (STYLE:
 * errors are values; the same code reaches the CLI, the Forge UI and the audit log). This file is the
 * ONE table of codes and their HTTP statuses for the whole control Worker — authentication,
 * authorization, the publish pipeline and the Macro API all throw `ApiError` with a code from here, so
 * a code never means two statuses. A bug answers 500 INTERNAL with a request id to quote; its message
 * and stack stay in the Worker's log (DESIGN §6.10: never a stack trace in a response, never a secret
 * in an error).
 *
 * Status rule (DESIGN §8, the Forge remote contract): 401 means "we could not authenticate you", and
 * Forge reserves it for FIT failures; "authenticated but not allowed" is always 403.
 */

import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";

export const API_ERRORS = {
  // --- 400: the request itself is wrong ---------------------------------------------------------
  /** The request does not match the route's schema; the message names the field. */
  INVALID_REQUEST: 400,
  /** A Forge call whose FIT has no macro context (content, local id): not called from a macro. */
  INVALID_CONTEXT: 400,
  /**
   * A Forge call that needs the app's own Atlassian API token (`x-forge-oauth-system`) came without
   * it: the endpoint in manifest.yml lacks `auth.appSystemToken`.
   */
  SYSTEM_TOKEN_MISSING: 400,

  // --- 401: no credential we could verify (control/src/auth) ------------------------------------
  /** No credential of any accepted kind was presented. */
  AUTH_MISSING: 401,
  /** More than one credential kind was presented; we refuse to guess which one speaks for the caller. */
  AUTH_AMBIGUOUS: 401,
  /** Not a well-formed token (structure, encoding, JSON, claim types). */
  AUTH_MALFORMED: 401,
  /** Larger than the cap: refused before any parsing or cryptography. */
  AUTH_TOO_LARGE: 401,
  /** `alg` is not RS256 (`none`, HS256 with the public key, ES*, PS*, …). */
  AUTH_ALGORITHM_NOT_ALLOWED: 401,
  /** The signature does not verify with the key the token names. */
  AUTH_BAD_SIGNATURE: 401,
  /** The token names a key (`kid`) that the key set does not hold, even after a refresh. */
  AUTH_UNKNOWN_KEY: 401,
  /** `exp` is in the past (beyond the clock tolerance), or the token is older than the age cap. */
  AUTH_EXPIRED: 401,
  /** `nbf` (or `iat`) is in the future beyond the clock tolerance. */
  AUTH_NOT_YET_VALID: 401,
  /** `iss` is not Forge's invocation-token issuer. */
  AUTH_WRONG_ISSUER: 401,
  /** `aud` / `app.id` names an app this deployment does not serve. */
  AUTH_WRONG_APP: 401,
  /** The key set could not be fetched and no usable cached key exists: deny, never allow. */
  AUTH_JWKS_UNAVAILABLE: 401,
  /** This deployment is missing configuration the credential kind needs (e.g. ALLOWED_FORGE_APP_IDS). */
  AUTH_NOT_CONFIGURED: 401,
  /**
   * An API token or shared secret that is unknown, revoked, expired, wrong — or of a tenant being
   * purged (its tokens stop working at once). One code for all: no oracle.
   */
  AUTH_INVALID_TOKEN: 401,

  // --- 403: authenticated, not allowed (control/src/policy) -------------------------------------
  /** This kind of caller (API token, a FIT from this Forge module, the CI secret…) may not call this route. */
  PRINCIPAL_NOT_ALLOWED: 403,
  /** A user-bound route called without a user (a FIT without `principal`). */
  NO_PRINCIPAL: 403,
  /** An API token without the scope this route needs. */
  INSUFFICIENT_SCOPE: 403,
  /** Confluence says this user may not read (view) / update (edit) this page, or is not an admin. */
  NO_ACCESS: 403,
  /** The tenant is being erased (the app was uninstalled): nothing but the purge itself is answered. */
  TENANT_PURGING: 403,
  /**
   * The FIT names another installation of this app on this Confluence site than the one the tenant
   * belongs to (a reinstall whose `installed` event has not been processed): nothing is shared.
   */
  INSTALLATION_MISMATCH: 403,
  /** The tenant holds as many sites as it may. */
  QUOTA_SITES: 403,
  /** Storing this version would take the tenant over its byte quota. */
  QUOTA_BYTES: 403,
  /** The tenant has accepted as many secret-scan findings as it may (withdraw some first). */
  QUOTA_ACCEPTED_FINDINGS: 403,
  /** The tenant has as many monitors as it may (remove some first). */
  QUOTA_MONITORS: 403,
  /** An editor upload whose ticket ran out; start again. */
  UPLOAD_TICKET_EXPIRED: 403,
  /**
   * The app's Marketplace license is not active (production only): sites are not shown and nothing is
   * published until it is renewed. Nothing is deleted.
   */
  LICENSE_INACTIVE: 403,

  // --- 404 / 405 ----------------------------------------------------------------------------------
  /** No such route, or no such resource in the caller's tenant (also for other tenants' resources). */
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,

  // --- 409: the resource's state forbids it -----------------------------------------------------
  /** The admin kill switch is on for this site: no new grants. */
  SITE_DISABLED: 409,
  /** The site has no live version yet. */
  NOT_LIVE: 409,
  /** That version never went live (failed, or still provisioning): it cannot be rolled back to. */
  VERSION_NOT_SERVABLE: 409,
  /**
   * The version passed the secret scan only because of an accepted finding a tenant admin has since
   * withdrawn (`detail.withdrawn` lists rule and file hash): it cannot be rolled back to.
   */
  ACCEPTANCE_WITHDRAWN: 409,
  /** Not every chunk of an editor upload has arrived. */
  UPLOAD_INCOMPLETE: 409,
  /** The page holding the macro is in Confluence's trash (or deleted): no grants until it is restored. */
  PAGE_TRASHED: 409,
  /** The tenant already has a site of the name the caller chose (names are unique per tenant, ignoring case). */
  NAME_TAKEN: 409,
  /**
   * A publish's `manifest` names files that were neither sent nor are in the site's archive (deleted
   * meanwhile, or never published there): `detail.missing` lists them; send them and publish again.
   */
  FILES_MISSING: 409,

  // --- 413 / 415 / 422 / 429 ----------------------------------------------------------------------
  /** The body is larger than the route's cap (policy table), counted while it streams. */
  BODY_TOO_LARGE: 413,
  /** A declared bundle size over the deployment's bundle cap. */
  BUNDLE_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** The bundle breaks a rule of DESIGN §5 or holds a secret: `errors` and `findings` say where. */
  BUNDLE_REJECTED: 422,
  /**
   * A monitor URL (or a web trigger URL) the SSRF guard refuses: not https, or loopback, private,
   * link-local, metadata or reserved in any spelling (core/src/monitors/target.ts); `reason` says which.
   */
  MONITOR_TARGET_FORBIDDEN: 422,
  /** Too many publishes from this tenant in the window; `Retry-After` says when to come back. */
  RATE_LIMITED: 429,

  // --- 5xx ------------------------------------------------------------------------------------------
  /** A bug. The response carries a request id; the log has the rest. */
  INTERNAL: 500,
  /** A deployment secret or variable is missing; `/.well-known/mini-sites` says which. */
  NOT_CONFIGURED: 503,
  /** A dependency (D1, R2, the Cloudflare API) is failing; nothing half-done was kept. Retry. */
  UNAVAILABLE: 503,
  /**
   * A tenant's allow-lists were recorded but the gateway's copy (Workers KV) could not be written:
   * sites still get the previous lists. Saving again retries; a reconcile pass also repairs the copy.
   */
  SETTINGS_NOT_APPLIED: 503,
  /** Confluence did not answer the permission check: denied; retry shortly. */
  PERMISSION_CHECK_UNAVAILABLE: 503,
  /**
   * Atlassian's API (personal data reporting) failed or refused the app's token; the progress made is
   * kept and the next run continues from there.
   */
  ATLASSIAN_UNAVAILABLE: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ApiErrorCode = keyof typeof API_ERRORS;

export const API_ERROR_CODES = Object.keys(API_ERRORS) as ApiErrorCode[];

export function statusOf(code: ApiErrorCode): ContentfulStatusCode {
  return API_ERRORS[code];
}

export interface ApiIssue {
  /** Where in the request: `query.limit`, `param.site`, `json.message`. */
  readonly path: string;
  readonly message: string;
}

export interface ApiErrorOptions {
  readonly issues?: readonly ApiIssue[];
  /** Extra top-level fields of the error object (a bundle refusal's `errors` and `findings`, `detail`). */
  readonly extra?: Readonly<Record<string, unknown>>;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Throw from anywhere to answer with a typed error. The message is shown to the caller: no secrets. */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly issues: readonly ApiIssue[] | undefined;
  readonly extra: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;
  constructor(code: ApiErrorCode, message: string, options: ApiErrorOptions | readonly ApiIssue[] = {}) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    const opts: ApiErrorOptions = Array.isArray(options)
      ? { issues: options as readonly ApiIssue[] }
      : (options as ApiErrorOptions);
    this.issues = opts.issues;
    this.extra = opts.extra ?? {};
    this.headers = opts.headers ?? {};
  }
  get status(): ContentfulStatusCode {
    return API_ERRORS[this.code];
  }
}

/** A zod failure as the caller's field paths: `query.limit: Too big…`. */
export function zodIssues(target: string, error: ZodError): ApiIssue[] {
  return error.issues.map((issue) => ({
    path: [target, ...issue.path.map(String)].join("."),
    message: issue.message,
  }));
}

/** INVALID_REQUEST naming the first field that failed, with every issue listed. */
export function invalidRequest(target: string, error: ZodError): ApiError {
  const issues = zodIssues(target, error);
  const first = issues[0];
  return new ApiError(
    "INVALID_REQUEST",
    first === undefined ? "The request is not valid." : `${first.path}: ${first.message}`,
    { issues },
  );
}

/** Thrown (by the body cap) when a request body grows past its cap while being read. */
export class BodyTooLarge extends Error {
  readonly limit: number;
  constructor(limit: number) {
    super(`The request body is larger than this endpoint accepts (${limit} bytes).`);
    this.name = "BodyTooLarge";
    this.limit = limit;
  }
}

export const ERROR_HEADERS = {
  "Content-Type": "application/json; charset=utf-8",
  "Cache-Control": "no-store",
} as const;

export function errorResponse(error: ApiError, requestId?: string): Response {
  const body = {
    error: {
      code: error.code,
      message: error.message,
      ...(error.issues === undefined ? {} : { issues: error.issues }),
      ...error.extra,
      ...(requestId === undefined ? {} : { requestId }),
    },
  };
  return new Response(JSON.stringify(body), {
    status: error.status,
    headers: { ...ERROR_HEADERS, ...error.headers },
  });
}

/** Maps anything thrown to a typed error; unknown errors become INTERNAL without their message. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof BodyTooLarge) return new ApiError("BODY_TOO_LARGE", error.message);
  if (error instanceof HTTPException) {
    // Hono's own refusals: the JSON validator's "Malformed JSON in request body" and the like.
    if (error.status === 400)
      return new ApiError("INVALID_REQUEST", "The request body is not valid JSON.", [
        { path: "json", message: "Malformed JSON" },
      ]);
    if (error.status === 413) return new ApiError("BODY_TOO_LARGE", "The request body is too large.");
    if (error.status === 415)
      return new ApiError("UNSUPPORTED_MEDIA_TYPE", "This endpoint does not accept that content type.");
    if (error.status === 404) return new ApiError("NOT_FOUND", "Not found.");
  }
  return new ApiError(
    "INTERNAL",
    "Something went wrong on our side. Quote the request id when reporting it.",
  );
}

/** Hono onError: typed JSON, never a stack; unknown errors are logged by name and message only. */
export function handleError(error: Error, c: Context): Response {
  const apiError = toApiError(error);
  const requestId = (c.get("requestId" as never) as string | undefined) ?? undefined;
  if (apiError.code === "INTERNAL") {
    console.error(
      JSON.stringify({
        event: "unhandled_error",
        requestId,
        name: error.name,
        message: String(error.message).slice(0, 300),
      }),
    );
  }
  return errorResponse(apiError, apiError.code === "INTERNAL" ? requestId : undefined);
}

export function handleNotFound(): Response {
  return errorResponse(new ApiError("NOT_FOUND", "No such endpoint. See /v1/openapi.json for the API."));
}
