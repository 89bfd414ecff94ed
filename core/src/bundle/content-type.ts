/**
 * What each hosted file is served as, and which files are refused because a host would execute or
 * obey them instead of serving them.
 */

import { extensionOf } from "./hash.ts";

const UTF8 = "; charset=utf-8";

/** Extension (lowercase, no dot) → Content-Type. Text types carry a charset so browsers never sniff. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: `text/html${UTF8}`,
  htm: `text/html${UTF8}`,
  css: `text/css${UTF8}`,
  js: `text/javascript${UTF8}`,
  mjs: `text/javascript${UTF8}`,
  cjs: `text/javascript${UTF8}`,
  json: `application/json${UTF8}`,
  map: `application/json${UTF8}`,
  webmanifest: `application/manifest+json${UTF8}`,
  svg: `image/svg+xml${UTF8}`,
  txt: `text/plain${UTF8}`,
  md: `text/markdown${UTF8}`,
  csv: `text/csv${UTF8}`,
  tsv: `text/tab-separated-values${UTF8}`,
  xml: `application/xml${UTF8}`,
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  ico: "image/x-icon",
  bmp: "image/bmp",
  woff: "font/woff",
  woff2: "font/woff2",
  ttf: "font/ttf",
  otf: "font/otf",
  wasm: "application/wasm",
  mp4: "video/mp4",
  webm: "video/webm",
  mp3: "audio/mpeg",
  wav: "audio/wav",
  ogg: "audio/ogg",
  pdf: "application/pdf",
  zip: "application/zip",
};

/** Anything we do not recognise is served as opaque bytes, never sniffed into something runnable. */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

export function contentTypeFor(path: string): string {
  return CONTENT_TYPES[extensionOf(path)] ?? DEFAULT_CONTENT_TYPE;
}

/**
 * Server-side scripts. No host of ours runs them, but their presence means the author expects a server
 * (the site would be broken), and a copy of the bundle put on a PHP/IIS/Java host would execute them.
 */
const SERVER_SCRIPT_EXTENSIONS = new Set([
  "php",
  "php3",
  "php4",
  "php5",
  "php7",
  "php8",
  "phps",
  "phtml",
  "phar",
  "asp",
  "aspx",
  "jsp",
  "jspx",
  "cgi",
]);

/**
 * Windows executables and scripts: a page offering them for download is the classic malware drop, and
 * serving them from a Confluence-embedded origin would lend them the company's trust.
 */
const WINDOWS_EXECUTABLE_EXTENSIONS = new Set(["exe", "dll", "msi", "bat", "cmd", "scr", "ps1", "vbs"]);

/**
 * Configuration that another host would obey but Mini-Sites never does: Apache `.htaccess`/`.htpasswd`
 * and IIS `web.config` anywhere, Cloudflare's `_headers`, `_redirects` and `_routes.json` at the root
 * (Workers static assets and Pages apply them as header, redirect and routing rules; serving headers is
 * the dispatch Worker's job alone, DESIGN §6.6). Real static builds ship them (HTML5 Boilerplate's
 * `.htaccess`, a Netlify-style `_redirects`), so they are left out of the upload, not a reason to
 * refuse the bundle: left out, nothing can obey them.
 */
const SERVER_CONFIG_NAMES = new Set([".htaccess", ".htpasswd", "web.config"]);
const CLOUDFLARE_CONFIG_ROOT_NAMES = new Set(["_headers", "_redirects", "_routes.json"]);

/**
 * `_worker.js` (file or folder) at the site root is run as a Worker by Pages-style uploads: server code,
 * which a static site may not ship.
 */
const CLOUDFLARE_CODE_ROOT_NAMES = new Set(["_worker.js"]);

/** Why this hosted path is left out of the upload, or undefined when it is hosted. */
export function leftOutReason(path: string): string | undefined {
  const segments = path.split("/");
  const base = (segments[segments.length - 1] ?? "").toLowerCase();
  if (segments.length === 1 && CLOUDFLARE_CONFIG_ROOT_NAMES.has(base)) {
    return "host configuration (mini-sites set headers and routing themselves)";
  }
  if (SERVER_CONFIG_NAMES.has(base)) return "web-server configuration (not used by mini-sites)";
  return undefined;
}

/**
 * Why this hosted path may not be published, in words for the author, or undefined when it may.
 * `path` is normalized and relative to the (unwrapped) site root.
 */
export function unsupportedFileReason(path: string): string | undefined {
  const segments = path.split("/");
  const first = (segments[0] ?? "").toLowerCase();
  const ext = extensionOf(path);
  if (CLOUDFLARE_CODE_ROOT_NAMES.has(first)) {
    return `"${segments[0]}" at the top of the site is server code for Cloudflare, and mini-sites only host static files. Remove or rename it.`;
  }
  if (SERVER_SCRIPT_EXTENSIONS.has(ext)) {
    return `".${ext}" files are server-side scripts; mini-sites only host static files (HTML, CSS, JavaScript, images, data). Remove it.`;
  }
  if (WINDOWS_EXECUTABLE_EXTENSIONS.has(ext)) {
    return `".${ext}" files are Windows programs or scripts and cannot be published on a mini-site. Remove it.`;
  }
  return undefined;
}
