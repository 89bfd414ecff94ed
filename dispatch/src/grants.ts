/**
 * Grant checks on the serve path: core `verifyGrant` (HMAC, expiry, site; no database read) turned
 * into gateway refusals, with the grants this isolate already verified kept (grant-cache.ts). The
 * site always comes from the host name, never from the grant, except on the fallback origin
 * `g-<grant>`, whose host *is* the grant: there the grant names its own site, and the MAC covers that
 * site id like every other byte.
 */

import {
  base32Decode,
  GRANT_OFFSET,
  GRANT_TEXT_LENGTH,
  type GrantClaims,
  type Keyring,
  type SiteId,
  siteIdFromBytes,
  verifyGrant,
} from "@mini-sites/core";
import { type GatewayError, GRANT_MISSING } from "./errors.ts";
import { verifiedGrantsFor } from "./grant-cache.ts";

export type GrantCheck =
  | { readonly ok: true; readonly claims: GrantClaims; readonly grant: string }
  | { readonly ok: false; readonly error: GatewayError };

const MALFORMED: GatewayError = {
  status: 401,
  code: "GRANT_MALFORMED",
  message: "The access link is not a Mini-Sites grant. Open the page again.",
};

export async function checkGrant(
  keyring: Keyring,
  grant: string,
  siteId: SiteId,
  now: number,
): Promise<GrantCheck> {
  const verified = verifiedGrantsFor(keyring);
  const cached = verified.lookup(grant, siteId, now);
  if (cached !== undefined) return { ok: true, claims: cached, grant };
  const verdict = await verifyGrant(keyring, grant, { siteId, now });
  if (verdict.ok) {
    verified.add(grant, verdict.claims);
    return { ok: true, claims: verdict.claims, grant };
  }
  const details: Record<string, unknown> = {};
  if (verdict.expectedKeyIds !== undefined) details.expectedKeyIds = verdict.expectedKeyIds;
  if (verdict.receivedKeyId !== undefined) details.receivedKeyId = verdict.receivedKeyId;
  return { ok: false, error: { status: 401, code: verdict.code, message: verdict.message, details } };
}

/**
 * The first of the cookie's grant values that verifies for the host's site; if none does, the
 * refusal for the first (browsers send the most specific cookie first).
 */
export async function checkCookieGrants(
  keyring: Keyring,
  values: readonly string[],
  siteId: SiteId,
  now: number,
): Promise<GrantCheck> {
  let first: GrantCheck | undefined;
  for (const value of values) {
    const check = await checkGrant(keyring, value, siteId, now);
    if (check.ok) return check;
    first ??= check;
  }
  return first ?? { ok: false, error: GRANT_MISSING };
}

/** The site a grant claims (unverified: only to pick what `verifyGrant` checks it against). */
export function claimedSiteOf(grant: string): SiteId | undefined {
  if (grant.length !== GRANT_TEXT_LENGTH) return undefined;
  const bytes = base32Decode(grant);
  if (bytes === undefined) return undefined;
  return siteIdFromBytes(bytes.subarray(GRANT_OFFSET.siteId, GRANT_OFFSET.tenant));
}

/** Verifies the grant of a `g-<grant>` host against the site it names. */
export async function checkHostGrant(keyring: Keyring, grant: string, now: number): Promise<GrantCheck> {
  const siteId = claimedSiteOf(grant);
  if (siteId === undefined) return { ok: false, error: MALFORMED };
  return checkGrant(keyring, grant, siteId, now);
}
