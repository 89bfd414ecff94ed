/**
 * Which hosts a hosted file loads from (DESIGN §5: the pipeline lists them and says which the
 * tenant's CSP would block). An over-approximation is fine, it is a report; a regex that backtracks
 * catastrophically on a hostile 25 MiB file is not: every pattern here is linear (no nested or
 * adjacent overlapping quantifiers), and HTML tags are cut out with indexOf, never with `[^>]*`.
 *
 * Counted: absolute http(s)/ws(s) URLs and protocol-relative `//host` URLs in
 * - HTML: `src`, `href`, `srcset`, `poster`, `data` of elements that load (script, link, img, iframe,
 *   source, …); `<a href>` and `<form action>` are navigation, not loads;
 * - CSS (also inline in HTML): `url(…)`, `@import "…"`;
 * - JS (also inline in HTML): static `import … from "…"`, `import "…"`, dynamic `import("…")`,
 *   `fetch("…")`, `new WebSocket("…")`, `new EventSource("…")`, `importScripts("…")`.
 */

const LOADING_TAGS = new Set([
  "script",
  "link",
  "img",
  "iframe",
  "frame",
  "source",
  "video",
  "audio",
  "track",
  "embed",
  "object",
  "image",
  "input",
]);

const TAG_START = /<([a-zA-Z][a-zA-Z0-9-]{0,31})/g;
const URL_ATTR = /(?:^|\s)(src|href|srcset|poster|data)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/gi;
const CSS_URL = /url\(\s*(?:["']\s*)?((?:(?:https?|wss?):)?\/\/[^\s"'()]+)/gi;
const CSS_IMPORT = /@import\s+["']((?:(?:https?|wss?):)?\/\/[^\s"']+)/gi;
const JS_LOADS =
  /(?:\bfrom|\bimport|\bimport\s*\(|\bfetch\s*\(|\bnew\s+WebSocket\s*\(|\bnew\s+EventSource\s*\(|\bimportScripts\s*\()\s*["'`]((?:(?:https?|wss?):)?\/\/[^\s"'`]+)/g;

const utf8 = new TextDecoder("utf-8");

/** Hosts (lowercase, deduplicated, sorted) that this HTML, CSS or JS file loads resources from. */
export function externalHostsOf(path: string, contentType: string, bytes: Uint8Array): string[] {
  const type = contentType.split(";", 1)[0]?.trim().toLowerCase() ?? "";
  const isHtml = type === "text/html";
  const isCss = type === "text/css";
  const isJs = type === "text/javascript" || type === "application/javascript" || /\.m?js$/i.test(path);
  if (!isHtml && !isCss && !isJs) return [];
  const hosts = new Set<string>();
  const add = (url: string | undefined) => {
    const host = url === undefined ? undefined : hostOf(url);
    if (host) hosts.add(host);
  };
  if (!isHtml && !isCss) {
    for (const window of urlWindows(bytes)) for (const m of window.matchAll(JS_LOADS)) add(m[1]);
    return [...hosts].sort();
  }
  const text = utf8.decode(bytes);
  if (isHtml) {
    for (const attrs of loadingTagAttributes(text)) {
      for (const m of attrs.matchAll(URL_ATTR)) {
        const name = (m[1] ?? "").toLowerCase();
        const value = m[2] ?? m[3] ?? m[4] ?? "";
        if (name === "srcset") {
          for (const candidate of value.split(",")) add(candidate.trim().split(/\s/, 1)[0]);
        } else {
          add(value.trim());
        }
      }
    }
  }
  if (isHtml || isCss) {
    for (const m of text.matchAll(CSS_URL)) add(m[1]);
    for (const m of text.matchAll(CSS_IMPORT)) add(m[1]);
  }
  if (isHtml || isJs) {
    for (const m of text.matchAll(JS_LOADS)) add(m[1]);
  }
  return [...hosts].sort();
}

const SLASH = 0x2f;
const QUOTES = new Set([0x22, 0x27, 0x60]); // " ' `
/** Room before a URL's opening quote for the longest call that loads it: `new EventSource (`. */
const LOOKBEHIND = 48;
/** Longest URL prefix kept: enough for any hostname (253) plus scheme and quote. */
const LOOKAHEAD = 280;

/**
 * Short text windows around each quoted `//` of a JS file: only there can a load with an absolute URL
 * be. Megabytes of minified JS are never decoded whole: `indexOf` on the bytes finds the slashes, and a
 * window is decoded one byte per character (hostnames are ASCII; anything else is not a host here).
 */
function* urlWindows(bytes: Uint8Array): Generator<string> {
  let from = 0;
  for (;;) {
    const at = bytes.indexOf(SLASH, from);
    if (at < 0 || at + 1 >= bytes.length) return;
    from = at + 1;
    if (bytes[at + 1] !== SLASH) continue;
    from = at + 2;
    // `"//host`, or `"https://host` / `'wss://host`: find the quote that opens the URL.
    let quote = at - 1;
    if (bytes[quote] === 0x3a) {
      // The longest scheme counted is "https": five letters, then the quote.
      const lowest = Math.max(0, at - 2 - 5);
      quote = -1;
      for (let i = at - 2; i >= lowest; i--) {
        const byte = bytes[i] as number;
        if (QUOTES.has(byte)) {
          quote = i;
          break;
        }
        if (!((byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a))) break;
      }
    }
    if (quote < 0 || !QUOTES.has(bytes[quote] as number)) continue;
    const start = Math.max(0, quote - LOOKBEHIND);
    const end = Math.min(bytes.length, at + LOOKAHEAD);
    yield String.fromCharCode(...bytes.subarray(start, end));
  }
}

/** The attribute text of each loading element, cut with indexOf so the scan stays linear. */
function* loadingTagAttributes(html: string): Generator<string> {
  TAG_START.lastIndex = 0;
  for (;;) {
    const m = TAG_START.exec(html);
    if (!m) return;
    const attrsStart = m.index + m[0].length;
    const end = html.indexOf(">", attrsStart);
    // No closing ">": everything after is inside this tag, so no later tag can start.
    const stop = end < 0 ? html.length : end;
    if (LOADING_TAGS.has((m[1] ?? "").toLowerCase())) yield html.slice(attrsStart, stop);
    if (end < 0) return;
    TAG_START.lastIndex = end + 1;
  }
}

/** The lowercase hostname of an absolute or protocol-relative URL, or undefined. */
export function hostOf(url: string): string | undefined {
  const m = /^(?:(?:https?|wss?):)?\/\/([^/?#\\]*)/i.exec(url);
  if (!m) return undefined;
  let authority = m[1] ?? "";
  authority = authority.slice(authority.lastIndexOf("@") + 1);
  let host: string;
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    if (close < 0) return undefined;
    host = authority.slice(0, close + 1);
    if (!/^\[[0-9a-f:.]+\]$/i.test(host)) return undefined;
  } else {
    host = authority.replace(/:\d*$/, "").replace(/\.$/, "");
    // Template placeholders (`${api}`) and other non-hostnames are not hosts.
    if (!/^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/i.test(host)) return undefined;
  }
  return host.toLowerCase();
}
