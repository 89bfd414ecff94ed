/**
 * Attacks on the grant (DESIGN §6 invariant 1): altered, truncated, extended, re-encoded, expired,
 * swapped between sites, or signed by another deployment — each gets a typed 401 and no site byte.
 */

import { describe, expect, it } from "vitest";
import { SITE_A, SITE_B } from "./fixtures.ts";
import {
  cookieHeader,
  expectSecurityHeaders,
  FRAME_NAVIGATION,
  foreignKeyring,
  grantFor,
  ourKeyring,
  SAME_ORIGIN_FETCH,
  send,
  siteOrigin,
} from "./helpers.ts";

const SITE_BYTES = /SITE-[AB]|chunk loaded/;

async function refusal(grant: string, path = "/assets/chunks/x.js") {
  const response = await send(`${siteOrigin(SITE_A)}${path}`, {
    headers: { ...cookieHeader(grant), ...SAME_ORIGIN_FETCH },
  });
  const body = await response.text();
  expect(response.status).toBe(401);
  expect(body).not.toMatch(SITE_BYTES);
  expectSecurityHeaders(response);
  const json = JSON.parse(body) as { error: { code: string; message: string; [key: string]: unknown } };
  expect(json.error.code).toBe(response.headers.get("x-mini-sites-error"));
  expect(body).not.toContain(grant.length > 10 ? grant : "\u0000");
  return json.error;
}

function flip(text: string, index: number): string {
  const c = text[index] === "a" ? "b" : "a";
  return text.slice(0, index) + c + text.slice(index + 1);
}

describe("grant attacks", () => {
  it("refuses a request with no grant: GRANT_MISSING", async () => {
    const response = await send(`${siteOrigin(SITE_A)}/`, { headers: SAME_ORIGIN_FETCH });
    expect(response.status).toBe(401);
    expect(response.headers.get("x-mini-sites-error")).toBe("GRANT_MISSING");
    expect(await response.text()).not.toMatch(SITE_BYTES);
  });

  it("refuses every single-character change of a grant", async () => {
    const grant = await grantFor(SITE_A);
    for (let i = 0; i < grant.length; i++) {
      const error = await refusal(flip(grant, i));
      expect(["GRANT_MALFORMED", "GRANT_BAD_SIGNATURE", "GRANT_KEY_UNKNOWN"], `index ${i}`).toContain(
        error.code,
      );
    }
  });

  it("refuses truncated, extended, upper-cased and padded grants as GRANT_MALFORMED", async () => {
    const grant = await grantFor(SITE_A);
    for (const variant of [
      grant.slice(0, -1),
      grant.slice(1),
      `${grant}a`,
      grant.toUpperCase(),
      `${grant}=`,
      "",
      "x",
    ]) {
      const error = await refusal(variant);
      expect(error.code).toBe("GRANT_MALFORMED");
    }
  });

  it("refuses an expired grant: GRANT_EXPIRED", async () => {
    const grant = await grantFor(SITE_A, { ttlSeconds: 60, now: Date.now() - 61_000 });
    expect((await refusal(grant)).code).toBe("GRANT_EXPIRED");
  });

  it("refuses another site's grant on this site's origin: GRANT_WRONG_SITE", async () => {
    const grant = await grantFor(SITE_B);
    expect((await refusal(grant)).code).toBe("GRANT_WRONG_SITE");
  });

  it("names both key ids for a grant signed by another deployment: GRANT_KEY_UNKNOWN", async () => {
    const grant = await grantFor(SITE_A, { keyring: await foreignKeyring() });
    const error = await refusal(grant);
    expect(error.code).toBe("GRANT_KEY_UNKNOWN");
    expect(error.expectedKeyIds).toEqual([(await ourKeyring()).current.id]);
    expect(error.receivedKeyId).toBe((await foreignKeyring()).current.id);
  });

  it("shows navigations a short HTML page with the code, never site bytes", async () => {
    const grant = await grantFor(SITE_B);
    const response = await send(`${siteOrigin(SITE_A)}/`, {
      headers: { ...cookieHeader(grant), ...FRAME_NAVIGATION },
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("content-type")).toContain("text/html");
    const html = await response.text();
    expect(html).toContain("GRANT_WRONG_SITE");
    expect(html).not.toMatch(SITE_BYTES);
    expect(html).not.toContain(grant);
    expectSecurityHeaders(response);
  });

  it("refuses an altered grant at the enter endpoint without setting a cookie", async () => {
    const grant = flip(await grantFor(SITE_A), 50);
    const response = await send(`${siteOrigin(SITE_A)}/__ms/enter/${grant}`, { headers: FRAME_NAVIGATION });
    expect(response.status).toBe(401);
    expect(response.headers.get("set-cookie")).toBeNull();
  });
});
