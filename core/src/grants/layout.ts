/**
 * The serve grant's binary layout and its text form.
 *
 * Budget. A grant travels in three places (DESIGN §3, Serve): the `/__ms/enter/<grant>` path, the
 * `__Host-ms` partitioned cookie (≤ 128 bytes: partitioned cookies share a small per-partition
 * budget) and the fallback origin `g-<grant>.<SITES_DOMAIN>`, where `g-` plus the grant must fit one
 * DNS label of 63 characters (RFC 1035 §2.3.4). So the text is at most 61 lowercase base32 characters,
 * and the binary grant at most floor(61 × 5 / 8) = 38 bytes. This layout uses exactly 38:
 *
 *   offset  size  field
 *        0     1  format            GRANT_FORMAT (0x01); any other value is GRANT_MALFORMED
 *        1     3  key id            which key made the MAC (identity/keyring.ts, KEY_ID_BYTES)
 *        4     4  expires at        uint32 big-endian, Unix seconds (good until 2106)
 *        8     3  version           uint24 big-endian, 1..MAX_SITE_VERSION (ids.ts)
 *       11     8  site id           raw bytes of the SiteId (ids.ts)
 *       19     3  tenant short id   raw bytes of the TenantShortId (ids.ts)
 *       22    16  MAC               HMAC-SHA256(grant key, bytes 0..21), first 16 bytes (128 bits,
 *                                   the floor of RFC 2104 §5 / NIST SP 800-107 for truncation)
 *   total 38 bytes → 61 base32 characters → `g-` + 61 = 63-character label, 61-byte cookie value.
 *
 * The MAC covers every other byte, the format byte and key id included, so no field can be changed,
 * moved to another key or reinterpreted by another format. Its input (22 bytes starting 0x01) can
 * never equal the key id input ("mini-sites key id", 17 bytes), so the public key id is never a MAC.
 * Text form: lowercase base32 without padding, canonical (crypto.ts), valid as a URL path segment,
 * a cookie value and a DNS label; one spelling per grant.
 */

import { base32Length } from "../crypto.ts";
import { KEY_ID_BYTES } from "../identity/keyring.ts";
import { SITE_ID_BYTES, TENANT_SHORT_ID_BYTES } from "../ids.ts";

export const GRANT_FORMAT = 0x01;

export const GRANT_OFFSET = {
  format: 0,
  keyId: 1,
  expiresAt: 1 + KEY_ID_BYTES,
  version: 1 + KEY_ID_BYTES + 4,
  siteId: 1 + KEY_ID_BYTES + 4 + 3,
  tenant: 1 + KEY_ID_BYTES + 4 + 3 + SITE_ID_BYTES,
  mac: 1 + KEY_ID_BYTES + 4 + 3 + SITE_ID_BYTES + TENANT_SHORT_ID_BYTES,
} as const;

/** RFC 2104 §5: a truncated HMAC keeps at least half the hash output; 128 bits also defeats guessing. */
export const GRANT_MAC_BYTES = 16;
export const GRANT_BYTES = GRANT_OFFSET.mac + GRANT_MAC_BYTES;
export const GRANT_TEXT_LENGTH = base32Length(GRANT_BYTES);

/** Limits the layout must respect; checked here so a field added later cannot silently break them. */
export const MAX_GRANT_TEXT_LENGTH = 61;
export const MAX_GRANT_COOKIE_BYTES = 128;

if (GRANT_TEXT_LENGTH > MAX_GRANT_TEXT_LENGTH || GRANT_TEXT_LENGTH > MAX_GRANT_COOKIE_BYTES) {
  throw new Error(`grant layout is ${GRANT_BYTES} bytes (${GRANT_TEXT_LENGTH} characters): over budget`);
}

/** Grants live 10 minutes by default: the TTL is the revocation delay (DESIGN §3, Serve). */
export const DEFAULT_GRANT_TTL_SECONDS = 600;
/** A deployment may raise the TTL, but a grant living longer than a day is a revocation hole. */
export const MAX_GRANT_TTL_SECONDS = 86_400;
