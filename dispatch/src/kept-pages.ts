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
 * ever reaches pages of the version their grant names. A 304 is taken to mean "the page you kept":
 * that holds because a path of a user Worker always resolves the same way (a worker name is
 * provisioned once with one manifest, its not-found handling fixed when the site is created, and no
 * `_redirects` or `_headers` in a bundle). Workers Static Assets answers 304 to a matching ETag even
 * where it would have served its 404 page, so a provider that re-uploaded a name with other contents
 * would have to drop this isolate's pages too.
 *
 * The site's CSP is never kept: it is the tenant's current policy, set on every response. Bounded by
 * bytes (keys, headers and a fixed overhead per entry counted), by entries, and by entries and bytes
 * per user Worker (an SPA answers every path with its index: one site cannot push every other site's
 * pages out), least recently used dropped first. Only byte arrays and header copies are kept, never
 * streams or promises (they belong to one request).
 */

import { injectBootstrap } from "./inject.ts";

/** A rewritten document larger than this is not kept (it is still served, rewritten as it streams). */
export const KEPT_PAGE_BYTES = 512 * 1024;
/** Kept pages per isolate, in bytes (keys and headers counted too): a few hundred pages. */
export const KEPT_PAGES_BYTES = 8 * 1024 * 1024;
/** And at most this many pages, however small: a flood of distinct paths cannot grow the map. */
export const KEPT_PAGES_ENTRIES = 2048;
/** And at most this many pages, and bytes, of one user Worker (one site version). */
export const KEPT_PAGES_PER_WORKER = 256;
export const KEPT_PAGES_BYTES_PER_WORKER = 1024 * 1024;
/** What an entry costs beyond its bytes, key and headers (map entry, objects), counted in its size. */
export const KEPT_PAGE_OVERHEAD = 512;
/** Pages being read to be kept, across all requests of the isolate, in bytes. */
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
  /** Bytes this entry holds: body, headers and KEPT_PAGE_OVERHEAD (the key is counted apart). */
  readonly size: number;
}

/** The size to count for a page of `bytes` with `headers`. */
export function keptPageSize(bytes: Uint8Array, headers: Headers): number {
  let size = bytes.length + KEPT_PAGE_OVERHEAD;
  for (const [name, value] of headers) size += name.length + value.length;
  return size;
}

/** The user Worker part of a key (`keptPageKey`). */
const workerOf = (key: string) => key.slice(0, key.indexOf("\n"));

export class KeptPages {
  readonly #entries = new Map<string, KeptPage>();
  readonly #capacity: number;
  #bytes = 0;
  /** Pages and bytes (as counted in #bytes) kept per user Worker. */
  readonly #perWorker = new Map<string, { pages: number; bytes: number }>();
  /** Copies in progress: bytes held, and since when (a copy whose viewer went away is forgotten). */
  readonly #copies = new Map<object, { bytes: number; since: number }>();
  /** Copies forgotten for being too old: they never count again, and never grow again. */
  readonly #abandoned = new WeakSet<object>();

  constructor(capacity = KEPT_PAGES_BYTES) {
    this.#capacity = capacity;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Bytes held by copies in progress. */
  get copying(): number {
    let held = 0;
    for (const copy of this.#copies.values()) held += copy.bytes;
    return held;
  }

  /**
   * Counts `bytes` more held by the copy `id`; false, and nothing more counted, when the isolate's
   * copying budget would be passed (what the copy holds stays counted until `endCopy`). A copy not
   * ended within a minute (its viewer stalled or went away) no longer counts, and is refused from then
   * on.
   */
  grow(id: object, bytes: number, now: number): boolean {
    let held = 0;
    for (const [other, copy] of this.#copies) {
      if (now - copy.since > 60_000) {
        this.#copies.delete(other);
        this.#abandoned.add(other);
      } else held += copy.bytes;
    }
    if (this.#abandoned.has(id) || held + bytes > KEPT_PAGES_COPYING_BYTES) return false;
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
    const cost = key.length + page.size;
    if (page.bytes.length > KEPT_PAGE_BYTES || cost > this.#capacity || cost > KEPT_PAGES_BYTES_PER_WORKER)
      return;
    this.delete(key);
    const worker = workerOf(key);
    const mine = this.#perWorker.get(worker) ?? { pages: 0, bytes: 0 };
    // This user Worker's least recently used pages make room: never another site's.
    for (const oldest of this.#entries.keys()) {
      if (mine.pages < KEPT_PAGES_PER_WORKER && mine.bytes + cost <= KEPT_PAGES_BYTES_PER_WORKER) break;
      if (workerOf(oldest) === worker) this.delete(oldest);
    }
    this.#entries.set(key, page);
    this.#bytes += cost;
    mine.pages += 1;
    mine.bytes += cost;
    this.#perWorker.set(worker, mine);
    for (const oldest of this.#entries.keys()) {
      if (this.#bytes <= this.#capacity && this.#entries.size <= KEPT_PAGES_ENTRIES) break;
      this.delete(oldest);
    }
  }

  delete(key: string): void {
    const page = this.#entries.get(key);
    if (page === undefined) return;
    const cost = key.length + page.size;
    this.#entries.delete(key);
    this.#bytes -= cost;
    const worker = workerOf(key);
    const mine = this.#perWorker.get(worker);
    if (mine === undefined) return;
    mine.pages -= 1;
    mine.bytes -= cost;
    if (mine.pages <= 0) this.#perWorker.delete(worker);
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
 * has the same one (the upstream body is dropped), else through the rewriter, keeping what it produced
 * for the next viewer. No key or no ETag: rewrite, keep nothing.
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
  return rewrittenAndKept(rewritten, rewritten.body.getReader(), pages, key, etag);
}

/**
 * Reads the rewritten page to its end, keeps it and serves it as bytes: a body served from bytes
 * leaves the isolate natively, where a stream passed through JavaScript costs the gateway more CPU
 * than the rewriter itself (~400 µs per 10 KB page, measured). What is read at once across the isolate
 * is bounded (KEPT_PAGES_COPYING_BYTES), and so is a page (KEPT_PAGE_BYTES): past either, what was
 * read is served followed by the rest as it streams, counted until the viewer has it, and nothing is
 * kept.
 */
async function rewrittenAndKept(
  rewritten: Response,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  pages: KeptPages,
  key: string,
  etag: string,
): Promise<Response> {
  const copy = {};
  const chunks: Uint8Array[] = [];
  let length = 0;
  let handedOver = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.byteLength;
      if (length > KEPT_PAGE_BYTES || !pages.grow(copy, value.byteLength, Date.now())) {
        handedOver = true;
        const release = () => pages.endCopy(copy);
        return new Response(readThenStream(chunks.splice(0), reader, release), rewritten);
      }
    }
  } finally {
    if (!handedOver) pages.endCopy(copy);
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  const headers = new Headers(rewritten.headers);
  headers.set("content-length", String(length));
  const served = new Response(bytes, { status: rewritten.status, statusText: rewritten.statusText, headers });
  headers.delete("content-security-policy");
  pages.set(key, { etag, bytes, headers, size: keptPageSize(bytes, headers) });
  return served;
}

/** The chunks already read, then the rest of `reader`; `release` once the viewer has had them all or left. */
function readThenStream(
  chunks: Uint8Array[],
  reader: ReadableStreamDefaultReader<Uint8Array>,
  release: () => void,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = chunks.shift();
      if (chunk !== undefined) {
        controller.enqueue(chunk);
        if (chunks.length === 0) release();
        return;
      }
      const { done, value } = await reader.read();
      if (done) {
        release();
        controller.close();
      } else controller.enqueue(value);
    },
    cancel(reason) {
      chunks.length = 0;
      release();
      return reader.cancel(reason);
    },
  });
}
