/**
 * Content-Security-Policy host sources a tenant may add to its sites' CSP (DESIGN §3 Serve: the CDN
 * allow-list for scripts, styles, images and fonts; the network allow-list for `connect-src`). Checked
 * where an admin sets them (control Worker) and again where the policy is built (dispatch Worker), with
 * the same function, because a source is pasted into a header: anything beyond a plain scheme + host
 * (+ port, + path) could widen or break the policy.
 *
 * Accepted: `https://host`, `https://*.host`, with an optional `:port` and path; `wss://` too (network
 * list). Refused: `*` and bare schemes (they allow everything), keywords such as `'unsafe-eval'` or
 * `'self'`, `data:`/`blob:` (already granted where safe), plain `http://` (a site on https would be
 * mixed content; the dev stack's loopback sites are handled by the dispatch Worker's own list),
 * whitespace, `;` and `,` (they would end the directive or the header), and IP literals in brackets.
 */

/** Entries per list: enough for a handful of CDNs and APIs; a longer list is a different product. */
export const MAX_CSP_SOURCES = 32;
/** Length of one source. */
export const MAX_CSP_SOURCE_LENGTH = 200;

const SOURCE =
  /^(https|wss):\/\/(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+(:[0-9]{1,5})?(\/[A-Za-z0-9._~:@%/-]*)?$/;

export type CspSourceKind = "cdn" | "connect";

/** Why a source is refused, or undefined when it is acceptable for `kind`. */
export function cspSourceProblem(source: string, kind: CspSourceKind): string | undefined {
  if (source.length === 0 || source.length > MAX_CSP_SOURCE_LENGTH)
    return `must be 1–${MAX_CSP_SOURCE_LENGTH} characters`;
  if (!SOURCE.test(source))
    return "must be https://host or https://*.host (lowercase host), with an optional port and path";
  if (kind === "cdn" && source.startsWith("wss://")) return "wss:// belongs on the network list";
  // A single-label host after the wildcard ("https://*.com") would allow a whole top-level domain.
  const host = (source.split("/")[2] ?? "").replace(/:[0-9]+$/, "");
  if (host.startsWith("*.") && host.split(".").length < 3)
    return "a wildcard must cover a registrable domain, not a TLD";
  return undefined;
}

/** The sources of `list` that are not acceptable, with why — empty when the whole list is fine. */
export function cspListProblems(
  list: readonly string[],
  kind: CspSourceKind,
): { index: number; source: string; problem: string }[] {
  const problems: { index: number; source: string; problem: string }[] = [];
  if (list.length > MAX_CSP_SOURCES)
    problems.push({ index: MAX_CSP_SOURCES, source: "", problem: `at most ${MAX_CSP_SOURCES} entries` });
  list.forEach((source, index) => {
    const problem = cspSourceProblem(source, kind);
    if (problem !== undefined) problems.push({ index, source, problem });
  });
  return problems;
}
