/**
 * The grant from the attacker's side (DESIGN §6.1): whatever is done to a grant's text or bytes —
 * flip, truncate, extend, re-spell, move to another site, forge from nothing — it does not verify,
 * and a tampered grant is never reported as merely expired or cross-site.
 */

import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { base32Decode, base32Encode, base64urlEncode, hexEncode } from "../../src/crypto.ts";
import {
  GRANT_BYTES,
  GRANT_TEXT_LENGTH,
  MAX_GRANT_TTL_SECONDS,
  mintGrant,
  verifyGrant,
} from "../../src/grants/index.ts";
import type { Keyring } from "../../src/identity/index.ts";
import {
  MAX_SITE_VERSION,
  type SiteId,
  siteIdFromBytes,
  siteIdToBytes,
  type TenantShortId,
  tenantShortIdFromBytes,
} from "../../src/ids.ts";
import { NOW, SITE_A, SITE_B, sharedKeyring, TENANT } from "./support.ts";

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
const siteIds = fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => siteIdFromBytes(b));
const tenantIds = fc.uint8Array({ minLength: 3, maxLength: 3 }).map((b) => tenantShortIdFromBytes(b));
const requests = fc.record({
  siteId: siteIds,
  version: fc.integer({ min: 1, max: MAX_SITE_VERSION }),
  tenantId: tenantIds,
  ttlSeconds: fc.integer({ min: 1, max: MAX_GRANT_TTL_SECONDS }),
});

let keyring: Keyring;
let grant: string;
let grantBytes: Uint8Array<ArrayBuffer>;

beforeAll(async () => {
  keyring = await sharedKeyring();
  grant = (await mintGrant(keyring, { siteId: SITE_A, version: 3, tenantId: TENANT }, NOW)).text;
  grantBytes = base32Decode(grant) as Uint8Array<ArrayBuffer>;
});

const verifyOnA = (text: string, now = NOW) => verifyGrant(keyring, text, { siteId: SITE_A, now });

describe("tampering", () => {
  it("no single-byte change anywhere in a grant verifies (all 38 × 255 changes)", async () => {
    for (let position = 0; position < GRANT_BYTES; position++) {
      for (let delta = 1; delta < 256; delta++) {
        const bytes = grantBytes.slice();
        bytes[position] = (bytes[position] as number) ^ delta;
        const verdict = await verifyOnA(base32Encode(bytes));
        // Format byte → malformed; key id bytes → unknown key; everything else → bad MAC.
        const expected =
          position === 0 ? "GRANT_MALFORMED" : position < 4 ? "GRANT_KEY_UNKNOWN" : "GRANT_BAD_SIGNATURE";
        expect(verdict, `byte ${position} ^ ${delta}`).toMatchObject({ ok: false, code: expected });
      }
    }
  });

  it("no single-character change of a grant's text verifies (every position, every other character)", async () => {
    for (let position = 0; position < grant.length; position++) {
      for (const replacement of `${BASE32}ABZ019=-_. `) {
        if (replacement === grant[position]) continue;
        const text = grant.slice(0, position) + replacement + grant.slice(position + 1);
        expect((await verifyOnA(text)).ok, `${position} → ${replacement}`).toBe(false);
      }
    }
  });

  it("no single-byte change verifies in any grant, however it was minted, and none is reported as expired or cross-site", async () => {
    await fc.assert(
      fc.asyncProperty(
        requests,
        fc.nat(GRANT_BYTES - 1),
        fc.integer({ min: 1, max: 255 }),
        fc.integer({ min: 0, max: 2 * MAX_GRANT_TTL_SECONDS }),
        siteIds,
        async (request, position, delta, late, otherSite) => {
          const bytes = base32Decode(
            (await mintGrant(keyring, request, NOW)).text,
          ) as Uint8Array<ArrayBuffer>;
          bytes[position] = (bytes[position] as number) ^ delta;
          const verdict = await verifyGrant(keyring, base32Encode(bytes), {
            siteId: otherSite,
            now: NOW + late * 1000,
          });
          expect(verdict.ok).toBe(false);
          expect(["GRANT_MALFORMED", "GRANT_KEY_UNKNOWN", "GRANT_BAD_SIGNATURE"]).toContain(
            verdict.ok || verdict.code,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a grant moved to another site by rewriting its site bytes does not verify there", async () => {
    const bytes = grantBytes.slice();
    bytes.set(siteIdToBytes(SITE_B), 11);
    expect(await verifyGrant(keyring, base32Encode(bytes), { siteId: SITE_B, now: NOW })).toMatchObject({
      code: "GRANT_BAD_SIGNATURE",
    });
  });

  it("a grant for one site never verifies on another site's origin", async () => {
    await fc.assert(
      fc.asyncProperty(requests, siteIds, async (request, host) => {
        fc.pre(host !== request.siteId);
        const { text } = await mintGrant(keyring, request, NOW);
        expect(await verifyGrant(keyring, text, { siteId: host, now: NOW })).toMatchObject({
          ok: false,
          code: "GRANT_WRONG_SITE",
        });
      }),
    );
  });
});

describe("truncation and extension", () => {
  it("no prefix of a grant verifies", async () => {
    for (let length = 0; length < grant.length; length++) {
      expect(await verifyOnA(grant.slice(0, length))).toMatchObject({ ok: false, code: "GRANT_MALFORMED" });
    }
  });

  it("no grant with anything appended or prepended verifies", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 80 }), async (extra) => {
        expect((await verifyOnA(grant + extra)).ok).toBe(false);
        expect((await verifyOnA(extra + grant)).ok).toBe(false);
      }),
    );
  });

  it("a grant with a character removed anywhere does not verify", async () => {
    for (let i = 0; i < grant.length; i++) {
      expect((await verifyOnA(grant.slice(0, i) + grant.slice(i + 1))).ok).toBe(false);
    }
  });
});

describe("re-encoding", () => {
  it("other spellings of the same grant bytes do not verify: case, padding, whitespace, base64, hex, percent-encoding, host prefix", async () => {
    const spellings = [
      grant.toUpperCase(),
      grant[0]?.toUpperCase() + grant.slice(1),
      `${grant}===`,
      `${grant}=`,
      ` ${grant}`,
      `${grant} `,
      `${grant}\n`,
      `${grant.slice(0, 30)} ${grant.slice(30)}`,
      `${grant.slice(0, 30)}\u200b${grant.slice(30)}`,
      base64urlEncode(grantBytes),
      Buffer.from(grantBytes).toString("base64"),
      hexEncode(grantBytes),
      [...grant].map((c) => `%${c.charCodeAt(0).toString(16)}`).join(""),
      `g-${grant}`,
      `"${grant}"`,
    ];
    for (const text of spellings)
      expect(await verifyOnA(text), text).toMatchObject({ ok: false, code: "GRANT_MALFORMED" });
  });

  it("no mixed-case spelling of any grant verifies", async () => {
    await fc.assert(
      fc.asyncProperty(
        requests,
        fc.array(fc.boolean(), { minLength: GRANT_TEXT_LENGTH, maxLength: GRANT_TEXT_LENGTH }),
        async (request, upper) => {
          const { text } = await mintGrant(keyring, request, NOW);
          const respelled = [...text].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join("");
          fc.pre(respelled !== text);
          expect((await verifyGrant(keyring, respelled, { siteId: request.siteId, now: NOW })).ok).toBe(
            false,
          );
        },
      ),
    );
  });

  it("the last character has exactly one valid value for given bytes: its unused low bits must be zero", async () => {
    const last = grant.at(-1) as string;
    const value = BASE32.indexOf(last);
    // 61 characters carry 305 bits for 304: the lowest bit of the last character is padding.
    const sibling = BASE32[value ^ 1] as string;
    expect(await verifyOnA(grant.slice(0, -1) + sibling)).toMatchObject({ code: "GRANT_MALFORMED" });
  });
});

describe("forgery from nothing", () => {
  it("random strings never verify", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200 }), async (text) => {
        expect((await verifyOnA(text)).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it("random 61-character base32 strings never verify", async () => {
    const chars = fc.constantFrom(...BASE32);
    await fc.assert(
      fc.asyncProperty(fc.array(chars, { minLength: 61, maxLength: 61 }), async (text) => {
        expect((await verifyOnA(text.join(""))).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it("random bytes with the right format byte and this deployment's key id fail on the MAC", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: GRANT_BYTES, maxLength: GRANT_BYTES }), async (bytes) => {
        bytes[0] = 1;
        bytes.set(keyring.current.idBytes, 1);
        bytes.set(siteIdToBytes(SITE_A), 11);
        new DataView(bytes.buffer).setUint32(4, Math.floor(NOW / 1000) + 60);
        expect(await verifyOnA(base32Encode(bytes))).toMatchObject({
          ok: false,
          code: "GRANT_BAD_SIGNATURE",
        });
      }),
      { numRuns: 500 },
    );
  });
});

describe("size", () => {
  it("every grant is 61 characters of [a-z2-7]: ≤ 63 with the g- prefix, ≤ 128 bytes, and round-trips its claims", async () => {
    await fc.assert(
      fc.asyncProperty(requests, fc.integer({ min: 0, max: 4_000_000_000_000 }), async (request, now) => {
        const { text, claims } = await mintGrant(keyring, request, now);
        expect(text).toMatch(/^[a-z2-7]{61}$/);
        expect(`g-${text}`.length).toBeLessThanOrEqual(63);
        expect(new TextEncoder().encode(text).length).toBeLessThanOrEqual(128);
        const verdict = await verifyGrant(keyring, text, { siteId: request.siteId, now });
        expect(verdict).toEqual({ ok: true, claims });
        expect(claims).toMatchObject({
          siteId: request.siteId as SiteId,
          version: request.version,
          tenantId: request.tenantId as TenantShortId,
        });
      }),
      { numRuns: 300 },
    );
  });

  it("expires exactly at its expiry second, whatever its TTL", async () => {
    await fc.assert(
      fc.asyncProperty(
        requests,
        fc.integer({ min: 0, max: 2 * MAX_GRANT_TTL_SECONDS * 1000 }),
        async (request, elapsed) => {
          const { text, claims } = await mintGrant(keyring, request, NOW);
          const now = NOW + elapsed;
          const verdict = await verifyGrant(keyring, text, { siteId: request.siteId, now });
          if (Math.floor(now / 1000) < claims.expiresAt) expect(verdict.ok).toBe(true);
          else expect(verdict).toMatchObject({ ok: false, code: "GRANT_EXPIRED" });
        },
      ),
    );
  });
});
