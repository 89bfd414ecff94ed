/**
 * Serve grants: minted by the control Worker after it has authorized a viewer, verified by the
 * dispatch Worker on every request with no database read (DESIGN §3 Serve, §6.1).
 *
 * Threats: forging or altering a grant (HMAC-SHA256, 128-bit MAC, constant-time compare); replaying
 * one site's grant on another site's origin (the site id is inside the MAC and checked against the
 * host); re-spelling a grant to get a second cookie value or origin (one canonical text form);
 * learning anything from a forged grant (checks run parse → key id → MAC → expiry → site, so a bad
 * MAC is never reported as expired or cross-site, and expiry and site are only reported for grants
 * we made); a deployment whose Workers disagree on the key (GRANT_KEY_UNKNOWN names both key ids).
 */

import { base32Decode, base32Encode, hexEncode, timingSafeEqual } from "../crypto.ts";
import { type KeyId, type Keyring, type KeyringKey, keyringIds } from "../identity/keyring.ts";
import {
  isSiteVersion,
  MAX_SITE_VERSION,
  parseSiteId,
  parseTenantShortId,
  type SiteId,
  siteIdFromBytes,
  siteIdToBytes,
  type TenantShortId,
  tenantShortIdFromBytes,
  tenantShortIdToBytes,
} from "../ids.ts";
import {
  DEFAULT_GRANT_TTL_SECONDS,
  GRANT_BYTES,
  GRANT_FORMAT,
  GRANT_MAC_BYTES,
  GRANT_OFFSET,
  GRANT_TEXT_LENGTH,
  MAX_GRANT_TTL_SECONDS,
} from "./layout.ts";

export const GRANT_ERROR_CODES = [
  "GRANT_MALFORMED",
  "GRANT_KEY_UNKNOWN",
  "GRANT_BAD_SIGNATURE",
  "GRANT_EXPIRED",
  "GRANT_WRONG_SITE",
] as const;

export type GrantErrorCode = (typeof GRANT_ERROR_CODES)[number];

/** What a verified grant says. */
export interface GrantClaims {
  readonly siteId: SiteId;
  readonly version: number;
  readonly tenantId: TenantShortId;
  /** Unix seconds; the grant is valid while now < expiresAt. */
  readonly expiresAt: number;
  readonly keyId: KeyId;
}

export type GrantVerdict =
  | { readonly ok: true; readonly claims: GrantClaims }
  | {
      readonly ok: false;
      readonly code: GrantErrorCode;
      /** For people; never contains the grant, a key or a MAC. */
      readonly message: string;
      /** GRANT_KEY_UNKNOWN only: the key ids this Worker accepts, current first. */
      readonly expectedKeyIds?: readonly KeyId[];
      /** GRANT_KEY_UNKNOWN only: the key id the grant names. */
      readonly receivedKeyId?: KeyId;
    };

export interface GrantRequest {
  readonly siteId: SiteId;
  readonly version: number;
  readonly tenantId: TenantShortId;
  /** Defaults to DEFAULT_GRANT_TTL_SECONDS; at most MAX_GRANT_TTL_SECONDS. */
  readonly ttlSeconds?: number;
}

export interface MintedGrant {
  /** 61 lowercase base32 characters: a path segment, a cookie value and (after `g-`) a DNS label. */
  readonly text: string;
  readonly claims: GrantClaims;
}

const MAX_UINT32 = 0xff_ff_ff_ff;

async function macOf(key: KeyringKey, body: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key.hmac, body), 0, GRANT_MAC_BYTES);
}

/**
 * Makes a grant with the keyring's current key (a previous key never signs). `now` is Unix
 * milliseconds (`Date.now()`). Throws RangeError for claims that no grant may carry: the caller
 * (the control Worker) has a bug, not the viewer.
 */
export async function mintGrant(keyring: Keyring, request: GrantRequest, now: number): Promise<MintedGrant> {
  const siteId = parseSiteId(request.siteId);
  if (siteId === undefined) throw new RangeError("grant: siteId is not a site id");
  const tenantId = parseTenantShortId(request.tenantId);
  if (tenantId === undefined) throw new RangeError("grant: tenantId is not a tenant short id");
  if (!isSiteVersion(request.version))
    throw new RangeError(`grant: version must be an integer in 1..${MAX_SITE_VERSION}`);
  const ttl = request.ttlSeconds ?? DEFAULT_GRANT_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_GRANT_TTL_SECONDS) {
    throw new RangeError(`grant: ttlSeconds must be an integer in 1..${MAX_GRANT_TTL_SECONDS}`);
  }
  if (!Number.isFinite(now) || now < 0) throw new RangeError("grant: now must be Unix milliseconds");
  const expiresAt = Math.floor(now / 1000) + ttl;
  if (expiresAt > MAX_UINT32) throw new RangeError("grant: expiry does not fit in 32 bits");

  const bytes = new Uint8Array(GRANT_BYTES);
  const view = new DataView(bytes.buffer);
  bytes[GRANT_OFFSET.format] = GRANT_FORMAT;
  bytes.set(keyring.current.idBytes, GRANT_OFFSET.keyId);
  view.setUint32(GRANT_OFFSET.expiresAt, expiresAt);
  view.setUint8(GRANT_OFFSET.version, request.version >>> 16);
  view.setUint16(GRANT_OFFSET.version + 1, request.version & 0xffff);
  bytes.set(siteIdToBytes(siteId), GRANT_OFFSET.siteId);
  bytes.set(tenantShortIdToBytes(tenantId), GRANT_OFFSET.tenant);
  bytes.set(await macOf(keyring.current, bytes.subarray(0, GRANT_OFFSET.mac)), GRANT_OFFSET.mac);

  return {
    text: base32Encode(bytes),
    claims: { siteId, version: request.version, tenantId, expiresAt, keyId: keyring.current.id },
  };
}

function refuse(code: GrantErrorCode, message: string): GrantVerdict {
  return Object.freeze({ ok: false, code, message });
}

const MALFORMED = refuse(
  "GRANT_MALFORMED",
  "The access link is not a Mini-Sites grant. Open the page again.",
);
const BAD_SIGNATURE = refuse("GRANT_BAD_SIGNATURE", "The access link has been altered. Open the page again.");
const EXPIRED = refuse("GRANT_EXPIRED", "The access link has expired. Reload the page to get a new one.");
const WRONG_SITE = refuse("GRANT_WRONG_SITE", "The access link is for a different mini-site.");

function sameBytes(a: Uint8Array, b: Uint8Array, offset: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[offset + i]) return false;
  return true;
}

/**
 * Verifies a grant's text for the site of the request's host. `now` is Unix milliseconds. The order
 * of checks is part of the contract: parse → key id known → MAC → expiry → site.
 */
export async function verifyGrant(
  keyring: Keyring,
  text: string,
  expected: { readonly siteId: SiteId; readonly now: number },
): Promise<GrantVerdict> {
  // Length first: an attacker-sized cookie costs nothing to refuse.
  if (typeof text !== "string" || text.length !== GRANT_TEXT_LENGTH) return MALFORMED;
  const bytes = base32Decode(text);
  if (bytes === undefined || bytes[GRANT_OFFSET.format] !== GRANT_FORMAT) return MALFORMED;

  const current = keyring.current;
  const previous = keyring.previous;
  const candidates: KeyringKey[] = [];
  if (sameBytes(current.idBytes, bytes, GRANT_OFFSET.keyId)) candidates.push(current);
  if (previous && sameBytes(previous.idBytes, bytes, GRANT_OFFSET.keyId)) candidates.push(previous);
  if (candidates.length === 0) {
    const receivedKeyId = hexEncode(bytes.subarray(GRANT_OFFSET.keyId, GRANT_OFFSET.expiresAt));
    const expectedKeyIds = keyringIds(keyring);
    return {
      ok: false,
      code: "GRANT_KEY_UNKNOWN",
      message:
        `The access link was signed with key ${receivedKeyId}, but this gateway accepts ${expectedKeyIds.join(", ")}. ` +
        "The Workers of this deployment do not share one identity: run `mini-sites doctor`.",
      expectedKeyIds,
      receivedKeyId,
    };
  }

  const body = bytes.subarray(0, GRANT_OFFSET.mac);
  const mac = bytes.subarray(GRANT_OFFSET.mac);
  let signer: KeyringKey | undefined;
  for (const key of candidates) {
    if (timingSafeEqual(await macOf(key, body), mac)) signer = key;
  }
  if (signer === undefined) return BAD_SIGNATURE;

  const view = new DataView(bytes.buffer);
  const expiresAt = view.getUint32(GRANT_OFFSET.expiresAt);
  if (!Number.isFinite(expected.now) || Math.floor(expected.now / 1000) >= expiresAt) return EXPIRED;

  const siteId = siteIdFromBytes(bytes.subarray(GRANT_OFFSET.siteId, GRANT_OFFSET.tenant));
  if (siteId !== expected.siteId) return WRONG_SITE;

  const version = (view.getUint8(GRANT_OFFSET.version) << 16) | view.getUint16(GRANT_OFFSET.version + 1);
  // Only this deployment's minter could have made these bytes, and it never writes version 0.
  if (!isSiteVersion(version)) return MALFORMED;
  return {
    ok: true,
    claims: {
      siteId,
      version,
      tenantId: tenantShortIdFromBytes(bytes.subarray(GRANT_OFFSET.tenant, GRANT_OFFSET.mac)),
      expiresAt,
      keyId: signer.id,
    },
  };
}
