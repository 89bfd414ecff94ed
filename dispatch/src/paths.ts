/**
 * Paths a site request may carry. The user Worker only holds one site's files, so "escaping the
 * site" means reaching the gateway's reserved `/__ms/` space, or handing the asset router a path it
 * may decode differently from us. So we refuse, with a plain 404, anything whose meaning depends on
 * who decodes it: dot segments in any spelling (`..`, `%2e%2e`, `.%2E`), encoded separators (`%2f`,
 * `%5c`), backslashes, NUL and other control characters, and double encoding (`%25…`), which would
 * become any of those after a second decode. Browsers never send these for a bundle's own URLs.
 */

/** `/__ms/` is the gateway's; a bundle may not contain it (DESIGN §3; core RESERVED_PATH). */
export const RESERVED_PREFIX = "/__ms/";
/** Longer than any asset path a bundle may contain, shorter than any header limit. */
export const MAX_PATH_LENGTH = 2048;

const ENCODED_HOSTILE = /%(?:2e|2f|5c|25|00|0[1-9a-f]|1[0-9a-f]|7f)/i;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses.
const RAW_HOSTILE = /[\\\x00-\x1f\x7f]/;

/** A `.` or `..` segment. */
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)/;

/** True when `pathname` (as the URL parser left it) is safe to hand to a user Worker. */
export function isSafeSitePath(pathname: string): boolean {
  if (!pathname.startsWith("/") || pathname.length > MAX_PATH_LENGTH) return false;
  if (RAW_HOSTILE.test(pathname)) return false;
  // Without a `%` there is nothing to decode: the path means what it says (every request pays this).
  let decoded = pathname;
  if (pathname.includes("%")) {
    if (ENCODED_HOSTILE.test(pathname)) return false;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return false; // malformed percent-encoding
    }
    if (RAW_HOSTILE.test(decoded)) return false;
  }
  return !decoded.includes("//") && !DOT_SEGMENT.test(decoded);
}

/** True for paths in the gateway's reserved space, in any letter case the URL parser kept. */
export function isReservedPath(pathname: string): boolean {
  return pathname.toLowerCase().startsWith(RESERVED_PREFIX) || pathname.toLowerCase() === "/__ms";
}

/**
 * The entry page the check round trip may send the viewer to: a same-origin, root-relative path
 * (with its query) that passes `isSafeSitePath` and is not reserved; `/` otherwise. Never a URL
 * with a host, so `?to=//evil.example` cannot turn the gateway into an open redirect.
 */
export function safeEntryPath(to: string | null): string {
  if (to === null || !to.startsWith("/") || to.startsWith("//") || to.length > MAX_PATH_LENGTH) return "/";
  if (RAW_HOSTILE.test(to)) return "/";
  // Judge the path as sent, before URL parsing resolves `%2e%2e` and friends away.
  if (!isSafeSitePath(to.split(/[?#]/, 1)[0] as string)) return "/";
  const base = "https://entry.invalid";
  const url = URL.parse(to, base);
  if (url === null || url.origin !== base) return "/";
  if (!isSafeSitePath(url.pathname) || isReservedPath(url.pathname)) return "/";
  return url.pathname + url.search;
}
