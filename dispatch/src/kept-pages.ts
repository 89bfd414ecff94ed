/**
 * HTML pages as the gateway served them, script injected, kept per isolate so the next viewer of the
 * same page costs the gateway what any other file does (docs/performance.md). A page of a site
 * version never changes: one user Worker per version, its bytes named by their ETag.
 *
 * A kept page is used only once the user Worker has confirmed it, on every request:
 * - the gateway asks conditionally (`If-None-Match` with the kept ETag) and the user Worker answers
 *   304 — the page and its headers are served from here, and no body crosses the hop;
 * - or the user Worker answers 200 with the same ETag (it ignored the condition) — its body is
 *   dropped and the kept bytes are served with the headers it just sent.
 * Anything else (another ETag, another status, no ETag) is served as the user Worker sent it, through
 * the rewriter. A viewer's own conditional or range request is forwarded as it came: the gateway
 * adds its condition only to requests that carry none.
 *
 * The key is the user Worker (site and version, from the verified grant) and the path: a viewer only
 * ever reaches pages of the version their grant names. The site's CSP is never kept: it is the
 * tenant's current policy, set on every response. Bounded by bytes (keys and headers counted) and by
 * entries, least recently used dropped first; only byte arrays and header copies are kept, never
 * streams or promises (they belong to one request).
 */

import { injectBootstrap } from "./inject.ts";

/** A rewritten document larger than this is not kept (it is still served, rewritten as it streams). */
export const KEPT_PAGE_BYTES = 512 * 1024;
/** Kept pages per isolate, in bytes (keys and headers counted too): a few hundred pages. */
export const KEPT_PAGES_BYTES = 8 * 1024 * 1024;
/** And at most this many pages, however small: a flood of distinct paths cannot grow the map. */
export const KEPT_PAGES_ENTRIES = 2048;
/** Copies being taken while pages stream, across all requests of the isolate, in bytes. */
export const KEPT_PAGES_COPYING_BYTES = 4 * 1024 * 1024;
/** A page whose path is longer than this is never kept (an SPA answers any path with its index). */
export const KEPT_PAGE_MAX_PATH = 1024;

/** Request headers that make a request conditional or partial: the viewer's own, forwarded as is. */
const VIEWER_CONDITIONS = ["if-none-match", "if-modified-since", "range", "if-range"];

export interface KeptPage {
  /** The ETag as the user Worker sent it: what the gateway asks it to confirm. */
  readonly etag: string;
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** The headers the page was served with, its length included; the CSP is set per response. */
  readonly headers: Headers;
  /** Bytes this entry holds: key, body and headers. */
  readonly size: number;
}

export class KeptPages {
  readonly #entries = new Map<string, KeptPage>();
  readonly #capacity: number;
  #bytes = 0;
  /** Copies in progress: bytes held, and since when (a copy whose viewer went away is forgotten). */
  readonly #copies = new Map<object, { bytes: number; since: number }>();

  constructor(capacity = KEPT_PAGES_BYTES) {
    this.#capacity = capacity;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Counts `bytes` more held by the copy `id`; false (and the copy is dropped) when the isolate's
   * copying budget would be passed. A copy not ended within a minute (its viewer went away, so its
   * stream never flushed) no longer counts.
   */
  grow(id: object, bytes: number, now: number): boolean {
    let held = 0;
    for (const [other, copy] of this.#copies) {
      if (now - copy.since > 60_000) this.#copies.delete(other);
      else held += copy.bytes;
    }
    if (held + bytes > KEPT_PAGES_COPYING_BYTES) {
      this.#copies.delete(id);
      return false;
    }
    const copy = this.#copies.get(id) ?? { bytes: 0, since: now };
    copy.bytes += bytes;
    this.#copies.set(id, copy);
    return true;
  }

  endCopy(id: object): void {
    this.#copies.delete(id);
  }

  get(key: string): KeptPage | undefined {
    const page = this.#entries.get(key);
    if (page === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, page);
    return page;
  }

  set(key: string, page: KeptPage): void {
    if (page.bytes.length > KEPT_PAGE_BYTES || key.length + page.size > this.#capacity) return;
    this.delete(key);
    this.#entries.set(key, page);
    this.#bytes += key.length + page.size;
    for (const [oldest, old] of this.#entries) {
      if (this.#bytes <= this.#capacity && this.#entries.size <= KEPT_PAGES_ENTRIES) break;
      this.#entries.delete(oldest);
      this.#bytes -= oldest.length + old.size;
    }
  }

  delete(key: string): void {
    const page = this.#entries.get(key);
    if (page === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= key.length + page.size;
  }
}

/** Where a GET of `path` on the user Worker `workerName` may be kept; undefined: never kept. */
export function keptPageKey(method: string, workerName: string, path: string): string | undefined {
  return method === "GET" && path.length <= KEPT_PAGE_MAX_PATH ? `${workerName}\n${path}` : undefined;
}

/**
 * Adds the gateway's condition (the kept page's ETag) to the headers forwarded to the user Worker;
 * false, and nothing added, when the viewer's request is already conditional or partial.
 */
export function askToConfirm(forwarded: Record<string, string>, page: KeptPage): boolean {
  for (const name of VIEWER_CONDITIONS) if (forwarded[name] !== undefined) return false;
  forwarded["if-none-match"] = page.etag;
  return true;
}

/** The kept page, as it was served, with the tenant's current CSP. */
export function servedKept(page: KeptPage, csp: string): Response {
  const response = new Response(page.bytes, { status: 200, headers: page.headers });
  response.headers.set("Content-Security-Policy", csp);
  return response;
}

/**
 * Serves `response` (an HTML document the user Worker sent, headers already rewritten) with the
 * bootstrap script. Its ETag is `etag` as the user Worker sent it: the kept page under `key` when it
 * has the same one (the upstream body is dropped), else through the rewriter, keeping a copy of what
 * it produced (up to KEPT_PAGE_BYTES) for the next viewer. No key or no ETag: rewrite, keep nothing.
 */
export async function servedWithBootstrap(
  response: Response,
  script: string,
  pages: KeptPages,
  key: string | undefined,
  etag: string | null,
): Promise<Response> {
  if (key === undefined || etag === null) return injectBootstrap(response, script);
  const kept = pages.get(key);
  if (kept !== undefined && kept.etag === etag) {
    await response.body?.cancel().catch(() => undefined);
    response.headers.set("content-length", String(kept.bytes.length));
    return new Response(kept.bytes, response);
  }
  const rewritten = injectBootstrap(response, script);
  if (rewritten.body === null) return rewritten;
  // The copy is taken as the viewer's stream passes through, and kept when it ends: inside this
  // request, with no second reader (a request's promises do not outlive it in workerd). What copies
  // hold at once across the isolate is bounded (KEPT_PAGES_COPYING_BYTES): past it, pages are served
  // without keeping a copy.
  const copy = {};
  const chunks: Uint8Array[] = [];
  let length = 0;
  let copying = true;
  const keep = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      if (copying) {
        length += chunk.length;
        copying = length <= KEPT_PAGE_BYTES && pages.grow(copy, chunk.length, Date.now());
        if (copying) chunks.push(chunk.slice());
        else {
          chunks.length = 0;
          pages.endCopy(copy);
        }
      }
      controller.enqueue(chunk);
    },
    flush() {
      pages.endCopy(copy);
      if (!copying) return;
      const bytes = new Uint8Array(length);
      let offset = 0;
      for (const chunk of chunks) {
        bytes.set(chunk, offset);
        offset += chunk.length;
      }
      const headers = new Headers(rewritten.headers);
      headers.set("content-length", String(length));
      headers.delete("content-security-policy");
      let size = length;
      for (const [name, value] of headers) size += name.length + value.length;
      pages.set(key, { etag, bytes, headers, size });
    },
  });
  return new Response(rewritten.body.pipeThrough(keep), rewritten);
}
