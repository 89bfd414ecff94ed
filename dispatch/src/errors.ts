/**
 * Typed refusals. Every refusal is a status, a stable code and a human message: JSON
 * `{"error":{"code","message"}}` plus the code in `x-mini-sites-error` for programs, a short HTML
 * page for navigations (a person is looking at the frame). Never a byte of a site, never a stack,
 * never a grant, key or secret (DESIGN §6 invariants 1, 7, 10). Key ids are fingerprints and may be
 * shown: they are what an operator needs to fix GRANT_KEY_UNKNOWN.
 */

import type { GrantErrorCode, IdentityErrorCode } from "@mini-sites/core";
import type { GatewayConfig } from "./config.ts";
import { ERROR_HEADER, setSecurityHeaders } from "./headers.ts";

export type GatewayErrorCode =
  | GrantErrorCode
  | IdentityErrorCode
  | "GRANT_MISSING"
  | "GRANT_VERSION_MISMATCH"
  | "HOST_NOT_FOUND"
  | "NOT_FOUND"
  | "PATH_TRAVERSAL"
  | "SITE_NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "SERVICE_WORKER_REFUSED"
  | "CROSS_SITE_REQUEST_REFUSED"
  | "GATEWAY_MISCONFIGURED"
  | "UPSTREAM_FAILED"
  | "STATUS_FEED_UNAVAILABLE"
  | "INTERNAL_ERROR";

export interface GatewayError {
  readonly status: number;
  readonly code: GatewayErrorCode;
  readonly message: string;
  /** Extra public fields for the JSON body (e.g. key ids); never secrets. */
  readonly details?: Readonly<Record<string, unknown>>;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A person's browser is loading a page (rather than a script fetching data). */
export function isNavigation(request: Request): boolean {
  const mode = request.headers.get("sec-fetch-mode");
  if (mode !== null) return mode === "navigate";
  return (request.headers.get("accept") ?? "").includes("text/html");
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);

const TITLES: Record<number, string> = {
  401: "Access link not valid",
  403: "Request refused",
  404: "Not found",
  405: "Method not allowed",
  409: "Version changed",
  500: "Something went wrong",
  502: "Site unavailable",
  503: "Not configured",
};

export function errorResponse(
  request: Request,
  config: GatewayConfig | undefined,
  error: GatewayError,
): Response {
  const headers = new Headers(error.headers);
  headers.set(ERROR_HEADER, error.code);
  headers.set("Cache-Control", "no-store");
  setSecurityHeaders(headers, config);
  let body: string;
  if (isNavigation(request)) {
    headers.set("Content-Type", "text/html; charset=utf-8");
    const title = TITLES[error.status] ?? "Request refused";
    body =
      `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
      `<title>${escapeHtml(title)}</title><body style="font:14px system-ui,sans-serif;margin:2rem;color:#172b4d">` +
      `<h1 style="font-size:1.1rem">${escapeHtml(title)}</h1><p>${escapeHtml(error.message)}</p>` +
      `<p style="color:#6b778c"><code>${escapeHtml(error.code)}</code></p></body></html>`;
  } else {
    headers.set("Content-Type", "application/json; charset=utf-8");
    body = JSON.stringify({ error: { code: error.code, message: error.message, ...error.details } });
  }
  return new Response(request.method === "HEAD" ? null : body, { status: error.status, headers });
}

export const NOT_FOUND: GatewayError = { status: 404, code: "NOT_FOUND", message: "There is nothing here." };
export const HOST_NOT_FOUND: GatewayError = {
  status: 404,
  code: "HOST_NOT_FOUND",
  message: "This host is not a Mini-Sites origin.",
};
export const PATH_TRAVERSAL: GatewayError = {
  status: 404,
  code: "PATH_TRAVERSAL",
  message: "This path leaves the site or is spelled ambiguously; it is not served.",
};
export const SITE_NOT_FOUND: GatewayError = {
  status: 404,
  code: "SITE_NOT_FOUND",
  message: "This version of the mini-site is not available. Reload the page.",
};
export const GRANT_MISSING: GatewayError = {
  status: 401,
  code: "GRANT_MISSING",
  message: "No access link came with this request. Open the mini-site from its Confluence page.",
};
export const METHOD_NOT_ALLOWED: GatewayError = {
  status: 405,
  code: "METHOD_NOT_ALLOWED",
  message: "Mini-sites are read-only: only GET and HEAD are allowed.",
  headers: { Allow: "GET, HEAD" },
};
export const SERVICE_WORKER_REFUSED: GatewayError = {
  status: 403,
  code: "SERVICE_WORKER_REFUSED",
  message: "Mini-sites may not install service workers: one could keep serving a revoked site.",
};
export const CROSS_SITE_REQUEST_REFUSED: GatewayError = {
  status: 403,
  code: "CROSS_SITE_REQUEST_REFUSED",
  message: "A mini-site's files load only from the mini-site itself.",
};
export const UPSTREAM_FAILED: GatewayError = {
  status: 502,
  code: "UPSTREAM_FAILED",
  message: "The mini-site could not be reached. Try again.",
};
export const INTERNAL_ERROR: GatewayError = {
  status: 500,
  code: "INTERNAL_ERROR",
  message: "The gateway failed to answer. Try again.",
};
