/**
 * Invariant 1 (DESIGN §6): bytes leave only through the gateway, only with a valid grant for that
 * site and version, on that site's own origin — in cookie mode and on the g-<grant> fallback origin.
 */

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

  it("serves the same bytes (same version, path and ETag) again without rewriting, and new bytes when the ETag changes", async () => {
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
    const get = async (path = "/", g = grant) => {
      const response = await send(
        `${siteOrigin(SITE_A)}${path}`,
        { headers: { ...cookieHeader(g), ...FRAME_NAVIGATION } },
        env,
      );
      expect(response.status).toBe(200);
      return { text: await response.text(), response };
    };
    const first = await get();
    expect(first.text).toContain("FIRST");
    expect(first.text.match(/data-mini-sites-bootstrap/g)).toHaveLength(1);
    // The same ETag names the same bytes: what this isolate produced before is served again.
    body = page("CHANGED-UNDER-THE-SAME-ETAG");
    const second = await get();
    expect(second.text).toBe(first.text);
    expect(second.response.headers.get("content-length")).toBe(
      String(new TextEncoder().encode(first.text).length),
    );
    expect(second.response.headers.get("etag")).toBe('W/"v1-hash"');
    expectSecurityHeaders(second.response);
    // Another path, another version or new bytes: never the kept copy.
    expect((await get("/other")).text).toContain("CHANGED-UNDER-THE-SAME-ETAG");
    const v2 = await get("/", await grantFor(SITE_A, { version: 2 }));
    expect(v2.text).toContain("CHANGED-UNDER-THE-SAME-ETAG");
    etag = '"v1-other-hash"';
    expect((await get()).text).toContain("CHANGED-UNDER-THE-SAME-ETAG");
    // Without an ETag nothing is kept: every viewer gets the upstream's bytes, rewritten.
    etag = null;
    body = page("NO-ETAG-1");
    expect((await get("/plain")).text).toContain("NO-ETAG-1");
    body = page("NO-ETAG-2");
    expect((await get("/plain")).text).toContain("NO-ETAG-2");
    // The upstream is still asked every time (its status and headers are fresh); only the rewriting is saved.
    expect(names.length).toBe(7);
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
    let marker = "BIG-1";
    const env = withUpstream(
      () =>
        new Response(page(marker, 600 * 1024), { headers: { "content-type": "text/html", etag: '"big"' } }),
    );
    const grant = await grantFor(SITE_A);
    const get = async () =>
      (
        await send(
          `${siteOrigin(SITE_A)}/big`,
          { headers: { ...cookieHeader(grant), ...FRAME_NAVIGATION } },
          env,
        )
      ).text();
    const first = await get();
    expect(first.length).toBeGreaterThan(600 * 1024);
    expect(first).toContain("data-mini-sites-bootstrap");
    marker = "BIG-2";
    expect(await get()).toContain("BIG-2");
  });
});

describe("RewrittenHtmlCache bounds", () => {
  it("counts keys as well as pages, caps the number of pages, and bounds copies in progress", async () => {
    const { RewrittenHtmlCache, REWRITTEN_HTML_CACHE_ENTRIES, REWRITTEN_HTML_COPYING_BYTES } = await import(
      "../../src/inject.ts"
    );
    const cache = new RewrittenHtmlCache(64 * 1024);
    const page = new Uint8Array(100);
    // Long keys fill the budget although the pages are small.
    for (let i = 0; i < 100; i++) cache.set(`${"/p".repeat(4000)}${i}`, page);
    expect(cache.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(cache.size).toBeLessThan(10);
    // Many short keys: never more than the entry cap.
    const roomy = new RewrittenHtmlCache(1024 * 1024 * 1024);
    for (let i = 0; i < REWRITTEN_HTML_CACHE_ENTRIES + 500; i++) roomy.set(`/${i}`, new Uint8Array(1));
    expect(roomy.size).toBe(REWRITTEN_HTML_CACHE_ENTRIES);
    expect(roomy.get("/0")).toBeUndefined();
    expect(roomy.get(`/${REWRITTEN_HTML_CACHE_ENTRIES + 499}`)).toBeDefined();

    // Copies in progress share one budget; one abandoned by its viewer stops counting after a minute.
    const a = {};
    const b = {};
    expect(cache.grow(a, REWRITTEN_HTML_COPYING_BYTES - 10, 0)).toBe(true);
    expect(cache.grow(b, 11, 1)).toBe(false);
    expect(cache.grow(b, 11, 60_001)).toBe(true);
    cache.endCopy(b);
  });

  it("keeps no copy of pages with very long paths (an SPA answers every path with its index)", async () => {
    let marker = "SPA-1";
    const env = withUpstream(
      () => new Response(page(marker), { headers: { "content-type": "text/html", etag: '"spa-index"' } }),
    );
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
  });
});

function page(marker: string): string {
  return `<!doctype html><html><head><title>${marker}</title></head><body>${marker}</body></html>`;
}
