/**
 * Every answer that is not a success is `{"error":{"code","message"}}` with a stable code (STYLE:
 * errors are values; the same code reaches the CLI, the Forge UI and the audit log) — including
 * unknown routes, malformed JSON, over-size bodies and bugs. A bug answers 500 INTERNAL with a
 * request id to quote; its message and stack stay in the Worker's log (DESIGN §6.10: never a stack
 * trace in a response, never a secret in an error).
 */

import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";

export const API_ERRORS = {
  /** The request does not match the route's schema; the message names the field. */
  INVALID_REQUEST: 400,
  /** No valid credentials (FIT, API token or shared secret). */
  UNAUTHENTICATED: 401,
  /** Authenticated, but this principal may not do this. */
  FORBIDDEN: 403,
  /** No such route, or no such resource in the caller's tenant (also for other tenants' resources). */
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  /** The body is larger than the route's cap (app/limits.ts). */
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** A deployment secret is missing or invalid; `/.well-known/mini-sites` says which. */
  NOT_CONFIGURED: 503,
  /** A dependency (D1, R2, Cloudflare API) is failing; retry later. */
  UNAVAILABLE: 503,
  /** A bug. The response carries a request id; the log has the rest. */
  INTERNAL: 500,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ApiErrorCode = keyof typeof API_ERRORS;

export interface ApiIssue {
  /** Where in the request: `query.limit`, `param.site`, `json.message`. */
  readonly path: string;
  readonly message: string;
}

export interface ApiErrorBody {
  readonly error: {
    readonly code: ApiErrorCode;
    readonly message: string;
    readonly issues?: readonly ApiIssue[];
    readonly requestId?: string;
  };
}

/** A zod failure as the caller's field paths: `query.limit: Too big…`. */
export function zodIssues(target: string, error: ZodError): ApiIssue[] {
  return error.issues.map((issue) => ({
    path: [target, ...issue.path.map(String)].join("."),
    message: issue.message,
  }));
}

/** Throw from a handler to answer with a typed error. The message is shown to the caller: no secrets. */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly issues: readonly ApiIssue[] | undefined;
  constructor(code: ApiErrorCode, message: string, issues?: readonly ApiIssue[]) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.issues = issues;
  }
  get status(): ContentfulStatusCode {
    return API_ERRORS[this.code];
  }
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
  const body: ApiErrorBody = {
    error: {
      code: error.code,
      message: error.message,
      ...(error.issues === undefined ? {} : { issues: error.issues }),
      ...(requestId === undefined ? {} : { requestId }),
    },
  };
  return new Response(JSON.stringify(body), { status: error.status, headers: ERROR_HEADERS });
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
    if (error.status === 415) return new ApiError("UNSUPPORTED_MEDIA_TYPE", "Unsupported content type.");
    if (error.status === 401) return new ApiError("UNAUTHENTICATED", "Authentication required.");
    if (error.status === 403) return new ApiError("FORBIDDEN", "Not allowed.");
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
