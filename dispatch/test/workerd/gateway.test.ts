/**
 * The enter → check → entry round trip, the cookie-refused fallback to g-<grant>, and renewal that
 * keeps the version (DESIGN §3 Serve).
 */

import { describe, expect, it } from "vitest";
import { SITE_A, SITE_B } from "./fixtures.ts";
import {
  cookieHeader,
  expectSecurityHeaders,
  FRAME_NAVIGATION,
  grantFor,
  grantOrigin,
  send,
  siteOrigin,
} from "./helpers.ts";

describe("enter", () => {
  it("sets the host-only partitioned grant cookie for the grant's remaining lifetime and 303s to check", async () => {
    const grant = await grantFor(SITE_A, { ttlSeconds: 600 });
    const response = await send(`${siteOrigin(SITE_A)}/__ms/enter/${grant}`, { headers: FRAME_NAVIGATION });
    expect(response.status).toBe(303);
    expectSecurityHeaders(response);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const cookie = response.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(
      new RegExp(
        `^__Host-ms=${grant}; Max-Age=(59[0-9]|600); Path=/; Secure; HttpOnly; SameSite=None; Partitioned$`,
      ),
    );
    const location = new URL(response.headers.get("location") ?? "", siteOrigin(SITE_A));
    expect(location.pathname).toBe("/__ms/check");
    expect(location.searchParams.get("g")).toBe(grant);
    expect(location.searchParams.get("to")).toBe("/");
  });

  it("carries a same-origin entry path and drops anything that could leave the origin", async () => {
    const grant = await grantFor(SITE_A);
    const cases: [string, string][] = [
      ["/reports/q3?tab=2", "/reports/q3?tab=2"],
      ["//evil.example/x", "/"],
      ["https://evil.example/", "/"],
      ["/\\evil.example", "/"],
      ["/__ms/renew/x", "/"],
      ["/%2e%2e/x", "/"],
      ["javascript:alert(1)", "/"],
    ];
    for (const [to, expected] of cases) {
      const enter = await send(`${siteOrigin(SITE_A)}/__ms/enter/${grant}?to=${encodeURIComponent(to)}`, {
        headers: FRAME_NAVIGATION,
      });
      const check = new URL(enter.headers.get("location") ?? "", siteOrigin(SITE_A));
      expect(check.searchParams.get("to"), to).toBe(expected);
    }
  });
});

describe("check", () => {
  it("goes to the entry page when the cookie came back", async () => {
    const grant = await grantFor(SITE_A);
    const response = await send(`${siteOrigin(SITE_A)}/__ms/check?g=${grant}&to=%2Freports`, {
      headers: { ...cookieHeader(grant), ...FRAME_NAVIGATION },
    });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/reports");
    expectSecurityHeaders(response);
  });

  it("falls back to the g-<grant> origin, same scheme and port, when the cookie was refused", async () => {
    const grant = await grantFor(SITE_A);
    const response = await send(`${siteOrigin(SITE_A)}/__ms/check?g=${grant}&to=%2Freports`, {
      headers: FRAME_NAVIGATION,
    });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe(`${grantOrigin(grant)}/reports`);
    const secure = await send(`https://s-${SITE_A}.localhost/__ms/check?g=${grant}`, {
      headers: FRAME_NAVIGATION,
    });
    expect(secure.headers.get("location")).toBe(`https://g-${grant}.localhost/`);
  });

  it("never redirects to a g- host for a grant of another site or a forged one", async () => {
    const other = await grantFor(SITE_B);
    const response = await send(`${siteOrigin(SITE_A)}/__ms/check?g=${other}`, { headers: FRAME_NAVIGATION });
    expect(response.status).toBe(401);
    expect(response.headers.get("location")).toBeNull();
    const none = await send(`${siteOrigin(SITE_A)}/__ms/check`, { headers: FRAME_NAVIGATION });
    expect(none.status).toBe(401);
  });
});

describe("renew", () => {
  it("replaces the cookie with a newer grant for the same site and version", async () => {
    const current = await grantFor(SITE_A, { version: 1, ttlSeconds: 60 });
    const next = await grantFor(SITE_A, { version: 1, ttlSeconds: 600 });
    const response = await send(`${siteOrigin(SITE_A)}/__ms/renew/${next}`, {
      headers: { ...cookieHeader(current), ...FRAME_NAVIGATION },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("set-cookie")).toContain(`__Host-ms=${next};`);
    expectSecurityHeaders(response);
    const html = await response.text();
    expect(html).toContain("mini-sites:renewed");
    expect(html).toContain('"http://localhost:8788"');

    const fetched = await send(`${siteOrigin(SITE_A)}/__ms/renew/${next}`, {
      headers: { ...cookieHeader(current), "sec-fetch-mode": "cors", "sec-fetch-site": "same-origin" },
    });
    expect(fetched.status).toBe(204);
  });

  it("refuses a grant for another version: the running app keeps its version", async () => {
    const current = await grantFor(SITE_A, { version: 1 });
    const next = await grantFor(SITE_A, { version: 2 });
    const response = await send(`${siteOrigin(SITE_A)}/__ms/renew/${next}`, {
      headers: { ...cookieHeader(current), ...FRAME_NAVIGATION },
    });
    expect(response.status).toBe(409);
    expect(response.headers.get("x-mini-sites-error")).toBe("GRANT_VERSION_MISMATCH");
    expect(response.headers.get("set-cookie")).toBeNull();
  });

  it("refuses another site's grant, and a renewal with no current cookie", async () => {
    const current = await grantFor(SITE_A);
    const other = await grantFor(SITE_B);
    const wrongSite = await send(`${siteOrigin(SITE_A)}/__ms/renew/${other}`, {
      headers: { ...cookieHeader(current), ...FRAME_NAVIGATION },
    });
    expect(wrongSite.status).toBe(401);
    expect(wrongSite.headers.get("x-mini-sites-error")).toBe("GRANT_WRONG_SITE");
    const noCookie = await send(`${siteOrigin(SITE_A)}/__ms/renew/${current}`, { headers: FRAME_NAVIGATION });
    expect(noCookie.status).toBe(401);
    expect(noCookie.headers.get("x-mini-sites-error")).toBe("GRANT_MISSING");
    expect(noCookie.headers.get("set-cookie")).toBeNull();
  });
});

describe("reserved paths", () => {
  it("answers 404 for /__ms/ paths the gateway does not own, without asking the site", async () => {
    const grant = await grantFor(SITE_A);
    for (const path of ["/__ms/", "/__ms/boot.js", "/__MS/enter/x", "/__ms/enter", "/__ms"]) {
      const response = await send(`${siteOrigin(SITE_A)}${path}`, {
        headers: { ...cookieHeader(grant), ...FRAME_NAVIGATION },
      });
      expect([401, 404], path).toContain(response.status);
      expect(await response.text(), path).not.toMatch(/SITE-A/);
    }
  });
});
