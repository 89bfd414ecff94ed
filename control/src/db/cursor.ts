/**
 * Opaque page cursors for keyset pagination. A cursor is the sort key of the last row of a page,
 * tagged with the listing it belongs to, in base64url JSON: clients must treat it as opaque (we may
 * change the encoding), and the server trusts nothing in it — it is decoded strictly and only moves
 * the position inside the caller's own tenant-scoped query, so a forged cursor cannot reach another
 * tenant's rows. Why keyset and not OFFSET: page 200 of 10,000 sites costs one index seek, not a scan.
 */

import { base64urlDecode, base64urlEncode } from "@mini-sites/core";

/** Longest cursor accepted, in characters: a sort key is a timestamp and an id, not a document. */
export const MAX_CURSOR_LENGTH = 256;

export type CursorKey = readonly (string | number)[];

export function encodeCursor(listing: string, key: CursorKey): string {
  return base64urlEncode(new TextEncoder().encode(JSON.stringify([listing, ...key])));
}

/**
 * The key of a cursor issued for `listing` whose parts have the given types, or `undefined` for
 * anything else (another listing's cursor, a truncated or edited one).
 */
export function decodeCursor(
  listing: string,
  text: string,
  shape: readonly ("string" | "integer")[],
): CursorKey | undefined {
  if (text.length === 0 || text.length > MAX_CURSOR_LENGTH) return undefined;
  const bytes = base64urlDecode(text);
  if (bytes === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== shape.length + 1 || parsed[0] !== listing) return undefined;
  const key = parsed.slice(1) as unknown[];
  const ok = shape.every((type, i) =>
    type === "string" ? typeof key[i] === "string" : Number.isSafeInteger(key[i]),
  );
  return ok ? (key as CursorKey) : undefined;
}
