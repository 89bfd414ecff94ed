/**
 * Grants this isolate has verified, so a page and its fifty subresources pay for one HMAC, not fifty.
 * One cache per keyring (so per env: a key rotation or another deployment's env never sees entries
 * verified with other keys), at most GRANT_CACHE_ENTRIES, least recently used evicted first.
 *
 * Why it cannot let anything through that verification would refuse:
 * - only a grant whose MAC verified is ever stored, keyed by its exact text: a forged, altered or
 *   re-spelled grant misses and pays the full check (HMAC, constant-time compare) as before, and a
 *   refused grant is never stored, so only holders of valid grants can fill the cache;
 * - a hit is served only while the grant is unexpired and names the host's site; anything else goes
 *   back through `verifyGrant`, which gives the same typed refusal it always did (an expired entry is
 *   dropped on the way), so no entry outlives its grant;
 * - a hit is faster than a miss, which tells the requester only that the grant they already hold was
 *   used before: nothing about any grant they do not hold.
 */

import { type GrantClaims, type Keyring, onePer } from "@mini-sites/core";

/**
 * A viewer holds one grant per open site (renewals replace it); a thousand covers every viewer an
 * isolate serves within a grant's lifetime at any realistic rate, in well under a megabyte.
 */
export const GRANT_CACHE_ENTRIES = 1024;

export class VerifiedGrants {
  readonly #capacity: number;
  /** Map keeps insertion order: the first key is the least recently used. */
  readonly #entries = new Map<string, GrantClaims>();

  constructor(capacity = GRANT_CACHE_ENTRIES) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * The claims of `grant` if it verified before, is still unexpired at `now` (Unix ms) and names
   * `siteId`; otherwise undefined, and an expired entry is forgotten.
   */
  lookup(grant: string, siteId: string, now: number): GrantClaims | undefined {
    const claims = this.#entries.get(grant);
    if (claims === undefined) return undefined;
    // Written as "not before expiry" so that a NaN clock counts as expired, as in verifyGrant.
    if (!(Math.floor(now / 1000) < claims.expiresAt)) {
      this.#entries.delete(grant);
      return undefined;
    }
    if (claims.siteId !== siteId) return undefined;
    this.#entries.delete(grant);
    this.#entries.set(grant, claims);
    return claims;
  }

  /** Remembers a grant that `verifyGrant` accepted. */
  add(grant: string, claims: GrantClaims): void {
    this.#entries.delete(grant);
    this.#entries.set(grant, claims);
    if (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }
}

export const verifiedGrantsFor = onePer((_keyring: Keyring) => new VerifiedGrants());
