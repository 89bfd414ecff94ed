/**
 * A tenant's branding: the display name and support link its admin page shows (DESIGN §4: "never
 * overwrites names or branding that the owning app set"). Set by the owning Forge app at
 * registration, or by the tenant's admin; checked here so the control Worker, the Forge app and the
 * CLI agree on what is acceptable.
 *
 * Threats: a name is shown as text next to the tenant's own controls, so it may not carry control
 * characters or bidirectional overrides (which make "Acme‮nimda" read as something else) or line
 * breaks; a link is rendered as `<a href>`, so only https (http only to loopback, for the dev stack)
 * — never `javascript:`, `data:` or credentials in the URL, which would be shown to every admin.
 */

/** Longest display name, in characters (code points): a heading, not a paragraph. */
export const MAX_DISPLAY_NAME_LENGTH = 80;
/** Longest support link: what browsers and the Forge router reliably keep. */
export const MAX_SUPPORT_URL_LENGTH = 2048;

export interface Branding {
  readonly displayName: string | null;
  readonly supportUrl: string | null;
}

export type BrandingCheck =
  | { readonly ok: true; readonly value: string }
  | { readonly ok: false; readonly problem: string };

/**
 * C0/C1 controls and DEL, line and paragraph separators, and the bidirectional embeddings, overrides
 * and isolates (U+202A–U+202E, U+2066–U+2069) plus the implicit marks (U+200E, U+200F, U+061C).
 */
const FORBIDDEN_IN_NAME = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/u;

/** No control, line-break or text-direction characters: safe to show people as a name (monitors too). */
export const isSafeDisplayText = (text: string): boolean => !FORBIDDEN_IN_NAME.test(text);

/** A display name: trimmed, 1–MAX_DISPLAY_NAME_LENGTH characters, no control or bidi characters. */
export function checkDisplayName(text: string): BrandingCheck {
  const value = text.trim();
  const length = [...value].length;
  if (length === 0) return { ok: false, problem: "is empty" };
  if (length > MAX_DISPLAY_NAME_LENGTH)
    return { ok: false, problem: `is longer than ${MAX_DISPLAY_NAME_LENGTH} characters` };
  if (FORBIDDEN_IN_NAME.test(value))
    return { ok: false, problem: "contains control, line-break or text-direction characters" };
  return { ok: true, value };
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * A support link: an absolute https URL of at most MAX_SUPPORT_URL_LENGTH characters, without user
 * name or password; plain http only to a loopback host and only when `allowLoopbackHttp` (the dev
 * stack). Answers the URL as the platform serializes it, which is what is stored and shown.
 */
export function checkSupportUrl(text: string, options: { allowLoopbackHttp?: boolean } = {}): BrandingCheck {
  if (text.length > MAX_SUPPORT_URL_LENGTH)
    return { ok: false, problem: `is longer than ${MAX_SUPPORT_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return { ok: false, problem: "is not an absolute URL" };
  }
  const loopback = LOOPBACK_HOSTS.has(url.hostname) || url.hostname.endsWith(".localhost");
  if (url.protocol === "http:" && !(loopback && options.allowLoopbackHttp === true))
    return { ok: false, problem: "must use https" };
  if (url.protocol !== "https:" && url.protocol !== "http:") return { ok: false, problem: "must use https" };
  if (url.username !== "" || url.password !== "")
    return { ok: false, problem: "must not contain a user name or password" };
  if (url.href.length > MAX_SUPPORT_URL_LENGTH)
    return { ok: false, problem: `is longer than ${MAX_SUPPORT_URL_LENGTH} characters` };
  return { ok: true, value: url.href };
}
