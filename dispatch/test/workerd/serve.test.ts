/**
 * Invariant 1 (DESIGN §6): bytes leave only through the gateway, only with a valid grant for that
 * site and version, on that site's own origin — in cookie mode and on the g-<grant> fallback origin.
 */

import { env as poolEnv } from "cloudflare:test";
import { encodeTenantAllowLists, newTenantShortId } from "@mini-sites/core";
import { describe, expect, it } from "vitest";
import type { DispatchEnv } from "../../src/index.ts";
import { SITE_A, SITE_B, SITE_GONE } from "./fixtures.ts";
import {
  cookieHeader,
  expectSecurityHeaders,
  FRAME_NAVIGATION,
  grantFor,
  grantOrigin,
  SAME_ORIGIN_FETCH,
  send,
  siteOrigin,
  testEnv,
} from "./helpers.ts";

const tenantCsp = poolEnv.TENANT_CSP;

function withUpstream(
  handler: (request: Request, name: string) => Response | Promise<Response>,
): DispatchEnv {
  return {
    ...testEnv,
    DISPATCHER: {
      get: (name: string) => ({ fetch: async (input, init) => handler(new Request(input, init), name) }),
    },
  };
}

describe("cookie mode: s-<site> origin", () => {
  it("serves each site's own bytes from its own user Worker", async () => {
    const a = await send(`${siteOrigin(SITE_A)}/`, {
      headers: { ...cookieHeader(await grantFor(SITE_A)), ...FRAME_NAVIGATION },
    });
    const b = await send(`${siteOrigin(SITE_B)}/`, {
      headers: { ...cookieHeader(await grantFor(SITE_B)), ...FRAME_NAVIGATION },
    });
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    const textA = await a.text();
    const textB = await b.text();
    expect(textA).toContain("SITE-A-V1-BYTES");
    expect(textA).not.toContain("SITE-B");
    expect(textB).toContain("SITE-B-BYTES");
    expect(textB).not.toContain("SITE-A");
  });

  it("routes to the version the grant names", async () => {
    const v2 = await send(`${siteOrigin(SITE_A)}/`, {
      headers: { ...cookieHeader(await grantFor(SITE_A, { version: 2 })), ...FRAME_NAVIGATION },
    });
    expect(v2.status).toBe(200);
    expect(await v2.text()).toContain("SITE-A-V2-BYTES");
  });

  it("serves module scripts, CSS, images and JSON with their content types and the security headers", async () => {
    const grant = await grantFor(SITE_A);
    const cases: [string, string][] = [
      ["/assets/app.js", "javascript"],
      ["/assets/chunks/x.js", "javascript"],
      ["/assets/style.css", "text/css"],
      ["/assets/logo.svg", "image/svg+xml"],
      ["/data/metrics.json", "application/json"],
    ];
    for (const [path, type] of cases) {
      const response = await send(`${siteOrigin(SITE_A)}${path}`, {
        headers: { ...cookieHeader(grant), ...SAME_ORIGIN_FETCH },
      });
      expect(response.status, path).toBe(200);
      expect(response.headers.get("content-type"), path).toContain(type);
      expectSecurityHeaders(response);
      expect(response.headers.get("cache-control")).toBe("private, no-cache");
      expect(await response.text(), path).not.toContain("data-mini-sites-bootstrap");
    }
  });

  it("answers HEAD like GET without a body", async () => {
    const response = await send(`${siteOrigin(SITE_A)}/assets/app.js`, {
      method: "HEAD",
      headers: { ...cookieHeader(await grantFor(SITE_A)), ...SAME_ORIGIN_FETCH },
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("");
  });

  it("passes the user Worker's custom 404.html and SPA fallback through", async () => {
    const custom = await send(`${siteOrigin(SITE_A)}/no/such/page`, {
      headers: { ...cookieHeader(await grantFor(SITE_A)), ...FRAME_NAVIGATION },
    });
    expect(custom.status).toBe(404);
    expect(await custom.text()).toContain("SITE-A-CUSTOM-404");
    expectSecurityHeaders(custom);

    const spa = await send(`${siteOrigin(SITE_B)}/some/client/route`, {
      headers: { ...cookieHeader(await grantFor(SITE_B)), ...FRAME_NAVIGATION },
    });
    expect(spa.status).toBe(200);
    expect(await spa.text()).toContain("SITE-B-BYTES");
  });

  it("answers 404 SITE_NOT_FOUND when the version's user Worker does not exist", async () => {
    const response = await send(`${siteOrigin(SITE_GONE)}/`, {
      headers: { ...cookieHeader(await grantFor(SITE_GONE)), ...SAME_ORIGIN_FETCH },
    });
    expect(response.status).toBe(404);
    expect(response.headers.get("x-mini-sites-error")).toBe("SITE_NOT_FOUND");
    expectSecurityHeaders(response);
    const missingVersion = await send(`${siteOrigin(SITE_A)}/`, {
      headers: { ...cookieHeader(await grantFor(SITE_A, { version: 7 })), ...SAME_ORIGIN_FETCH },
    });
    expect(missingVersion.status).toBe(404);
  });

  it("uses a valid grant among several cookie values", async () => {
    const good = await grantFor(SITE_A);
    const other = await grantFor(SITE_B);
    const response = await send(`${siteOrigin(SITE_A)}/assets/chunks/x.js`, {
      headers: { cookie: `theme=dark; __Host-ms=${other}; __Host-ms=${good}`, ...SAME_ORIGIN_FETCH },
    });
    expect(response.status).toBe(200);
  });
});

describe("fallback mode: g-<grant> origin", () => {
  it("serves the grant's own site and version with no cookie at all", async () => {
    const grant = await grantFor(SITE_B);
    const page = await send(`${grantOrigin(grant)}/`, { headers: FRAME_NAVIGATION });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("SITE-B-BYTES");
    const v2 = await send(`${grantOrigin(await grantFor(SITE_A, { version: 2 }))}/`, {
      headers: FRAME_NAVIGATION,
    });
    expect(await v2.text()).toContain("SITE-A-V2-BYTES");
  });

  it("has no gateway endpoints: /__ms/ is 404 there", async () => {
    const grant = await grantFor(SITE_A);
    for (const path of [
      `/__ms/enter/${grant}`,
      `/__ms/check?g=${grant}`,
      `/__ms/renew/${grant}`,
      "/__ms/x",
    ]) {
      const response = await send(`${grantOrigin(grant)}${path}`, { headers: FRAME_NAVIGATION });
      expect(response.status, path).toBe(404);
      expect(response.headers.get("set-cookie")).toBeNull();
    }
  });

  it("refuses an expired, tampered or foreign-format grant in the host name", async () => {
    const expired = await grantFor(SITE_A, { ttlSeconds: 60, now: Date.now() - 3_600_000 });
    const r1 = await send(`${grantOrigin(expired)}/`, { headers: SAME_ORIGIN_FETCH });
    expect(r1.status).toBe(401);
    expect(r1.headers.get("x-mini-sites-error")).toBe("GRANT_EXPIRED");
    const grant = await grantFor(SITE_A);
    const tampered = grant.slice(0, 30) + (grant[30] === "a" ? "b" : "a") + grant.slice(31);
    const r2 = await send(`${grantOrigin(tampered)}/`, { headers: SAME_ORIGIN_FETCH });
    expect(r2.status).toBe(401);
    expect(["GRANT_BAD_SIGNATURE", "GRANT_MALFORMED"]).toContain(r2.headers.get("x-mini-sites-error"));
    const r3 = await send(`${grantOrigin("abc")}/`, { headers: SAME_ORIGIN_FETCH });
    expect(r3.status).toBe(401);
    expect(r3.headers.get("x-mini-sites-error")).toBe("GRANT_MALFORMED");
  });

  it("never shows the user Worker the grant: it is asked for the canonical s-<site> origin", async () => {
    const grant = await grantFor(SITE_A);
    let seen: Request | undefined;
    const env = withUpstream((request) => {
      seen = request;
      return new Response("ok", { headers: { "content-type": "text/plain" } });
    });
    await send(
      `${grantOrigin(grant)}/x.txt?q=1`,
      { headers: { ...SAME_ORIGIN_FETCH, cookie: "__Host-ms=zzz" } },
      env,
    );
    expect(seen?.url).toBe(`https://s-${SITE_A}.localhost/x.txt?q=1`);
    expect(seen?.headers.get("cookie")).toBeNull();
  });
});

describe("what a user Worker answers", () => {
  it("loses its Set-Cookie, CSP and CORS headers and gets ours", async () => {
    const env = withUpstream(
      () =>
        new Response("hello", {
          headers: {
            "content-type": "text/plain",
            "set-cookie": "__Host-ms=forged; Path=/; Secure",
            "content-security-policy": "default-src *",
            "access-control-allow-origin": "*",
          },
        }),
    );
    const response = await send(
      `${siteOrigin(SITE_A)}/x.txt`,
      {
        headers: { ...cookieHeader(await grantFor(SITE_A)), ...SAME_ORIGIN_FETCH },
      },
      env,
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("set-cookie")).toBeNull();
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    expectSecurityHeaders(response);
    expect(response.headers.get("content-security-policy")).not.toContain("default-src *");
  });

  it("is forwarded without the grant cookie and with the user Worker named by (site, version)", async () => {
    const seen: { name: string; cookie: string | null; url: string }[] = [];
    const env = withUpstream((request, name) => {
      seen.push({ name, cookie: request.headers.get("cookie"), url: request.url });
      return new Response("ok");
    });
    await send(
      `${siteOrigin(SITE_A)}/a/b.txt`,
      {
        headers: { ...cookieHeader(await grantFor(SITE_A, { version: 3 })), ...SAME_ORIGIN_FETCH },
      },
      env,
    );
    expect(seen).toEqual([
      { name: `s-${SITE_A}-v3`, cookie: null, url: `https://s-${SITE_A}.localhost/a/b.txt` },
    ]);
  });

  it("keeps redirects of the assets router on the viewer's own origin", async () => {
    const grant = await grantFor(SITE_A);
    const env = withUpstream(
      () => new Response(null, { status: 307, headers: { location: `https://s-${SITE_A}.localhost/about` } }),
    );
    const cookieMode = await send(
      `${siteOrigin(SITE_A)}/about.html`,
      { headers: { ...cookieHeader(grant), ...FRAME_NAVIGATION } },
      env,
    );
    expect(cookieMode.headers.get("location")).toBe("/about");
    const external = withUpstream(
      () => new Response(null, { status: 302, headers: { location: "https://evil.example/" } }),
    );
    const dropped = await send(
      `${siteOrigin(SITE_A)}/x`,
      { headers: { ...cookieHeader(grant), ...FRAME_NAVIGATION } },
      external,
    );
    expect(dropped.headers.get("location")).toBeNull();
  });

  it("answers 502 without detail when the user Worker fails", async () => {
    const env = withUpstream(() => {
      throw new Error(`internal detail ${TEST_SECRET_LIKE}`);
    });
    const response = await send(
      `${siteOrigin(SITE_A)}/`,
      {
        headers: { ...cookieHeader(await grantFor(SITE_A)), ...SAME_ORIGIN_FETCH },
      },
      env,
    );
    expect(response.status).toBe(502);
    expect(await response.text()).not.toContain("internal detail");
  });
});

const TEST_SECRET_LIKE = "stack-and-secret-material";

describe("the injected bootstrap script", () => {
  it("is added to HTML documents, before </head>, and nowhere else", async () => {
    const grant = await grantFor(SITE_A);
    const html = await (
      await send(`${siteOrigin(SITE_A)}/`, { headers: { ...cookieHeader(grant), ...FRAME_NAVIGATION } })
    ).text();
    expect(html.match(/data-mini-sites-bootstrap/g)?.length).toBe(1);
    expect(html.indexOf("data-mini-sites-bootstrap")).toBeLessThan(html.indexOf("</head>"));
    expect(html.indexOf("data-mini-sites-bootstrap")).toBeGreaterThan(html.indexOf("<meta charset"));
    expect(html).toContain('"http://localhost:8788"');
    expect(html).toContain("mini-sites:height");
    expect(html).toContain("mini-sites:open");
    expect(html).not.toMatch(/postMessage\(\{type:"mini-sites:open"[^)]*"\*"\)/);

    const js = await (
      await send(`${siteOrigin(SITE_A)}/assets/app.js`, {
        headers: { ...cookieHeader(grant), ...SAME_ORIGIN_FETCH },
      })
    ).text();
    expect(js).not.toContain("mini-sites-bootstrap");
    const notFound = await (
      await send(`${siteOrigin(SITE_A)}/missing`, {
        headers: { ...cookieHeader(grant), ...FRAME_NAVIGATION },
      })
    ).text();
    expect(notFound).not.toContain("mini-sites-bootstrap");
  });

  it("lands in a document with neither <head> nor <body>", async () => {
    const grant = await grantFor(SITE_B);
    const response = await send(`${siteOrigin(SITE_B)}/fragment`, {
      headers: { ...cookieHeader(grant), ...FRAME_NAVIGATION },
    });
    const html = await response.text();
    expect(html).toContain("SITE-B-FRAGMENT");
    expect(html).toContain("data-mini-sites-bootstrap");
  });
});

describe("rewritten pages kept per isolate", () => {
  const page = (marker: string, size = 0) =>
    `<!doctype html><html><head><meta charset="utf-8"><title>${marker}</title></head><body><p>${marker}</p>${"x".repeat(size)}</body></html>`;

  /** An upstream like Workers Static Assets: 304 when If-None-Match names the current ETag. */
  function staticAssets(state: { body: string; etag: string | null; status?: number }) {
    const seen: { name: string; path: string; ifNoneMatch: string | null; range: string | null }[] = [];
    const env = withUpstream((request, name) => {
      const ifNoneMatch = request.headers.get("if-none-match");
      seen.push({
        name,
        path: new URL(request.url).pathname,
        ifNoneMatch,
        range: request.headers.get("range"),
      });
      const headers: Record<string, string> = {
        "content-type": "text/html; charset=utf-8",
        "x-page-header": `for-${state.etag}`,
      };
      if (state.etag !== null) headers.etag = state.etag;
      if (state.etag !== null && (ifNoneMatch === state.etag || ifNoneMatch === `W/${state.etag}`))
        return new Response(null, { status: 304, headers });
      headers["content-length"] = String(new TextEncoder().encode(state.body).byteLength);
      return new Response(state.body, { status: state.status ?? 200, headers });
    });
    return { env, seen };
  }

  const get = async (env: DispatchEnv, path = "/", grant?: string, extra: Record<string, string> = {}) => {
    const response = await send(
      `${siteOrigin(SITE_A)}${path}`,
      { headers: { ...cookieHeader(grant ?? (await grantFor(SITE_A))), ...FRAME_NAVIGATION, ...extra } },
      env,
    );
    return { status: response.status, text: await response.text(), response };
  };

  it("asks the user Worker to confirm the kept page, and serves it whole when it answers 304", async () => {
    const state = { body: page("FIRST"), etag: '"v1-hash"' as string | null };
    const { env, seen } = staticAssets(state);
    const first = await get(env);
    expect(first.status).toBe(200);
    expect(first.text.match(/data-mini-sites-bootstrap/g)).toHaveLength(1);
    expect(seen[0]?.ifNoneMatch).toBeNull();

    const second = await get(env);
    expect(seen[1]?.ifNoneMatch).toBe('"v1-hash"');
    expect(second.status).toBe(200);
    expect(second.text).toBe(first.text);
    expect(second.response.headers.get("content-length")).toBe(
      String(new TextEncoder().encode(first.text).length),
    );
    expect(second.response.headers.get("etag")).toBe('W/"v1-hash"');
    expect(second.response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(second.response.headers.get("x-page-header")).toBe('for-"v1-hash"');
    expect(second.response.headers.get("cache-control")).toBe("private, no-cache");
    expectSecurityHeaders(second.response);

    // New bytes (another ETag): the user Worker answers 200, the new page is served and kept.
    state.body = page("SECOND");
    state.etag = '"v2-hash"';
    const third = await get(env);
    expect(seen[2]?.ifNoneMatch).toBe('"v1-hash"');
    expect(third.text).toContain("SECOND");
    expect(third.text).not.toContain("FIRST");
    expect((await get(env)).text).toBe(third.text);
    expect(seen[3]?.ifNoneMatch).toBe('"v2-hash"');
    // Every request still went to the user Worker of the grant's version.
    expect(seen.map((s) => s.name)).toEqual(Array(4).fill(seen[0]?.name));
  });

  it("leaves a viewer's own conditional or range request as it came, and passes the user Worker's answer on", async () => {
    const state = { body: page("COND"), etag: '"cond"' as string | null };
    const { env, seen } = staticAssets(state);
    await get(env);
    // The browser revalidates with the ETag the gateway gave it: its 304 is the user Worker's.
    const revalidated = await get(env, "/", undefined, { "if-none-match": 'W/"cond"' });
    expect(revalidated.status).toBe(304);
    expect(seen[1]?.ifNoneMatch).toBe('W/"cond"');
    // Never the user Worker's strong ETag for a document the viewer gets rewritten (a 304, a HEAD).
    expect(revalidated.response.headers.get("etag")).toBe('W/"cond"');
    const head = await send(
      `${siteOrigin(SITE_A)}/`,
      { method: "HEAD", headers: { ...cookieHeader(await grantFor(SITE_A)), ...FRAME_NAVIGATION } },
      env,
    );
    expect(head.headers.get("etag")).toBe('W/"cond"');
    expect(head.headers.get("content-length")).toBeNull();
    expect(seen.splice(2, 1)[0]?.ifNoneMatch).toBeNull(); // the HEAD was asked nothing of ours
    // A stale ETag, or a range: forwarded untouched, never answered with the gateway's condition.
    const stale = await get(env, "/", undefined, { "if-none-match": '"old"' });
    expect(stale.status).toBe(200);
    expect(stale.text).toContain("COND");
    expect(seen[2]?.ifNoneMatch).toBe('"old"');
    await get(env, "/", undefined, { range: "bytes=0-10" });
    expect(seen[3]).toMatchObject({ ifNoneMatch: null, range: "bytes=0-10" });
  });

  it("serves the kept bytes when the user Worker ignores the condition but sends the same ETag, and new bytes when the ETag changes", async () => {
    let body = page("FIRST");
    let etag: string | null = '"v1-hash"';
    const names: string[] = [];
    const env = withUpstream((_request, name) => {
      names.push(name);
      const headers: Record<string, string> = { "content-type": "text/html; charset=utf-8" };
      if (etag !== null) headers.etag = etag;
      return new Response(body, { headers });
    });
    const grant = await grantFor(SITE_A);
    const first = await get(env, "/", grant);
    expect(first.text).toContain("FIRST");
    // The same ETag names the same bytes: what this isolate produced before is served again.
    body = page("CHANGED-UNDER-THE-SAME-ETAG");
    const second = await get(env, "/", grant);
    expect(second.text).toBe(first.text);
    expect(second.response.headers.get("content-length")).toBe(
      String(new TextEncoder().encode(first.text).length),
    );
    expect(second.response.headers.get("etag")).toBe('W/"v1-hash"');
    expectSecurityHeaders(second.response);
    // Another path, another version or new bytes: never the kept copy.
    expect((await get(env, "/other", grant)).text).toContain("CHANGED-UNDER-THE-SAME-ETAG");
    const v2 = await get(env, "/", await grantFor(SITE_A, { version: 2 }));
    expect(v2.text).toContain("CHANGED-UNDER-THE-SAME-ETAG");
    etag = '"v1-other-hash"';
    expect((await get(env, "/", grant)).text).toContain("CHANGED-UNDER-THE-SAME-ETAG");
    // Without an ETag nothing is kept: every viewer gets the upstream's bytes, rewritten.
    etag = null;
    body = page("NO-ETAG-1");
    expect((await get(env, "/plain", grant)).text).toContain("NO-ETAG-1");
    body = page("NO-ETAG-2");
    expect((await get(env, "/plain", grant)).text).toContain("NO-ETAG-2");
    expect(names.length).toBe(7);
  });

  it("passes any other answer to its condition on as sent, and never asks for another version's or site's page", async () => {
    const state = { body: page("OK-PAGE"), etag: '"shared"' as string | null, status: 200 };
    const { env, seen } = staticAssets(state);
    await get(env, "/p");
    // The page is gone from this version's answer (another ETag, a 404): the 404 is what the viewer gets.
    state.etag = '"not-found-page"';
    state.status = 404;
    state.body = page("NOT-FOUND-PAGE");
    const missing = await get(env, "/p");
    expect(seen[1]?.ifNoneMatch).toBe('"shared"');
    expect(missing.status).toBe(404);
    expect(missing.text).toContain("NOT-FOUND-PAGE");
    expect(missing.text).not.toContain("OK-PAGE");
    // Version 2 of the same site, same path: its own user Worker, asked nothing about v1's page.
    state.etag = '"shared"';
    state.status = 200;
    state.body = page("V2-PAGE");
    const v2 = await get(env, "/p", await grantFor(SITE_A, { version: 2 }));
    expect(v2.text).toContain("V2-PAGE");
    expect(seen[2]?.ifNoneMatch).toBeNull();
    const b = await send(
      `${siteOrigin(SITE_B)}/p`,
      { headers: { ...cookieHeader(await grantFor(SITE_B)), ...FRAME_NAVIGATION } },
      env,
    );
    expect(await b.text()).toContain("V2-PAGE");
    expect(seen[3]?.ifNoneMatch).toBeNull();
  });

  it("serves a kept page with the viewer's tenant's current CSP, never the one it was first served with", async () => {
    const { env, seen } = staticAssets({ body: page("CSP"), etag: '"csp"' });
    const [first, second] = [newTenantShortId(), newTenantShortId()];
    await tenantCsp.put(first, encodeTenantAllowLists({ cdn: [], connect: ["https://api.first.example"] }));
    await tenantCsp.put(second, encodeTenantAllowLists({ cdn: [], connect: ["https://api.second.example"] }));
    const one = await get(env, "/", await grantFor(SITE_A, { tenantId: first }));
    const two = await get(env, "/", await grantFor(SITE_A, { tenantId: second }));
    expect(seen[1]?.ifNoneMatch).toBe('"csp"');
    expect(two.text).toBe(one.text);
    expect(one.response.headers.get("content-security-policy")).toContain("https://api.first.example");
    const csp = two.response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("https://api.second.example");
    expect(csp).not.toContain("first");
    expectSecurityHeaders(two.response);
  });

  it("never answers one site's viewer with another site's kept page", async () => {
    const env = withUpstream(
      (_request, name) =>
        new Response(page(`PAGE-OF-${name}`), { headers: { "content-type": "text/html", etag: '"same"' } }),
    );
    const a = await send(
      `${siteOrigin(SITE_A)}/`,
      { headers: { ...cookieHeader(await grantFor(SITE_A)), ...FRAME_NAVIGATION } },
      env,
    );
    const b = await send(
      `${siteOrigin(SITE_B)}/`,
      { headers: { ...cookieHeader(await grantFor(SITE_B)), ...FRAME_NAVIGATION } },
      env,
    );
    const [textA, textB] = [await a.text(), await b.text()];
    expect(textA).not.toBe(textB);
    expect(textA).toContain(SITE_A);
    expect(textB).toContain(SITE_B);
  });

  it("keeps no copy of a page over the entry cap, and serves it whole every time", async () => {
    const state = { body: page("BIG-1", 600 * 1024), etag: '"big"' as string | null };
    const { env, seen } = staticAssets(state);
    const first = await get(env, "/big");
    expect(first.text.length).toBeGreaterThan(600 * 1024);
    expect(first.text).toContain("data-mini-sites-bootstrap");
    state.body = page("BIG-2", 600 * 1024);
    state.etag = '"big-2"';
    expect((await get(env, "/big")).text).toContain("BIG-2");
    expect(seen.map((s) => s.ifNoneMatch)).toEqual([null, null]);
  });
});

describe("KeptPages bounds", () => {
  const kept = (bytes: number) => ({
    etag: '"e"',
    bytes: new Uint8Array(bytes),
    headers: new Headers(),
    size: bytes,
  });

  it("counts keys as well as pages, caps the number of pages, and bounds copies in progress", async () => {
    const { KeptPages, KEPT_PAGES_ENTRIES, KEPT_PAGES_COPYING_BYTES } = await import(
      "../../src/kept-pages.ts"
    );
    const cache = new KeptPages(64 * 1024);
    // Long keys fill the budget although the pages are small.
    for (let i = 0; i < 100; i++) cache.set(`${"/p".repeat(4000)}${i}`, kept(100));
    expect(cache.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(cache.size).toBeLessThan(10);
    // Many short keys: never more than the entry cap.
    const roomy = new KeptPages(1024 * 1024 * 1024);
    for (let i = 0; i < KEPT_PAGES_ENTRIES + 500; i++) roomy.set(`/${i}`, kept(1));
    expect(roomy.size).toBe(KEPT_PAGES_ENTRIES);
    expect(roomy.get("/0")).toBeUndefined();
    expect(roomy.get(`/${KEPT_PAGES_ENTRIES + 499}`)).toBeDefined();
    // Replacing an entry releases what it held.
    const one = new KeptPages(1024);
    one.set("/a", kept(500));
    one.set("/a", kept(400));
    expect(one.bytes).toBe(2 + 400);

    // Copies in progress share one budget; one abandoned by its viewer stops counting after a minute,
    // and is refused from then on (it cannot start counting again from nothing).
    const a = {};
    const b = {};
    expect(cache.grow(a, KEPT_PAGES_COPYING_BYTES - 10, 0)).toBe(true);
    expect(cache.grow(b, 11, 1)).toBe(false);
    expect(cache.grow(b, 11, 60_001)).toBe(true);
    expect(cache.grow(a, 1, 60_002)).toBe(false);
    expect(cache.copying).toBe(11);
    cache.endCopy(b);
    expect(cache.copying).toBe(0);
  });

  it("keeps at most KEPT_PAGES_PER_WORKER pages of one site version, dropping its own oldest, never another site's", async () => {
    const { KeptPages, KEPT_PAGES_PER_WORKER } = await import("../../src/kept-pages.ts");
    const cache = new KeptPages(1024 * 1024 * 1024);
    cache.set("s-other-v1\n/", kept(10));
    for (let i = 0; i < KEPT_PAGES_PER_WORKER + 100; i++) cache.set(`s-spa-v1\n/${i}`, kept(10));
    expect(cache.size).toBe(KEPT_PAGES_PER_WORKER + 1);
    expect(cache.get("s-other-v1\n/")).toBeDefined();
    expect(cache.get("s-spa-v1\n/0")).toBeUndefined();
    expect(cache.get(`s-spa-v1\n/${KEPT_PAGES_PER_WORKER + 99}`)).toBeDefined();
    // Deleting releases the per-site count: room again for that site.
    for (let i = 100; i < KEPT_PAGES_PER_WORKER + 100; i++) cache.delete(`s-spa-v1\n/${i}`);
    expect(cache.size).toBe(1);
    expect(cache.bytes).toBe("s-other-v1\n/".length + 10);
    for (let i = 0; i < KEPT_PAGES_PER_WORKER; i++) cache.set(`s-spa-v1\n/again-${i}`, kept(10));
    expect(cache.size).toBe(KEPT_PAGES_PER_WORKER + 1);
    expect(cache.get("s-spa-v1\n/again-0")).toBeDefined();
    // Setting a key again replaces it: counted once.
    const before = cache.bytes;
    cache.set("s-spa-v1\n/again-0", kept(10));
    cache.set("s-spa-v1\n/again-0", kept(10));
    expect(cache.bytes).toBe(before);
    expect(cache.size).toBe(KEPT_PAGES_PER_WORKER + 1);
  });

  it("keeps at most KEPT_PAGES_BYTES_PER_WORKER bytes of one site version: large pages cannot push other sites out", async () => {
    const { KeptPages, KEPT_PAGES_BYTES_PER_WORKER } = await import("../../src/kept-pages.ts");
    const cache = new KeptPages();
    cache.set("s-other-v1\n/", kept(10));
    for (let i = 0; i < 40; i++) cache.set(`s-spa-v1\n/${i}`, kept(300 * 1024));
    expect(cache.bytes).toBeLessThanOrEqual(KEPT_PAGES_BYTES_PER_WORKER + "s-other-v1\n/".length + 10);
    expect(cache.size).toBe(1 + Math.floor(KEPT_PAGES_BYTES_PER_WORKER / (300 * 1024 + 12)));
    expect(cache.get("s-other-v1\n/")).toBeDefined();
    expect(cache.get("s-spa-v1\n/39")).toBeDefined();
  });

  /** An HTML body in `chunks` pulls (16 KiB each after the first), with hooks to watch it. */
  function upstreamPage(chunks: number, options: { failAt?: number } = {}) {
    const encoder = new TextEncoder();
    const state = { pulls: 0, cancelled: false };
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        state.pulls++;
        if (state.pulls === options.failAt) return controller.error(new Error("upstream reset"));
        if (state.pulls > chunks) return controller.close();
        controller.enqueue(
          encoder.encode(
            state.pulls === 1
              ? "<!doctype html><html><head></head><body>"
              : String(state.pulls % 10).repeat(16 * 1024),
          ),
        );
      },
      cancel() {
        state.cancelled = true;
      },
    });
    const text = `<!doctype html><html><head><script></script></head><body>${Array.from({ length: chunks - 1 }, (_, i) => String((i + 2) % 10).repeat(16 * 1024)).join("")}`;
    return { response: new Response(body, { headers: { "content-type": "text/html" } }), state, text };
  }

  async function readAll(response: Response): Promise<string> {
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text + decoder.decode();
      text += decoder.decode(value, { stream: true });
    }
  }

  it("reads a page whole, serves and keeps it, and holds nothing of the copying budget afterwards", async () => {
    const { KeptPages, servedWithBootstrap } = await import("../../src/kept-pages.ts");
    const pages = new KeptPages();
    const page = upstreamPage(4);
    const served = await servedWithBootstrap(page.response, "<script></script>", pages, "s-a-v1\n/", '"e"');
    const text = await readAll(served);
    expect(text).toBe(page.text);
    expect(served.headers.get("content-length")).toBe(String(new TextEncoder().encode(text).byteLength));
    expect(pages.size).toBe(1);
    expect(pages.copying).toBe(0);
  });

  it("serves a page over the cap whole as it streams, keeps nothing, and counts what it read until the viewer has it", async () => {
    const { KeptPages, servedWithBootstrap, KEPT_PAGE_BYTES } = await import("../../src/kept-pages.ts");
    const pages = new KeptPages();
    const chunks = Math.ceil(KEPT_PAGE_BYTES / (16 * 1024)) + 8;
    const serve = (page: { response: Response }) =>
      servedWithBootstrap(page.response, "<script></script>", pages, "s-a-v1\n/big", '"b"');
    const whole = upstreamPage(chunks);
    const served = await serve(whole);
    expect(pages.copying).toBeGreaterThan(KEPT_PAGE_BYTES - 32 * 1024);
    expect(await readAll(served)).toBe(whole.text);
    expect(pages.copying).toBe(0);
    expect(pages.get("s-a-v1\n/big")).toBeUndefined();

    // The viewer goes away mid-page: the upstream is cancelled and the count released.
    const left = upstreamPage(chunks);
    const abandoned = await serve(left);
    const reader = (abandoned.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.cancel();
    for (let i = 0; i < 500 && !left.state.cancelled; i++) await new Promise((r) => setTimeout(r, 2));
    expect(left.state.cancelled).toBe(true);
    expect(pages.copying).toBe(0);
    expect(pages.size).toBe(0);
  });

  it("serves a page whole without keeping it when the isolate's copying budget is taken", async () => {
    const { KeptPages, servedWithBootstrap, KEPT_PAGES_COPYING_BYTES } = await import(
      "../../src/kept-pages.ts"
    );
    const pages = new KeptPages();
    const other = {};
    expect(pages.grow(other, KEPT_PAGES_COPYING_BYTES - 100, Date.now())).toBe(true);
    const page = upstreamPage(4);
    const served = await servedWithBootstrap(page.response, "<script></script>", pages, "s-a-v1\n/", '"e"');
    expect(await readAll(served)).toBe(page.text);
    expect(pages.size).toBe(0);
    expect(pages.copying).toBe(KEPT_PAGES_COPYING_BYTES - 100);
    pages.endCopy(other);
    expect(pages.copying).toBe(0);
  });

  it("fails a page whose upstream breaks mid-read with an error, keeping nothing and releasing the budget", async () => {
    const { KeptPages, servedWithBootstrap } = await import("../../src/kept-pages.ts");
    const pages = new KeptPages();
    const page = upstreamPage(4, { failAt: 3 });
    await expect(
      servedWithBootstrap(page.response, "<script></script>", pages, "s-a-v1\n/", '"e"'),
    ).rejects.toThrow();
    expect(pages.size).toBe(0);
    expect(pages.copying).toBe(0);
  });

  it("keeps no copy of pages with very long paths (an SPA answers every path with its index)", async () => {
    let marker = "SPA-1";
    const seen: (string | null)[] = [];
    const env = withUpstream((request) => {
      seen.push(request.headers.get("if-none-match"));
      return new Response(page(marker), { headers: { "content-type": "text/html", etag: '"spa-index"' } });
    });
    const grant = await grantFor(SITE_A);
    const long = `/${"a".repeat(2000)}`;
    const get = async () =>
      (
        await send(
          `${siteOrigin(SITE_A)}${long}`,
          { headers: { ...cookieHeader(grant), ...FRAME_NAVIGATION } },
          env,
        )
      ).text();
    expect(await get()).toContain("SPA-1");
    marker = "SPA-2";
    expect(await get()).toContain("SPA-2");
    expect(seen).toEqual([null, null]);
  });
});

function page(marker: string): string {
  return `<!doctype html><html><head><title>${marker}</title></head><body>${marker}</body></html>`;
}
