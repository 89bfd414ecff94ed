/**
 * Hosts that are not a site, the gateway's own host, and a deployment without its secret: fail
 * closed (401 on every site request) and never show a secret (DESIGN §4, §6 invariant 7).
 */

import { describe, expect, it } from "vitest";
import type { DispatchEnv } from "../../src/index.ts";
import { DISPATCH_HOST, SITE_A, TEST_APP_PSK } from "./fixtures.ts";
import {
  cookieHeader,
  expectSecurityHeaders,
  FRAME_NAVIGATION,
  grantFor,
  ourKeyring,
  SAME_ORIGIN_FETCH,
  send,
  siteOrigin,
  testEnv,
} from "./helpers.ts";

const gateway = `http://${DISPATCH_HOST}:8787`;

describe("hosts", () => {
  it("answers 404 for hosts that are not a site, a fallback origin or the gateway", async () => {
    const hosts = [
      "http://localhost:8787",
      "http://evil.example",
      `http://x.s-${SITE_A}.localhost:8787`,
      "http://s-short.localhost:8787",
      `http://s-${SITE_A}.localhost.evil.example`,
      "http://q-abc.localhost:8787",
    ];
    for (const origin of hosts) {
      const response = await send(`${origin}/`, {
        headers: { ...cookieHeader(await grantFor(SITE_A)), ...FRAME_NAVIGATION },
      });
      expect(response.status, origin).toBe(404);
      expect(response.headers.get("x-mini-sites-error")).toBe("HOST_NOT_FOUND");
      expectSecurityHeaders(response);
    }
  });

  it("serves nothing but /.well-known/mini-sites and /healthz on the gateway host", async () => {
    for (const path of ["/", `/__ms/enter/${await grantFor(SITE_A)}`, "/index.html", "/.well-known/other"]) {
      const response = await send(`${gateway}${path}`, { headers: FRAME_NAVIGATION });
      expect(response.status, path).toBe(404);
    }
    const health = await send(`${gateway}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });
  });

  it("shows identity fingerprints on /.well-known/mini-sites and no secret", async () => {
    const response = await send(`${gateway}/.well-known/mini-sites`);
    expect(response.status).toBe(200);
    expectSecurityHeaders(response);
    const text = await response.text();
    expect(text).not.toContain(TEST_APP_PSK);
    const body = JSON.parse(text) as {
      worker: string;
      identity: { status: string; mode: string; appPid: string; keyIds: { grant: { current: string } } };
    };
    expect(body.worker).toBe("dispatch");
    expect(body.identity.status).toBe("ready");
    expect(body.identity.mode).toBe("shared");
    expect(body.identity.appPid).toBe("mini-sites-test");
    expect(body.identity.keyIds.grant.current).toBe((await ourKeyring()).current.id);
  });
});

describe("fail closed", () => {
  const unconfigured: DispatchEnv = { ...testEnv, APP_PSK: undefined, K_GRANT: undefined };
  const weak: DispatchEnv = { ...testEnv, APP_PSK: "tiny-psk-QX7" };

  it("answers every site request 401 naming the missing secret when no secret is set", async () => {
    const grant = await grantFor(SITE_A);
    for (const path of ["/", "/assets/app.js", `/__ms/enter/${grant}`, `/__ms/renew/${grant}`]) {
      const response = await send(
        `${siteOrigin(SITE_A)}${path}`,
        { headers: { ...cookieHeader(grant), ...SAME_ORIGIN_FETCH } },
        unconfigured,
      );
      expect(response.status, path).toBe(401);
      expect(response.headers.get("x-mini-sites-error")).toBe("IDENTITY_SECRET_MISSING");
      expect(response.headers.get("set-cookie")).toBeNull();
      expectSecurityHeaders(response);
      const body = (await response.json()) as { error: { variables: string[] } };
      expect(body.error.variables).toEqual(["APP_PSK", "K_GRANT"]);
    }
    const fallback = await send(
      `http://g-${grant}.localhost:8787/`,
      { headers: SAME_ORIGIN_FETCH },
      unconfigured,
    );
    expect(fallback.status).toBe(401);
  });

  it("refuses a weak secret without echoing it", async () => {
    const response = await send(`${siteOrigin(SITE_A)}/`, { headers: SAME_ORIGIN_FETCH }, weak);
    expect(response.status).toBe(401);
    expect(response.headers.get("x-mini-sites-error")).toBe("IDENTITY_SECRET_WEAK");
    expect(await response.text()).not.toContain("tiny-psk-QX7");
  });

  it("reports the problem on /.well-known and fails health", async () => {
    const report = await send(`${gateway}/.well-known/mini-sites`, {}, unconfigured);
    expect(((await report.json()) as { identity: { code: string } }).identity.code).toBe(
      "IDENTITY_SECRET_MISSING",
    );
    const health = await send(`${gateway}/healthz`, {}, unconfigured);
    expect(health.status).toBe(503);
  });

  it("refuses to serve with a CSP source that could inject a directive", async () => {
    const response = await send(
      `${siteOrigin(SITE_A)}/`,
      { headers: SAME_ORIGIN_FETCH },
      {
        ...testEnv,
        EMBED_ANCESTORS: "https://a.example; script-src *",
      },
    );
    expect(response.status).toBe(503);
    expect(response.headers.get("x-mini-sites-error")).toBe("GATEWAY_MISCONFIGURED");
    expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  });
});

describe("the Content-Security-Policy", () => {
  it("is DESIGN §3's policy with the default CDN allow-list", async () => {
    const response = await send(`${siteOrigin(SITE_A)}/`, { headers: SAME_ORIGIN_FETCH });
    const cdn =
      "https://cdn.jsdelivr.net https://unpkg.com https://cdnjs.cloudflare.com https://fonts.googleapis.com https://fonts.gstatic.com";
    expect(response.headers.get("content-security-policy")).toBe(
      `default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval' blob: ${cdn}; ` +
        `style-src 'self' 'unsafe-inline' ${cdn}; img-src 'self' data: blob: ${cdn}; font-src 'self' data: ${cdn}; ` +
        "connect-src 'self'; media-src 'self' data: blob:; worker-src 'self' blob:; frame-src 'self' blob: data:; " +
        "form-action 'self'; base-uri 'self'; object-src 'none'; frame-ancestors http://localhost:8788 https://*.atlassian.net",
    );
  });
});
