import { describe, expect, it } from "vitest";
import { base32Decode, base32Encode, hexEncode } from "../../src/crypto.ts";
import {
  DEFAULT_GRANT_TTL_SECONDS,
  GRANT_BYTES,
  GRANT_FORMAT,
  GRANT_TEXT_LENGTH,
  MAX_GRANT_TTL_SECONDS,
  mintGrant,
  verifyGrant,
} from "../../src/grants/index.ts";
import {
  createKeyring,
  KEY_PURPOSE,
  type Keyring,
  keyringFor,
  requireIdentity,
} from "../../src/identity/index.ts";
import {
  MAX_SITE_VERSION,
  type SiteId,
  siteIdToBytes,
  type TenantShortId,
  tenantShortIdToBytes,
} from "../../src/ids.ts";
import { K_GRANT, NOW, OTHER_PSK, PSK, SITE_A, SITE_B, sharedKeyring, TENANT } from "./support.ts";

const claims = { siteId: SITE_A, version: 42, tenantId: TENANT };
const nowSeconds = Math.floor(NOW / 1000);

describe("a grant minted by this deployment", () => {
  it("verifies on its own site and returns what it binds: site, version, tenant, expiry and key id", async () => {
    const keyring = await sharedKeyring();
    const minted = await mintGrant(keyring, claims, NOW);
    const verdict = await verifyGrant(keyring, minted.text, { siteId: SITE_A, now: NOW });
    expect(verdict).toEqual({
      ok: true,
      claims: { ...claims, expiresAt: nowSeconds + DEFAULT_GRANT_TTL_SECONDS, keyId: keyring.current.id },
    });
    expect(minted.claims).toEqual(verdict.ok && verdict.claims);
  });

  it("fits a DNS label after g-, a 128-byte cookie and a URL path segment: 61 characters of [a-z2-7]", async () => {
    const { text } = await mintGrant(await sharedKeyring(), claims, NOW);
    expect(text).toMatch(/^[a-z2-7]{61}$/);
    expect(`g-${text}`.length).toBeLessThanOrEqual(63);
    expect(new TextEncoder().encode(`__Host-ms=${text}`).length).toBeLessThanOrEqual(128);
    expect(encodeURIComponent(text)).toBe(text);
  });

  it("is laid out as documented: format, key id, uint32 expiry, uint24 version, site, tenant, 16-byte MAC", async () => {
    const keyring = await sharedKeyring();
    const { text } = await mintGrant(keyring, { ...claims, version: MAX_SITE_VERSION, ttlSeconds: 90 }, NOW);
    const bytes = base32Decode(text) as Uint8Array<ArrayBuffer>;
    const view = new DataView(bytes.buffer);
    expect(bytes.length).toBe(GRANT_BYTES);
    expect(GRANT_TEXT_LENGTH).toBe(61);
    expect(bytes[0]).toBe(GRANT_FORMAT);
    expect(hexEncode(bytes.subarray(1, 4))).toBe(keyring.current.id);
    expect(view.getUint32(4)).toBe(nowSeconds + 90);
    expect((view.getUint8(8) << 16) | view.getUint16(9)).toBe(MAX_SITE_VERSION);
    expect(bytes.subarray(11, 19)).toEqual(siteIdToBytes(SITE_A));
    expect(bytes.subarray(19, 22)).toEqual(tenantShortIdToBytes(TENANT));
  });

  it("is still valid one millisecond before it expires, and GRANT_EXPIRED from the second it expires", async () => {
    const keyring = await sharedKeyring();
    const { text, claims: minted } = await mintGrant(keyring, { ...claims, ttlSeconds: 60 }, NOW);
    const at = (now: number) => verifyGrant(keyring, text, { siteId: SITE_A, now });
    expect((await at(minted.expiresAt * 1000 - 1)).ok).toBe(true);
    expect(await at(minted.expiresAt * 1000)).toMatchObject({ ok: false, code: "GRANT_EXPIRED" });
    expect(await at(minted.expiresAt * 1000 + 1000)).toMatchObject({ ok: false, code: "GRANT_EXPIRED" });
    expect(await at(Number.NaN)).toMatchObject({ ok: false, code: "GRANT_EXPIRED" });
  });

  it("is GRANT_WRONG_SITE on any other site's origin", async () => {
    const keyring = await sharedKeyring();
    const { text } = await mintGrant(keyring, claims, NOW);
    expect(await verifyGrant(keyring, text, { siteId: SITE_B, now: NOW })).toMatchObject({
      ok: false,
      code: "GRANT_WRONG_SITE",
    });
  });

  it("reports expiry before site, and only once the MAC is good", async () => {
    const keyring = await sharedKeyring();
    const { text } = await mintGrant(keyring, { ...claims, ttlSeconds: 1 }, NOW);
    const later = NOW + 10_000;
    expect(await verifyGrant(keyring, text, { siteId: SITE_B, now: later })).toMatchObject({
      code: "GRANT_EXPIRED",
    });
    const bytes = base32Decode(text) as Uint8Array<ArrayBuffer>;
    bytes[37] = (bytes[37] as number) ^ 1;
    expect(await verifyGrant(keyring, base32Encode(bytes), { siteId: SITE_B, now: later })).toMatchObject({
      code: "GRANT_BAD_SIGNATURE",
    });
  });
});

describe("grants from another key", () => {
  it("are GRANT_KEY_UNKNOWN naming the ids this gateway expects and the id the grant carries", async () => {
    const ours = await sharedKeyring();
    const theirs = await sharedKeyring(OTHER_PSK);
    const { text } = await mintGrant(theirs, claims, NOW);
    const verdict = await verifyGrant(ours, text, { siteId: SITE_A, now: NOW });
    expect(verdict).toMatchObject({
      ok: false,
      code: "GRANT_KEY_UNKNOWN",
      expectedKeyIds: [ours.current.id],
      receivedKeyId: theirs.current.id,
    });
    expect(verdict.ok || verdict.message).toContain(ours.current.id);
    expect(verdict.ok || verdict.message).toContain(theirs.current.id);
    expect(verdict.ok || verdict.message).not.toContain(text);
  });

  it("are GRANT_KEY_UNKNOWN even when expired and for another site: the key is checked first", async () => {
    const { text } = await mintGrant(await sharedKeyring(OTHER_PSK), { ...claims, ttlSeconds: 1 }, NOW);
    const verdict = await verifyGrant(await sharedKeyring(), text, { siteId: SITE_B, now: NOW + 60_000 });
    expect(verdict).toMatchObject({ code: "GRANT_KEY_UNKNOWN" });
  });

  it("do not verify between a legacy K_GRANT deployment and a shared-identity one", async () => {
    const legacy = await keyringFor(requireIdentity({ K_GRANT }), KEY_PURPOSE.grant);
    const { text } = await mintGrant(legacy, claims, NOW);
    expect(await verifyGrant(await sharedKeyring(), text, { siteId: SITE_A, now: NOW })).toMatchObject({
      code: "GRANT_KEY_UNKNOWN",
    });
    expect((await verifyGrant(legacy, text, { siteId: SITE_A, now: NOW })).ok).toBe(true);
  });
});

describe("key rotation", () => {
  const OLD = PSK;
  const NEW = "a-brand-new-deployment-secret-0123456789abcdef";

  it("keeps grants made with the previous key valid during the overlap window", async () => {
    const before = await sharedKeyring(OLD);
    const during = await sharedKeyring(NEW, "app-1", OLD);
    const { text } = await mintGrant(before, claims, NOW);
    const verdict = await verifyGrant(during, text, { siteId: SITE_A, now: NOW });
    expect(verdict).toMatchObject({ ok: true, claims: { keyId: before.current.id } });
  });

  it("mints only with the current key", async () => {
    const during = await sharedKeyring(NEW, "app-1", OLD);
    const { claims: minted } = await mintGrant(during, claims, NOW);
    expect(minted.keyId).toBe(during.current.id);
    expect(during.previous?.id).not.toBe(during.current.id);
  });

  it("stops accepting the previous key once it is dropped, naming the one id still accepted", async () => {
    const before = await sharedKeyring(OLD);
    const after = await sharedKeyring(NEW);
    const { text } = await mintGrant(before, claims, NOW);
    expect(await verifyGrant(after, text, { siteId: SITE_A, now: NOW })).toMatchObject({
      code: "GRANT_KEY_UNKNOWN",
      expectedKeyIds: [after.current.id],
      receivedKeyId: before.current.id,
    });
  });

  it("works the same with legacy K_GRANT and K_GRANT_PREVIOUS", async () => {
    const before = await keyringFor(requireIdentity({ K_GRANT }), KEY_PURPOSE.grant);
    const during = await keyringFor(
      requireIdentity({ K_GRANT: NEW, K_GRANT_PREVIOUS: K_GRANT }),
      KEY_PURPOSE.grant,
    );
    const { text } = await mintGrant(before, claims, NOW);
    expect((await verifyGrant(during, text, { siteId: SITE_A, now: NOW })).ok).toBe(true);
  });

  it("tries every key that shares a key id, so a chance id collision never rejects a good grant", async () => {
    const a = await createKeyring(KEY_PURPOSE.grant, new TextEncoder().encode(`${PSK}-a`));
    const b = await createKeyring(KEY_PURPOSE.grant, new TextEncoder().encode(`${PSK}-b`));
    const bUnderAsId = { ...b.current, id: a.current.id, idBytes: a.current.idBytes };
    const colliding: Keyring = { purpose: KEY_PURPOSE.grant, current: a.current, previous: bUnderAsId };
    const fromB: Keyring = { purpose: KEY_PURPOSE.grant, current: bUnderAsId, previous: undefined };
    const { text } = await mintGrant(fromB, claims, NOW);
    expect((await verifyGrant(colliding, text, { siteId: SITE_A, now: NOW })).ok).toBe(true);
  });
});

describe("minting refuses claims no grant may carry", () => {
  it.each([
    ["version 0", { version: 0 }],
    ["a version over 2^24 - 1", { version: MAX_SITE_VERSION + 1 }],
    ["a fractional version", { version: 1.5 }],
    ["a TTL of 0", { ttlSeconds: 0 }],
    ["a TTL over a day", { ttlSeconds: MAX_GRANT_TTL_SECONDS + 1 }],
    ["a site id that is not canonical", { siteId: "AAAAAAAAAAAAA" as SiteId }],
    ["a tenant id of the wrong length", { tenantId: "abc" as TenantShortId }],
  ])("refuses %s", async (_, override) => {
    await expect(mintGrant(await sharedKeyring(), { ...claims, ...override }, NOW)).rejects.toThrow(
      RangeError,
    );
  });

  it("refuses an expiry past 2106, which uint32 seconds cannot hold", async () => {
    await expect(mintGrant(await sharedKeyring(), claims, 2 ** 32 * 1000)).rejects.toThrow(RangeError);
  });
});
