/**
 * "May this user read / update this page?" and "Is this user a Confluence administrator?" — asked of
 * Confluence with the user's OWN token, so page restrictions, space permissions and global permissions
 * are honoured exactly as Confluence applies them (DESIGN §6 invariant 4). Checking another user would
 * need Confluence admin rights (DESIGN §8), so there is no "system" variant here on purpose.
 *
 * Endpoint: `GET {app.apiBaseUrl}/wiki/api/v2/pages/{id}/operations` (or `/blogposts/{id}/operations`),
 * answering `{ operations: [{ operation: "read" | "update" | …, targetType: "page" | "blogpost" }] }`
 * (Confluence Cloud REST v2, "Get permitted operations for page / blog post"; response schema
 * PermittedOperationsResponse). The user token is Forge's `x-forge-oauth-user` header, present on
 * invokeRemote calls when the endpoint sets `auth.appUserToken` (developer.atlassian.com/platform/forge/
 * remote/calling-product-apis). The API base URL comes from the verified FIT's `app.apiBaseUrl` (same
 * page), never from the request.
 *
 * Threats and the answers here:
 * - Confluence down, slow, rate-limiting, or answering something unexpected ⇒ DENY with a typed reason
 *   (fail closed: an outage never serves a page a user may no longer read, DESIGN §3 Lifecycle).
 * - A token leaking through logs or a cache key ⇒ the token is never logged, never in an error, and the
 *   cache is keyed by SHA-256 of the token; no entry can be found without the token itself.
 * - One tenant's answer reused for another ⇒ every cache key starts with the tenant (DESIGN §6.3).
 * - A forged FIT pointing apiBaseUrl at an attacker's host ⇒ the FIT is signed; on top, production
 *   accepts https only, and plain http only for loopback when the dev flag allows it.
 * - Revocation delay ⇒ answers are cached at most PERMISSION_CACHE_TTL_MS; failures are never cached.
 */

import { IsolateCache, sha256Hex } from "@mini-sites/core";
import { isLoopbackHost, readCapped } from "../http.ts";

/** What the macro's FIT says it sits on (`context.extension.content`). */
export interface ContentRef {
  readonly id: string;
  readonly type: ContentType;
}

export const CONTENT_TYPES = ["page", "blogpost"] as const;
export type ContentType = (typeof CONTENT_TYPES)[number];

export function isContentType(value: unknown): value is ContentType {
  return typeof value === "string" && (CONTENT_TYPES as readonly string[]).includes(value);
}

export type Operation = "read" | "update";

/**
 * DESIGN §3 Serve: the viewer's read permission is "cached for at most 60 s". A removed restriction
 * takes effect for new grants within this time (plus the grant TTL for grants already minted), while a
 * page with many viewers does not cost one Confluence call per view.
 */
export const PERMISSION_CACHE_TTL_MS = 60_000;

/**
 * Entries kept per isolate. Each is ~200 bytes, so the cache stays far below a Worker's 128 MB even
 * when full; least recently used entries go first.
 */
export const PERMISSION_CACHE_MAX_ENTRIES = 5_000;

/**
 * Forge gives a UI call 25 s in total (developer.atlassian.com/platform/forge/forge-remote-invocation-
 * contract); a permission check that has not answered in 5 s is treated as an outage and denied, leaving
 * time for the rest of the request and an answer the view can show.
 */
export const PERMISSION_CHECK_TIMEOUT_MS = 5_000;

/** A permissions answer is a short JSON list; anything larger is not the shape we expect. */
export const MAX_OPERATIONS_RESPONSE_BYTES = 64 * 1024;

/** Bearer tokens Forge passes are JWTs of a few KB; a larger header value is refused before any call. */
export const MAX_USER_TOKEN_LENGTH = 16 * 1024;

/** Confluence content ids are decimal numbers (the v2 API types them as integers). */
const CONTENT_ID = /^[0-9]{1,20}$/;

export const PERMISSION_DENIAL_REASONS = [
  /** The FIT carried no `x-forge-oauth-user` token (endpoint without appUserToken, or requestRemote). */
  "NO_USER_TOKEN",
  /** The content reference is not a page or blog post with a numeric id. */
  "INVALID_CONTENT",
  /** The apiBaseUrl is not https (or loopback http with the dev flag). */
  "API_BASE_URL_REJECTED",
  /** Confluence answered, and the operation is not in the user's list. */
  "NOT_PERMITTED",
  /** 404: no such content, or the user may not even see that it exists. */
  "CONTENT_NOT_FOUND",
  /** 401/403: Confluence refused the token (expired, revoked, wrong scopes). */
  "TOKEN_REJECTED",
  /** 429 or 5xx, or any other status. */
  "CONFLUENCE_ERROR",
  /** No answer within PERMISSION_CHECK_TIMEOUT_MS, or the connection failed. */
  "CONFLUENCE_UNREACHABLE",
  /** 200, but not the documented shape. */
  "UNEXPECTED_RESPONSE",
] as const;
export type PermissionDenialReason = (typeof PERMISSION_DENIAL_REASONS)[number];

/** Reasons that say "Confluence could not answer" rather than "the answer is no": retryable, never cached. */
const UNAVAILABLE: ReadonlySet<PermissionDenialReason> = new Set([
  "CONFLUENCE_ERROR",
  "CONFLUENCE_UNREACHABLE",
  "UNEXPECTED_RESPONSE",
]);

export type PermissionVerdict =
  | { readonly allowed: true; readonly cached: boolean }
  | {
      readonly allowed: false;
      readonly reason: PermissionDenialReason;
      /** True when Confluence could not answer (outage): the caller may say "try again" — but still denies. */
      readonly unavailable: boolean;
      readonly cached: boolean;
    };

export interface PermissionCheck {
  /** The tenant the FIT names (`forge:<app>:<installation>:<cloud>`): part of every cache key. */
  readonly tenant: string;
  readonly content: ContentRef;
  /** The `x-forge-oauth-user` value, or undefined when absent. Never logged, never stored. */
  readonly userToken: string | undefined;
  /** The verified FIT's `app.apiBaseUrl`. */
  readonly apiBaseUrl: string;
}

export interface PermissionClientOptions {
  /** Defaults to the global fetch. */
  readonly fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /** Milliseconds since the epoch; the cache's clock. */
  readonly now?: () => number;
  readonly ttlMs?: number;
  readonly maxEntries?: number;
  readonly timeoutMs?: number;
  /** Allow plain http to loopback hosts (the dev stack's Confluence stand-in). Off in production. */
  readonly allowLoopbackHttp?: boolean;
}

export interface PermissionClient {
  canRead(check: PermissionCheck): Promise<PermissionVerdict>;
  canUpdate(check: PermissionCheck): Promise<PermissionVerdict>;
  /** Whether the user is a Confluence administrator (the admin page's gate). */
  isAdmin(check: AdminCheck): Promise<PermissionVerdict>;
  /** Number of cached answers (tests, metrics). */
  readonly cacheSize: number;
}

/** https anywhere; http only to loopback and only when the dev flag says so. No credentials in the URL. */
export function acceptableApiBaseUrl(text: string, allowLoopbackHttp: boolean): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") return undefined;
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && allowLoopbackHttp && isLoopbackHost(url.hostname)) return url;
  return undefined;
}

/** `pages` / `blogposts`: the v2 collection for a content type. */
function collectionOf(type: ContentType): string {
  return type === "page" ? "pages" : "blogposts";
}

/**
 * The operations this user may perform on the content, as `operation` names whose `targetType` is the
 * content's own type. Items of another target type (e.g. `create` on `comment`) are ignored, not trusted.
 */
export function parseOperations(body: unknown, type: ContentType): ReadonlySet<string> | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const list = (body as { operations?: unknown }).operations;
  if (!Array.isArray(list)) return undefined;
  const operations = new Set<string>();
  for (const item of list) {
    if (typeof item !== "object" || item === null) return undefined;
    const { operation, targetType } = item as { operation?: unknown; targetType?: unknown };
    if (typeof operation !== "string" || typeof targetType !== "string") return undefined;
    if (targetType === type) operations.add(operation);
  }
  return operations;
}

/**
 * Whether the current user is a Confluence administrator: `GET {apiBaseUrl}/wiki/rest/api/user/current
 * ?expand=operations` answers the operations the user may do, and a Confluence admin's list holds
 * `{operation: "administer", targetType: "application"}` (Confluence Cloud REST v1 "Get current user",
 * expand `operations`; the `application` target type is undocumented in the schema but is what the
 * endpoint returns — community.developer.atlassian.com/t/29678, "How to check if a user can administer
 * Confluence"). Asked with the user's own token, so nobody can claim another user's rights.
 */
export function parseAdministersApplication(body: unknown): boolean | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const list = (body as { operations?: unknown }).operations;
  if (!Array.isArray(list)) return undefined;
  for (const item of list) {
    if (typeof item !== "object" || item === null) return undefined;
    const { operation, targetType } = item as { operation?: unknown; targetType?: unknown };
    if (typeof operation !== "string" || typeof targetType !== "string") return undefined;
    if (operation === "administer" && targetType === "application") return true;
  }
  return false;
}

export interface AdminCheck {
  readonly tenant: string;
  readonly userToken: string | undefined;
  readonly apiBaseUrl: string;
}

export function createPermissionClient(options: PermissionClientOptions = {}): PermissionClient {
  const doFetch = options.fetch ?? ((input: string, init: RequestInit) => fetch(input, init));
  const now = options.now ?? Date.now;
  const ttlMs = Math.min(options.ttlMs ?? PERMISSION_CACHE_TTL_MS, PERMISSION_CACHE_TTL_MS);
  const timeoutMs = options.timeoutMs ?? PERMISSION_CHECK_TIMEOUT_MS;
  const allowLoopbackHttp = options.allowLoopbackHttp === true;
  const cache = new IsolateCache<boolean>(options.maxEntries ?? PERMISSION_CACHE_MAX_ENTRIES);

  /** GETs a Confluence JSON document with the user's token and reads it with `parse`; failures are typed. */
  async function ask<T>(
    url: string,
    userToken: string,
    parse: (body: unknown) => T | undefined,
  ): Promise<{ ok: true; value: T } | { ok: false; reason: PermissionDenialReason }> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const response = await doFetch(url, {
        method: "GET",
        headers: { Authorization: `Bearer ${userToken}`, Accept: "application/json" },
        redirect: "manual",
        signal: controller.signal,
      });
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => undefined);
        if (response.status === 401 || response.status === 403)
          return { ok: false, reason: "TOKEN_REJECTED" };
        if (response.status === 404) return { ok: false, reason: "CONTENT_NOT_FOUND" };
        return { ok: false, reason: "CONFLUENCE_ERROR" };
      }
      const bytes = await readCapped(response.body, MAX_OPERATIONS_RESPONSE_BYTES);
      if (bytes === undefined) return { ok: false, reason: "UNEXPECTED_RESPONSE" };
      let body: unknown;
      try {
        body = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        return { ok: false, reason: "UNEXPECTED_RESPONSE" };
      }
      const value = parse(body);
      return value === undefined ? { ok: false, reason: "UNEXPECTED_RESPONSE" } : { ok: true, value };
    } catch {
      // Network failure or our timeout. The error text is not kept: it may quote the URL or headers.
      return { ok: false, reason: "CONFLUENCE_UNREACHABLE" };
    } finally {
      clearTimeout(timer);
    }
  }

  function deny(reason: PermissionDenialReason, cached: boolean): PermissionVerdict {
    return { allowed: false, reason, unavailable: UNAVAILABLE.has(reason), cached };
  }

  /** The checks every question shares: a usable token and API base, and the cache prefix. */
  async function prepare(request: {
    tenant: string;
    userToken: string | undefined;
    apiBaseUrl: string;
  }): Promise<
    { ok: true; base: string; token: string; prefix: string } | { ok: false; verdict: PermissionVerdict }
  > {
    const { userToken } = request;
    if (userToken === undefined || userToken === "" || userToken.length > MAX_USER_TOKEN_LENGTH)
      return { ok: false, verdict: deny("NO_USER_TOKEN", false) };
    const base = acceptableApiBaseUrl(request.apiBaseUrl, allowLoopbackHttp);
    if (base === undefined) return { ok: false, verdict: deny("API_BASE_URL_REJECTED", false) };
    // The tenant first (isolation), then a digest of the token (a user's session, never the token).
    return {
      ok: true,
      base: base.href.replace(/\/+$/, ""),
      token: userToken,
      prefix: `${request.tenant}\n${await sha256Hex(userToken)}\n`,
    };
  }

  async function check(operation: Operation, request: PermissionCheck): Promise<PermissionVerdict> {
    const { content } = request;
    const ready = await prepare(request);
    if (!ready.ok) return ready.verdict;
    if (!isContentType(content.type) || !CONTENT_ID.test(content.id)) return deny("INVALID_CONTENT", false);
    const prefix = `${ready.prefix}${content.type}:${content.id}\n`;
    const hit = cache.get(prefix + operation, now());
    if (hit !== undefined) return hit ? { allowed: true, cached: true } : deny("NOT_PERMITTED", true);

    const url = `${ready.base}/wiki/api/v2/${collectionOf(content.type)}/${content.id}/operations`;
    const fetched = await ask(url, ready.token, (body) => parseOperations(body, content.type));
    if (!fetched.ok) return deny(fetched.reason, false);
    // One call answers both questions; remember both (definitive answers only — failures are not cached).
    const expiresAt = now() + ttlMs;
    for (const op of ["read", "update"] as const) cache.set(prefix + op, fetched.value.has(op), expiresAt);
    return fetched.value.has(operation) ? { allowed: true, cached: false } : deny("NOT_PERMITTED", false);
  }

  async function isAdmin(request: AdminCheck): Promise<PermissionVerdict> {
    const ready = await prepare(request);
    if (!ready.ok) return ready.verdict;
    const key = `${ready.prefix}application\nadminister`;
    const hit = cache.get(key, now());
    if (hit !== undefined) return hit ? { allowed: true, cached: true } : deny("NOT_PERMITTED", true);
    const url = `${ready.base}/wiki/rest/api/user/current?expand=operations`;
    const fetched = await ask(url, ready.token, parseAdministersApplication);
    if (!fetched.ok) return deny(fetched.reason, false);
    cache.set(key, fetched.value, now() + ttlMs);
    return fetched.value ? { allowed: true, cached: false } : deny("NOT_PERMITTED", false);
  }

  return {
    canRead: (request) => check("read", request),
    canUpdate: (request) => check("update", request),
    isAdmin,
    get cacheSize() {
      return cache.size;
    },
  };
}

const clients = new Map<boolean, PermissionClient>();

/**
 * The isolate's permission client for an env: one per isolate (its cache lives as long as the
 * isolate), and one per value of the dev loopback flag so a dev-stack env never shares answers with a
 * production one.
 */
export function permissionClientFor(
  env: { readonly DEV_ALLOW_LOOPBACK_HTTP?: string },
  now: () => number = Date.now,
): PermissionClient {
  const flag = env.DEV_ALLOW_LOOPBACK_HTTP === "true";
  let client = clients.get(flag);
  if (client === undefined) {
    client = createPermissionClient({ allowLoopbackHttp: flag, now });
    clients.set(flag, client);
  }
  return client;
}
