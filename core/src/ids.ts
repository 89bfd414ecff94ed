/**
 * Identifiers that cross trust boundaries: site ids (in every site's origin), tenant short ids (in
 * grants and tags), version numbers, and the user Worker name the dispatch Worker derives from them.
 *
 * Every id has exactly one text spelling, checked by its parser. Site ids name origins
 * (`s-<siteId>.<SITES_DOMAIN>`): if two spellings decoded to one site, one site would have two
 * origins with two separate storages, and a grant checked against the decoded bytes would open both.
 */

import { base32Decode, base32Encode, base32Length } from "./crypto.ts";

/** Source of randomness, replaceable in tests. Defaults to the platform CSPRNG. */
export type RandomBytes = (length: number) => Uint8Array<ArrayBuffer>;

export const cryptoRandomBytes: RandomBytes = (length) => crypto.getRandomValues(new Uint8Array(length));

// --- Site ids ---------------------------------------------------------------------------------

/**
 * 8 random bytes: 64 bits make a guessed or colliding id impractical (a site id is not a secret —
 * grants guard access — but unguessable ids keep sites from being enumerated by origin).
 */
export const SITE_ID_BYTES = 8;
/** 13 lowercase base32 characters. */
export const SITE_ID_LENGTH = base32Length(SITE_ID_BYTES);

declare const siteIdBrand: unique symbol;
/** A canonical site id; obtain one from `parseSiteId` or `newSiteId`, never by a cast. */
export type SiteId = string & { readonly [siteIdBrand]: true };

export function newSiteId(random: RandomBytes = cryptoRandomBytes): SiteId {
  return base32Encode(random(SITE_ID_BYTES)) as SiteId;
}

export function parseSiteId(text: string): SiteId | undefined {
  if (text.length !== SITE_ID_LENGTH) return undefined;
  return base32Decode(text) === undefined ? undefined : (text as SiteId);
}

export function siteIdToBytes(id: SiteId): Uint8Array<ArrayBuffer> {
  return base32Decode(id) as Uint8Array<ArrayBuffer>;
}

export function siteIdFromBytes(bytes: Uint8Array): SiteId {
  if (bytes.length !== SITE_ID_BYTES) throw new RangeError(`a site id is ${SITE_ID_BYTES} bytes`);
  return base32Encode(bytes) as SiteId;
}

// --- Tenant short ids -------------------------------------------------------------------------

/**
 * A tenant (one installation: Forge app id + cloudId) is long; grants have a 38-byte budget (see
 * grants/layout.ts), so they carry a 3-byte short id that the control Worker allocates per tenant
 * (random, retried on collision, under a UNIQUE constraint). 2^24 ≈ 16.7 M tenants per deployment.
 */
export const TENANT_SHORT_ID_BYTES = 3;
/** 5 lowercase base32 characters. */
export const TENANT_SHORT_ID_LENGTH = base32Length(TENANT_SHORT_ID_BYTES);

declare const tenantShortIdBrand: unique symbol;
export type TenantShortId = string & { readonly [tenantShortIdBrand]: true };

export function newTenantShortId(random: RandomBytes = cryptoRandomBytes): TenantShortId {
  return base32Encode(random(TENANT_SHORT_ID_BYTES)) as TenantShortId;
}

export function parseTenantShortId(text: string): TenantShortId | undefined {
  if (text.length !== TENANT_SHORT_ID_LENGTH) return undefined;
  return base32Decode(text) === undefined ? undefined : (text as TenantShortId);
}

export function tenantShortIdToBytes(id: TenantShortId): Uint8Array<ArrayBuffer> {
  return base32Decode(id) as Uint8Array<ArrayBuffer>;
}

export function tenantShortIdFromBytes(bytes: Uint8Array): TenantShortId {
  if (bytes.length !== TENANT_SHORT_ID_BYTES)
    throw new RangeError(`a tenant short id is ${TENANT_SHORT_ID_BYTES} bytes`);
  return base32Encode(bytes) as TenantShortId;
}

// --- Versions ---------------------------------------------------------------------------------

/**
 * Versions of a site are numbered 1, 2, 3… Grants carry the number in 3 bytes; 16.7 M publishes of
 * one site is far beyond any rate limit we allow.
 */
export const MAX_SITE_VERSION = 0xff_ff_ff;

export function isSiteVersion(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_SITE_VERSION;
}

// --- Host labels --------------------------------------------------------------------------------

/** A site's own origin is `s-<siteId>.<SITES_DOMAIN>` (DESIGN §3, Serve). */
export const SITE_HOST_PREFIX = "s-";
/** The grant-in-hostname fallback origin is `g-<grant>.<SITES_DOMAIN>`. */
export const GRANT_HOST_PREFIX = "g-";
/** RFC 1035 §2.3.4: a DNS label is at most 63 octets. */
export const MAX_DNS_LABEL_LENGTH = 63;

export function siteHostLabel(id: SiteId): string {
  return SITE_HOST_PREFIX + id;
}

/** The site id of a host's first label, or `undefined` when the label is not exactly `s-<siteId>`. */
export function parseSiteHostLabel(label: string): SiteId | undefined {
  return label.startsWith(SITE_HOST_PREFIX) ? parseSiteId(label.slice(SITE_HOST_PREFIX.length)) : undefined;
}

// --- User Worker names and tags -----------------------------------------------------------------

/**
 * The user Worker that holds one version of one site. A pure function of (site, version) so the
 * dispatch Worker finds the Worker from a verified grant alone, with no database read on the serve
 * path. Lowercase letters, digits and dashes only: valid as a Workers script name.
 */
export function workerNameFor(siteId: SiteId, version: number): string {
  if (!isSiteVersion(version))
    throw new RangeError(`site version must be an integer in 1..${MAX_SITE_VERSION}`);
  return `s-${siteId}-v${version}`;
}

const WORKER_NAME = /^s-([a-z2-7]+)-v([1-9][0-9]{0,7})$/;

/** Inverse of `workerNameFor`, for reconcile: `undefined` for names this deployment did not make. */
export function parseWorkerName(name: string): { siteId: SiteId; version: number } | undefined {
  const match = WORKER_NAME.exec(name);
  const siteId = match ? parseSiteId(match[1] as string) : undefined;
  const version = match ? Number(match[2]) : 0;
  return siteId && isSiteVersion(version) ? { siteId, version } : undefined;
}

/** Tags on every user Worker, so a tenant or a site can be listed and purged by tag. */
export function tenantTag(id: TenantShortId): string {
  return `tenant-${id}`;
}

export function siteTag(id: SiteId): string {
  return `site-${id}`;
}
