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

/**
 * A tenant's allow-lists as the control Worker stores them for the dispatch Worker (one Workers KV
 * value per tenant, keyed by its short id): `{"v":1,"cdn":[…],"connect":[…]}`. The control Worker
 * writes only lists that passed `cspListProblems`; the dispatch Worker decodes with the same checks
 * and trusts nothing it reads, because the value crosses a store that an operator, a script or a
 * future writer could also fill.
 */
export interface TenantAllowLists {
  readonly cdn: readonly string[];
  readonly connect: readonly string[];
}

/** The stored format's version: a reader that does not know `v` ignores the value (deployment defaults). */
export const TENANT_ALLOW_LISTS_FORMAT = 1;

/**
 * The longest stored value a reader accepts: two full lists of the longest sources, JSON-quoted, and
 * the envelope. Anything longer was not written by the control Worker and is ignored whole.
 */
export const MAX_TENANT_ALLOW_LISTS_LENGTH = 2 * MAX_CSP_SOURCES * (MAX_CSP_SOURCE_LENGTH + 3) + 64;

/** True when neither list adds anything: the tenant gets the deployment's policy (nothing is stored). */
export function isEmptyAllowLists(lists: TenantAllowLists): boolean {
  return lists.cdn.length === 0 && lists.connect.length === 0;
}

/** The stored text for `lists`; throws when a source would not pass the reader (a caller's bug). */
export function encodeTenantAllowLists(lists: TenantAllowLists): string {
  const problem = [...cspListProblems(lists.cdn, "cdn"), ...cspListProblems(lists.connect, "connect")][0];
  if (problem !== undefined) throw new RangeError(`allow-list entry ${problem.index}: ${problem.problem}`);
  return JSON.stringify({ v: TENANT_ALLOW_LISTS_FORMAT, cdn: lists.cdn, connect: lists.connect });
}

export interface DecodedAllowLists {
  /** The acceptable sources, without duplicates; undefined when the value as a whole is not usable. */
  readonly lists: TenantAllowLists | undefined;
  /** Entries left out (a refused source, a list over the cap, a value not in the format). */
  readonly dropped: number;
}

/**
 * Reads a stored value, keeping only what `cspSourceProblem` accepts: a refused entry is dropped (never
 * passed on), a list longer than MAX_CSP_SOURCES is dropped whole (the control Worker never writes
 * one), and a value that is too long, not JSON, or of another format version gives no lists at all.
 */
export function decodeTenantAllowLists(text: string): DecodedAllowLists {
  if (text.length > MAX_TENANT_ALLOW_LISTS_LENGTH) return { lists: undefined, dropped: 1 };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { lists: undefined, dropped: 1 };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { lists: undefined, dropped: 1 };
  const record = value as Record<string, unknown>;
  if (record.v !== TENANT_ALLOW_LISTS_FORMAT) return { lists: undefined, dropped: 1 };
  let dropped = 0;
  const keep = (list: unknown, kind: CspSourceKind): string[] => {
    if (list === undefined) return [];
    if (!Array.isArray(list) || list.length > MAX_CSP_SOURCES) {
      dropped += Array.isArray(list) ? list.length : 1;
      return [];
    }
    const kept = new Set<string>();
    for (const source of list) {
      if (typeof source === "string" && cspSourceProblem(source, kind) === undefined) kept.add(source);
      else dropped++;
    }
    return [...kept];
  };
  return { lists: { cdn: keep(record.cdn, "cdn"), connect: keep(record.connect, "connect") }, dropped };
}
