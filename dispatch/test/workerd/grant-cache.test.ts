/**
 * The verified-grant cache and the per-env caches, attacked from the viewer's side: once a valid grant
 * has been served (and so is cached), every grant that verification refuses is still refused, with
 * the same code, and an env that changed (another key, another CSP, another embedder) is obeyed at
 * once (DESIGN §6 invariant 1).
 */

import { type GrantClaims, type SiteId, siteIdFromBytes } from "@mini-sites/core";
import { describe, expect, it } from "vitest";
import { VerifiedGrants } from "../../src/grant-cache.ts";
import { checkGrant } from "../../src/grants.ts";
import type { DispatchEnv } from "../../src/index.ts";
import { OTHER_APP_PSK, SITE_A, SITE_B, TENANT } from "./fixtures.ts";
import {
  cookieHeader,
  FRAME_NAVIGATION,
  grantFor,
  grantOrigin,
  ourKeyring,
  SAME_ORIGIN_FETCH,
  send,
  siteOrigin,
  testEnv,
} from "./helpers.ts";

const ASSET = "/assets/app.js";

async function get(origin: string, grant: string, environment: DispatchEnv = testEnv) {
  return send(
    `${origin}${ASSET}`,
    { headers: { ...cookieHeader(grant), ...SAME_ORIGIN_FETCH } },
    environment,
  );
}

function flip(text: string, index: number): string {
  const c = text[index] === "a" ? "b" : "a";
  return text.slice(0, index) + c + text.slice(index + 1);
}

function claimsFor(siteId: SiteId, expiresAt: number): GrantClaims {
  return { siteId, version: 1, tenantId: TENANT, expiresAt, keyId: "abcdef" };
}

describe("a grant served before", () => {
  it("does not make any altered spelling of it acceptable", async () => {
    const grant = await grantFor(SITE_A);
    expect((await get(siteOrigin(SITE_A), grant)).status).toBe(200);
    for (let i = 0; i < grant.length; i++) {
      const response = await get(siteOrigin(SITE_A), flip(grant, i));
      expect(response.status, `index ${i}`).toBe(401);
      expect(["GRANT_MALFORMED", "GRANT_BAD_SIGNATURE", "GRANT_KEY_UNKNOWN"]).toContain(
        response.headers.get("x-mini-sites-error"),
      );
    }
    for (const spelling of [grant.toUpperCase(), `${grant}a`, grant.slice(1), `${grant.slice(0, -1)}=`]) {
      expect((await get(siteOrigin(SITE_A), spelling)).status, spelling).toBe(401);
    }
    expect((await get(siteOrigin(SITE_A), grant)).status).toBe(200);
  });

  it("is still refused on another site's origin: GRANT_WRONG_SITE", async () => {
    const grant = await grantFor(SITE_A);
    expect((await get(siteOrigin(SITE_A), grant)).status).toBe(200);
    const response = await get(siteOrigin(SITE_B), grant);
    expect(response.status).toBe(401);
    expect(response.headers.get("x-mini-sites-error")).toBe("GRANT_WRONG_SITE");
    expect(await response.text()).not.toContain("SITE-");
  });

  it("is refused as GRANT_EXPIRED from its expiry on, and forgotten", async () => {
    const keyring = await ourKeyring();
    const now = Date.now();
    const grant = await grantFor(SITE_A, { ttlSeconds: 60, now });
    expect((await checkGrant(keyring, grant, SITE_A, now)).ok).toBe(true);
    const expiresAt = (Math.floor(now / 1000) + 60) * 1000;
    expect((await checkGrant(keyring, grant, SITE_A, expiresAt - 1000)).ok).toBe(true);
    for (const at of [expiresAt, expiresAt + 1, expiresAt + 3_600_000, Number.NaN]) {
      const check = await checkGrant(keyring, grant, SITE_A, at);
      expect(check.ok, String(at)).toBe(false);
      if (!check.ok) expect(check.error.code).toBe("GRANT_EXPIRED");
    }
  });

  it("is refused by a gateway whose key changed: GRANT_KEY_UNKNOWN", async () => {
    const grant = await grantFor(SITE_A);
    expect((await get(siteOrigin(SITE_A), grant)).status).toBe(200);
    const rotated: DispatchEnv = { ...testEnv, APP_PSK: OTHER_APP_PSK };
    const response = await get(siteOrigin(SITE_A), grant, rotated);
    expect(response.status).toBe(401);
    expect(response.headers.get("x-mini-sites-error")).toBe("GRANT_KEY_UNKNOWN");
  });

  it("does not make a tampered fallback origin serve", async () => {
    const grant = await grantFor(SITE_A);
    const page = await send(`${grantOrigin(grant)}/`, { headers: FRAME_NAVIGATION });
    expect(page.status).toBe(200);
    const tampered = await send(`${grantOrigin(flip(grant, 40))}/`, { headers: FRAME_NAVIGATION });
    expect(tampered.status).toBe(401);
  });
});

describe("an env that changed", () => {
  it("gets its own CSP and injected script, not the first env's", async () => {
    const other: DispatchEnv = {
      ...testEnv,
      EMBED_ANCESTORS: "https://other-embedder.example",
      EMBED_ORIGIN: "https://other-embedder.example",
    };
    const grant = await grantFor(SITE_A);
    const first = await send(`${siteOrigin(SITE_A)}/`, {
      headers: { ...cookieHeader(grant), ...FRAME_NAVIGATION },
    });
    const second = await send(
      `${siteOrigin(SITE_A)}/`,
      { headers: { ...cookieHeader(grant), ...FRAME_NAVIGATION } },
      other,
    );
    expect(first.headers.get("content-security-policy")).not.toContain("other-embedder");
    expect(second.headers.get("content-security-policy")).toContain(
      "frame-ancestors https://other-embedder.example",
    );
    expect(await first.text()).not.toContain("other-embedder");
    expect(await second.text()).toContain('"https://other-embedder.example"');
  });
});

describe("the verified-grant cache", () => {
  const site = siteIdFromBytes(new Uint8Array([7, 7, 7, 7, 7, 7, 7, 7]));
  const other = siteIdFromBytes(new Uint8Array([8, 8, 8, 8, 8, 8, 8, 8]));
  const expiresAt = 2_000_000_000;
  const before = (expiresAt - 1) * 1000;

  it("answers only for the exact text it was given", () => {
    const cache = new VerifiedGrants();
    cache.add("a".repeat(61), claimsFor(site, expiresAt));
    expect(cache.lookup("a".repeat(61), site, before)?.siteId).toBe(site);
    expect(cache.lookup(`${"a".repeat(60)}b`, site, before)).toBeUndefined();
    expect(cache.lookup("A".repeat(61), site, before)).toBeUndefined();
  });

  it("answers only for the site it names, and keeps the entry for that site", () => {
    const cache = new VerifiedGrants();
    cache.add("g", claimsFor(site, expiresAt));
    expect(cache.lookup("g", other, before)).toBeUndefined();
    expect(cache.lookup("g", site, before)).toBeDefined();
  });

  it("never answers at or after the grant's expiry, and drops it then", () => {
    const cache = new VerifiedGrants();
    cache.add("g", claimsFor(site, expiresAt));
    expect(cache.lookup("g", site, expiresAt * 1000 - 1)).toBeDefined();
    expect(cache.lookup("g", site, expiresAt * 1000)).toBeUndefined();
    expect(cache.size).toBe(0);
    cache.add("h", claimsFor(site, expiresAt));
    expect(cache.lookup("h", site, Number.NaN)).toBeUndefined();
  });

  it("holds at most its capacity, evicting the least recently used", () => {
    const cache = new VerifiedGrants(3);
    for (const grant of ["a", "b", "c"]) cache.add(grant, claimsFor(site, expiresAt));
    expect(cache.lookup("a", site, before)).toBeDefined();
    cache.add("d", claimsFor(site, expiresAt));
    expect(cache.size).toBe(3);
    expect(cache.lookup("b", site, before)).toBeUndefined();
    for (const grant of ["a", "c", "d"]) expect(cache.lookup(grant, site, before), grant).toBeDefined();
  });
});
