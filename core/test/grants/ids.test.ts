import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { base32Encode } from "../../src/crypto.ts";
import {
  MAX_DNS_LABEL_LENGTH,
  MAX_SITE_VERSION,
  newSiteId,
  newTenantShortId,
  parseSiteHostLabel,
  parseSiteId,
  parseTenantShortId,
  parseWorkerName,
  type SiteId,
  siteHostLabel,
  siteIdFromBytes,
  siteIdToBytes,
  workerNameFor,
} from "../../src/ids.ts";

const siteIds = fc.uint8Array({ minLength: 8, maxLength: 8 }).map((bytes) => siteIdFromBytes(bytes));
const versions = fc.integer({ min: 1, max: MAX_SITE_VERSION });

describe("site ids", () => {
  it("are 13 lowercase base32 characters that parse back to themselves", () => {
    fc.assert(
      fc.property(siteIds, (id) => {
        expect(id).toMatch(/^[a-z2-7]{13}$/);
        expect(parseSiteId(id)).toBe(id);
        expect(siteIdFromBytes(siteIdToBytes(id))).toBe(id);
      }),
    );
  });

  it("come from the random source, so two new ids differ", () => {
    expect(newSiteId()).not.toBe(newSiteId());
    expect(newSiteId(() => new Uint8Array(8))).toBe("aaaaaaaaaaaaa");
  });

  it("have one spelling: upper case, a set padding bit, padding, or a wrong length is not a site id", () => {
    fc.assert(
      fc.property(siteIds, (id) => {
        if (id.toUpperCase() !== id) expect(parseSiteId(id.toUpperCase())).toBeUndefined();
        expect(parseSiteId(`${id}=`)).toBeUndefined();
        expect(parseSiteId(id.slice(1))).toBeUndefined();
        expect(parseSiteId(`${id}a`)).toBeUndefined();
      }),
    );
    // 13 characters carry 65 bits for 64: "aaaaaaaaaaaab" would alias "aaaaaaaaaaaaa"'s origin.
    expect(parseSiteId("aaaaaaaaaaaab")).toBeUndefined();
  });

  it("name one origin each: the host label s-<siteId> parses back to the same id and nothing else does", () => {
    fc.assert(
      fc.property(siteIds, (id) => {
        expect(parseSiteHostLabel(siteHostLabel(id))).toBe(id);
        expect(siteHostLabel(id).length).toBeLessThanOrEqual(MAX_DNS_LABEL_LENGTH);
        expect(parseSiteHostLabel(`S-${id}`)).toBeUndefined();
        expect(parseSiteHostLabel(`g-${id}`)).toBeUndefined();
        expect(parseSiteHostLabel(id)).toBeUndefined();
      }),
    );
  });
});

describe("tenant short ids", () => {
  it("are 5 lowercase base32 characters with one spelling", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 3, maxLength: 3 }), (bytes) => {
        const id = base32Encode(bytes);
        expect(parseTenantShortId(id)).toBe(id);
        // An all-digit id ("77776") has no upper-case spelling; every other one must not parse.
        if (id.toUpperCase() !== id) expect(parseTenantShortId(id.toUpperCase())).toBeUndefined();
      }),
    );
    expect(newTenantShortId()).toMatch(/^[a-z2-7]{5}$/);
    expect(parseTenantShortId("aaaab")).toBeUndefined();
  });
});

describe("user Worker names", () => {
  it("are a pure function of site and version that reconcile can parse back", () => {
    fc.assert(
      fc.property(siteIds, versions, (siteId, version) => {
        const name = workerNameFor(siteId, version);
        expect(name).toMatch(/^[a-z0-9-]{1,63}$/);
        expect(workerNameFor(siteId, version)).toBe(name);
        expect(parseWorkerName(name)).toEqual({ siteId, version });
      }),
    );
  });

  it("differ for every different site or version", () => {
    fc.assert(
      fc.property(siteIds, versions, siteIds, versions, (s1, v1, s2, v2) => {
        fc.pre(s1 !== s2 || v1 !== v2);
        expect(workerNameFor(s1, v1)).not.toBe(workerNameFor(s2, v2));
      }),
    );
  });

  it("do not exist for version 0, negative, fractional or oversized versions", () => {
    const site = "aaaaaaaaaaaaa" as SiteId;
    for (const version of [0, -1, 1.5, MAX_SITE_VERSION + 1, Number.NaN]) {
      expect(() => workerNameFor(site, version)).toThrow(RangeError);
    }
    for (const name of [
      "s-aaaaaaaaaaaaa-v0",
      "s-aaaaaaaaaaaaa-v01",
      "s-aaaaaaaaaaaab-v1",
      "other-worker",
      "s-aaaaaaaaaaaaa-v99999999",
    ]) {
      expect(parseWorkerName(name)).toBeUndefined();
    }
  });
});
