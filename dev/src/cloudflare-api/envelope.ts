/**
 * Cloudflare's v4 response envelope and the error codes the stand-in answers with.
 *
 * Every answer is `{ success, errors: [{ code, message }], messages, result }`. Where a code is one
 * Cloudflare or wrangler is known to use, its source is named; the rest are our choice and say so.
 */

import type { ServerResponse } from "node:http";

export const ErrorCode = {
  /** `Missing X-Auth-Key, X-Auth-Email or Authorization headers`, HTTP 400 (cloudflare-python#2678). */
  MISSING_AUTH: 9106,
  /** `Invalid request headers` with an `error_chain`, HTTP 400 (seen in acme.sh#6435). */
  INVALID_HEADERS: 6003,
  /** Chained under 6003: `Invalid format for Authorization header`. */
  INVALID_AUTHORIZATION_FORMAT: 6111,
  /** `Authentication error`: a token that is well-formed but not valid here. */
  AUTHENTICATION: 10000,
  /** Worker not found at account level (wrangler deploy-helpers `worker-not-found-error.ts`). */
  WORKER_NOT_FOUND: 10007,
  /**
   * Worker not found in a dispatch namespace: wrangler's pre-upload check of a `--dispatch-namespace`
   * deploy treats exactly this code as "does not exist yet" and fails on any other
   * (deploy-helpers `validate-worker-props.ts`), so a namespace lookup must answer it.
   */
  NAMESPACE_WORKER_NOT_FOUND: 10092,
  /** Validation of a script upload failed; wrangler's deploy branches on this code (`deploy.ts`). */
  VALIDATION: 10021,
  /** `No route for that URI`. */
  NO_ROUTE: 7000,
  /** `Method not allowed for this endpoint` (our choice of code). */
  METHOD_NOT_ALLOWED: 7001,
  /** `Could not route to …, perhaps your object identifier is invalid?` (unknown account or namespace). */
  UNKNOWN_OBJECT: 7003,
  /** Rate limited: `Please wait and consider throttling your request speed`. */
  RATE_LIMITED: 971,
  /** An unexpected failure on the API side (our choice of code for 5xx faults and internal errors). */
  INTERNAL: 10013,
} as const;

export interface ApiErrorItem {
  readonly code: number;
  readonly message: string;
  readonly error_chain?: readonly { readonly code: number; readonly message: string }[];
}

/** A failure that becomes an error envelope; never carries a stack trace or a secret. */
export class ApiError extends Error {
  readonly status: number;
  readonly items: readonly ApiErrorItem[];
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: number,
    message: string,
    options?: { chain?: ApiErrorItem[]; headers?: Record<string, string> },
  ) {
    super(message);
    this.status = status;
    const chain = options?.chain?.map(({ code: c, message: m }) => ({ code: c, message: m }));
    this.items = [chain === undefined ? { code, message } : { code, message, error_chain: chain }];
    this.headers = options?.headers ?? {};
  }
}

export const badRequest = (message: string, code: number = ErrorCode.VALIDATION): ApiError =>
  new ApiError(400, code, message);

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

export function sendResult(response: ServerResponse, status: number, result: unknown): void {
  sendJson(response, status, { success: true, errors: [], messages: [], result });
}

export function sendError(response: ServerResponse, error: ApiError): void {
  sendJson(
    response,
    error.status,
    { success: false, errors: error.items, messages: [], result: null },
    error.headers,
  );
}
