/**
 * Rules that hold before any grant is read (DESIGN §3 Serve): read-only methods, no service workers,
 * Fetch Metadata, decode-aware path refusal — each answered with a typed error, the security
 * headers, and no byte of the site.
 */

import { describe, expect, it } from "vitest";
import type { DispatchEnv } from "../../src/index.ts";
import { SITE_A } from "./fixtures.ts";
import {
  cookieHeader,
  expectSecurityHeaders,
  FRAME_NAVIGATION,
  grantFor,
  SAME_ORIGIN_FETCH,
  send,
  siteOrigin,
  testEnv,
} from "./helpers.ts";

/** An env whose namespace records every request that reaches a user Worker. */
function spyEnv(): { env: DispatchEnv; reached: string[] } {
  const reached: string[] = [];
  const env: DispatchEnv = {
    ...testEnv,
    DISPATCHER: {
      get: (name: string) => ({
        fetch: async (input, init) => {
          reached.push(`${name} ${new Request(input, init).url}`);
          return new Response("SITE-A-V1-BYTES", { headers: { "content-type": "text/plain" } });
        },
      }),
    },
  };
  return { env, reached };
}

describe("methods", () => {
  it("answers 405 with Allow for anything but GET and HEAD", async () => {
    const grant = await grantFor(SITE_A);
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
      const response = await send(`${siteOrigin(SITE_A)}/`, {
        method,
        headers: { ...cookieHeader(grant), ...SAME_ORIGIN_FETCH },
      });
      expect(response.status, method).toBe(405);
      expect(response.headers.get("allow")).toBe("GET, HEAD");
      expect(response.headers.get("x-mini-sites-error")).toBe("METHOD_NOT_ALLOWED");
      expectSecurityHeaders(response);
    }
  });
});

describe("service workers", () => {
  it("refuses the script fetch of a service worker registration", async () => {
    const grant = await grantFor(SITE_A);
    const viaHeader = await send(`${siteOrigin(SITE_A)}/assets/app.js`, {
      headers: { ...cookieHeader(grant), ...SAME_ORIGIN_FETCH, "service-worker": "script" },
    });
    expect(viaHeader.status).toBe(403);
    expect(viaHeader.headers.get("x-mini-sites-error")).toBe("SERVICE_WORKER_REFUSED");
    expect(await viaHeader.text()).not.toContain("chunk");
    const viaDest = await send(`${siteOrigin(SITE_A)}/assets/app.js`, {
      headers: {
        ...cookieHeader(grant),
        "sec-fetch-site": "same-origin",
        "sec-fetch-mode": "same-origin",
        "sec-fetch-dest": "serviceworker",
      },
    });
    expect(viaDest.status).toBe(403);
  });
});

describe("Fetch Metadata", () => {
  it("allows navigations from anywhere", async () => {
    const grant = await grantFor(SITE_A);
    for (const site of ["cross-site", "same-site", "none", "same-origin"]) {
      const response = await send(`${siteOrigin(SITE_A)}/`, {
        headers: { ...cookieHeader(grant), ...FRAME_NAVIGATION, "sec-fetch-site": site },
      });
      expect(response.status, site).toBe(200);
    }
  });

  it("allows subresources only from the same origin or without metadata", async () => {
    const grant = await grantFor(SITE_A);
    const ok = await send(`${siteOrigin(SITE_A)}/data/metrics.json`, {
      headers: { ...cookieHeader(grant), ...SAME_ORIGIN_FETCH },
    });
    expect(ok.status).toBe(200);
    const bare = await send(`${siteOrigin(SITE_A)}/data/metrics.json`, { headers: cookieHeader(grant) });
    expect(bare.status).toBe(200);
    for (const site of ["same-site", "cross-site", "none"]) {
      const response = await send(`${siteOrigin(SITE_A)}/data/metrics.json`, {
        headers: {
          ...cookieHeader(grant),
          "sec-fetch-mode": "no-cors",
          "sec-fetch-dest": "script",
          "sec-fetch-site": site,
        },
      });
      expect(response.status, site).toBe(403);
      expect(response.headers.get("x-mini-sites-error")).toBe("CROSS_SITE_REQUEST_REFUSED");
      expect(await response.text()).not.toContain("42");
      expectSecurityHeaders(response);
    }
  });
});

describe("paths that escape the site", () => {
  // Spellings that survive URL parsing and reach the Worker as sent.
  const hostile = [
    "/assets%2fapp.js",
    "/assets%2Fapp.js",
    "/assets%5capp.js",
    "/assets/%00.js",
    "/assets/%252e%252e/x",
    "/assets/%25%32%65",
    "/assets/%c0%ae%c0%ae/x",
    "/%E0%A4%A",
    "/a%0d%0aSet-Cookie:x",
  ];

  it.each(hostile)("answers 404 for %s without reaching the user Worker", async (path) => {
    const { env, reached } = spyEnv();
    const response = await send(
      `${siteOrigin(SITE_A)}${path}`,
      {
        headers: { ...cookieHeader(await grantFor(SITE_A)), ...SAME_ORIGIN_FETCH },
      },
      env,
    );
    expect(response.status).toBe(404);
    expect(response.headers.get("x-mini-sites-error")).toBe("PATH_TRAVERSAL");
    expectSecurityHeaders(response);
    expect(reached).toEqual([]);
  });

  // Spellings the URL parser of `new Request()` resolves before the Worker runs (WHATWG URL treats
  // `%2e%2e` as `..`); whatever is left must stay inside the site. The same spellings sent raw on a
  // socket are refused with 404 by the Node-side test (raw-paths.test.ts).
  it.each(["/%2e%2e/%2e%2e/etc/passwd", "/assets/%2E%2E/index.html", "/assets/.%2e/x", "/a/b/../../../x"])(
    "keeps %s inside the site once the URL parser resolved it",
    async (path) => {
      const { env, reached } = spyEnv();
      await send(
        `${siteOrigin(SITE_A)}${path}`,
        { headers: { ...cookieHeader(await grantFor(SITE_A)), ...SAME_ORIGIN_FETCH } },
        env,
      );
      for (const line of reached) {
        const url = new URL(line.split(" ")[1] as string);
        expect(url.origin).toBe(`https://s-${SITE_A}.localhost`);
        expect(url.pathname).not.toMatch(/(^|\/)\.\.?(\/|$)|%2e|__ms/i);
      }
    },
  );

  it("never forwards a dot-segment path that the URL parser resolved into /__ms/", async () => {
    const { env, reached } = spyEnv();
    const response = await send(
      `${siteOrigin(SITE_A)}/assets/../__ms/secret`,
      {
        headers: { ...cookieHeader(await grantFor(SITE_A)), ...SAME_ORIGIN_FETCH },
      },
      env,
    );
    expect(response.status).toBe(404);
    expect(reached).toEqual([]);
  });
});
