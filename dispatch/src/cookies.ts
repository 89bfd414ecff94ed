/**
 * The grant cookie. `__Host-` makes it host-only, Secure and Path=/ by browser rule, so no sibling
 * `s-*` origin can set or read it; `Partitioned` (CHIPS) keys it to the embedding top-level site, so
 * a grant set inside Confluence is never sent when the site is opened or framed elsewhere;
 * `SameSite=None` because the site is always a cross-site frame; HttpOnly because the site's own
 * script has no business reading it. Max-Age is the grant's remaining lifetime, so the browser
 * drops it when the grant could no longer verify anyway.
 */

export const GRANT_COOKIE = "__Host-ms";
/** A hostile Cookie header may repeat the name many times; we verify at most this many values. */
export const MAX_GRANT_COOKIES = 4;

export function grantCookie(grant: string, maxAgeSeconds: number): string {
  const maxAge = Math.max(0, Math.floor(maxAgeSeconds));
  return `${GRANT_COOKIE}=${grant}; Max-Age=${maxAge}; Path=/; Secure; HttpOnly; SameSite=None; Partitioned`;
}

/** Every `__Host-ms` value in the Cookie header, in order, at most MAX_GRANT_COOKIES. */
export function grantCookieValues(request: Request): string[] {
  const header = request.headers.get("cookie");
  if (header === null) return [];
  const values: string[] = [];
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0 || pair.slice(0, eq).trim() !== GRANT_COOKIE) continue;
    values.push(pair.slice(eq + 1).trim());
    if (values.length === MAX_GRANT_COOKIES) break;
  }
  return values;
}
