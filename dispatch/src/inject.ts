/**
 * The bootstrap script the gateway adds to every HTML document it serves (never a file of the
 * site). Two jobs (DESIGN §3 Serve):
 * - auto-resize: report the document height to the macro view. Sent with target origin EMBED_ORIGIN
 *   when configured, else `*`: a height says nothing worth hiding;
 * - links: Forge's Custom UI frame has no `allow-popups`, and a nested frame cannot have more than its
 *   parent, so clicks on external links and `target=_blank` (and `window.open`) are handed to the
 *   macro view, which opens them with Forge's router. A URL may be private, so this is sent only to
 *   EMBED_ORIGIN; without it links are left to the browser.
 * Inline script is allowed by the site CSP; no inline handlers. The site can tamper with the script
 * (same origin) — it only ever talks to its own parent, so that gains it nothing.
 */

export const MESSAGE_HEIGHT = "mini-sites:height";
export const MESSAGE_OPEN = "mini-sites:open";
export const BOOTSTRAP_MARKER = "data-mini-sites-bootstrap";

export function bootstrapScript(embedOrigin: string | undefined): string {
  // JSON is valid JS; `<` is escaped so no value can close the script element.
  const origin = JSON.stringify(embedOrigin ?? null).replace(/</g, "\\u003c");
  const js =
    `(()=>{const P=window.parent,O=${origin};if(P===window)return;let H=-1;` +
    `const send=()=>{const e=document.documentElement,h=Math.ceil(Math.max(e.scrollHeight,document.body?document.body.scrollHeight:0));` +
    `if(h!==H){H=h;P.postMessage({type:${JSON.stringify(MESSAGE_HEIGHT)},height:h},O||"*")}};` +
    `addEventListener("load",send);addEventListener("resize",send);` +
    `document.addEventListener("DOMContentLoaded",()=>{send();if(window.ResizeObserver)new ResizeObserver(send).observe(document.documentElement)});` +
    `if(!O)return;const open=(u)=>{let url;try{url=new URL(u,location.href)}catch{return false}` +
    `if(url.protocol!=="https:"&&url.protocol!=="http:")return false;` +
    `P.postMessage({type:${JSON.stringify(MESSAGE_OPEN)},url:url.href},O);return true};` +
    `addEventListener("click",(e)=>{if(e.defaultPrevented||e.button!==0)return;` +
    `const a=e.target instanceof Element?e.target.closest("a[href]"):null;if(!a)return;` +
    `const url=new URL(a.href,location.href);if(a.target!=="_blank"&&url.origin===location.origin)return;` +
    `if(open(url.href))e.preventDefault()});` +
    `window.open=(u)=>{open(String(u));return null}})();`;
  return `<script ${BOOTSTRAP_MARKER}>${js}</script>`;
}

/**
 * Adds the script just before `</head>` (after any `<meta charset>`, before the body's scripts), else
 * first thing in `<body>`, else at the end of a document that has neither tag (a fragment-only file).
 */
export function injectBootstrap(response: Response, script: string): Response {
  let injected = false;
  return new HTMLRewriter()
    .on("head", {
      element(head) {
        if (injected) return;
        injected = true;
        head.append(script, { html: true });
      },
    })
    .on("body", {
      element(body) {
        if (injected) return;
        injected = true;
        body.prepend(script, { html: true });
      },
    })
    .onDocument({
      end(end) {
        if (injected) return;
        injected = true;
        end.append(script, { html: true });
      },
    })
    .transform(response);
}

/** A rewritten document larger than this is not kept (it is still served, rewritten as it streams). */
export const REWRITTEN_HTML_ENTRY_BYTES = 512 * 1024;
/** Rewritten documents kept per isolate, in bytes (keys counted too): a few hundred pages. */
export const REWRITTEN_HTML_CACHE_BYTES = 8 * 1024 * 1024;
/** And at most this many pages, however small: a flood of distinct paths cannot grow the map. */
export const REWRITTEN_HTML_CACHE_ENTRIES = 2048;
/** Copies being taken while pages stream, across all requests of the isolate, in bytes. */
export const REWRITTEN_HTML_COPYING_BYTES = 4 * 1024 * 1024;
/** A page whose path is longer than this is never kept (an SPA answers any path with its index). */
export const REWRITTEN_HTML_MAX_PATH = 1024;

/**
 * HTML documents as the gateway served them, script injected, per isolate: a page of a site version
 * is immutable (one user Worker per version, its bytes named by their ETag), so the next viewer of
 * the same page is served the same bytes without running the rewriter again — the rewriter is what
 * made an HTML page cost the gateway ~150 µs more than any other file (docs/performance.md).
 *
 * The key is the user Worker (site and version, from the verified grant), the path and the
 * upstream's ETag: a viewer only ever reaches entries of the site their grant names, and new bytes
 * (another ETag) are never answered with old ones. Bounded by bytes, least recently used dropped
 * first. Only byte arrays are kept, never streams or promises (they belong to one request).
 */
export class RewrittenHtmlCache {
  readonly #entries = new Map<string, Uint8Array<ArrayBuffer>>();
  readonly #capacity: number;
  #bytes = 0;
  /** Copies in progress: bytes held, and since when (a copy whose viewer went away is forgotten). */
  readonly #copies = new Map<object, { bytes: number; since: number }>();

  constructor(capacity = REWRITTEN_HTML_CACHE_BYTES) {
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
    if (held + bytes > REWRITTEN_HTML_COPYING_BYTES) {
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

  get(key: string): Uint8Array<ArrayBuffer> | undefined {
    const value = this.#entries.get(key);
    if (value === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    return value;
  }

  set(key: string, value: Uint8Array<ArrayBuffer>): void {
    if (value.length > REWRITTEN_HTML_ENTRY_BYTES || value.length > this.#capacity) return;
    const before = this.#entries.get(key);
    if (before !== undefined) {
      this.#entries.delete(key);
      this.#bytes -= key.length + before.length;
    }
    this.#entries.set(key, value);
    this.#bytes += key.length + value.length;
    for (const [oldest, bytes] of this.#entries) {
      if (this.#bytes <= this.#capacity && this.#entries.size <= REWRITTEN_HTML_CACHE_ENTRIES) break;
      this.#entries.delete(oldest);
      this.#bytes -= oldest.length + bytes.length;
    }
  }
}

/**
 * Serves `response` (an HTML document) with the bootstrap script: from `cache` under `key` when this
 * isolate rewrote the same bytes before, else through the rewriter, keeping a copy of what it
 * produced (up to REWRITTEN_HTML_ENTRY_BYTES) for the next viewer. No key: rewrite, keep nothing.
 */
export async function injectBootstrapCached(
  response: Response,
  script: string,
  cache: RewrittenHtmlCache,
  key: string | undefined,
): Promise<Response> {
  if (key === undefined) return injectBootstrap(response, script);
  const hit = cache.get(key);
  if (hit !== undefined) {
    await response.body?.cancel().catch(() => undefined);
    const headers = new Headers(response.headers);
    headers.set("content-length", String(hit.length));
    return new Response(hit, { status: response.status, statusText: response.statusText, headers });
  }
  const rewritten = injectBootstrap(response, script);
  if (rewritten.body === null) return rewritten;
  // The copy is taken as the viewer's stream passes through, and kept when it ends: inside this
  // request, with no second reader (a request's promises do not outlive it in workerd). What copies
  // hold at once across the isolate is bounded (REWRITTEN_HTML_COPYING_BYTES): past it, pages are
  // served without keeping a copy.
  const copy = {};
  const chunks: Uint8Array[] = [];
  let size = 0;
  let copying = true;
  const keep = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      if (copying) {
        size += chunk.length;
        copying = size <= REWRITTEN_HTML_ENTRY_BYTES && cache.grow(copy, chunk.length, Date.now());
        if (copying) chunks.push(chunk.slice());
        else {
          chunks.length = 0;
          cache.endCopy(copy);
        }
      }
      controller.enqueue(chunk);
    },
    flush() {
      cache.endCopy(copy);
      if (!copying) return;
      const bytes = new Uint8Array(size);
      let offset = 0;
      for (const chunk of chunks) {
        bytes.set(chunk, offset);
        offset += chunk.length;
      }
      cache.set(key, bytes);
    },
  });
  return new Response(rewritten.body.pipeThrough(keep), rewritten);
}
