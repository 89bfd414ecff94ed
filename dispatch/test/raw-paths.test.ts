/**
 * The dispatch Worker on a real socket, bundled as wrangler bundles it, with traversal spellings
 * sent raw (as `curl --path-as-is` would). Two kinds:
 * - spellings that survive URL parsing (`%2f`, `%5c`, NUL, double encoding) reach the Worker as sent
 *   and are refused with 404 PATH_TRAVERSAL before any user Worker is asked;
 * - dot segments in any spelling (`..`, `%2e%2e`, `.%2e`, `\`) are resolved by workerd's WHATWG URL
 *   parser before the Worker runs (Cloudflare's edge URL normalization does the same in production),
 *   clamped at the root: what is left is a path inside the same site, served or 404'd by that
 *   site's own Worker — never another site, never the gateway's reserved space.
 */

import { fileURLToPath } from "node:url";
import { workerNameFor } from "@mini-sites/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestVia } from "../../dev/src/loopback-http.ts";
import { mint } from "./support/deployment.ts";
import { type Gateway, startGateway } from "./support/gateway.ts";
import { EMBED_ANCESTORS, SITE_A, TEST_APP_PID, TEST_APP_PSK } from "./workerd/fixtures.ts";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe("raw paths on the gateway's socket", () => {
  let gateway: Gateway;
  let grant: string;
  const host = () => `s-${SITE_A}.localhost:${gateway.port}`;

  beforeAll(async () => {
    gateway = await startGateway({
      sites: [
        { name: workerNameFor(SITE_A, 1), directory: fixture("site-a-v1"), notFoundHandling: "404-page" },
      ],
      vars: { SITES_DOMAIN: "localhost", EMBED_ANCESTORS, APP_PID: TEST_APP_PID, APP_PSK: TEST_APP_PSK },
    });
    grant = await mint(SITE_A);
  });

  afterAll(async () => {
    await gateway?.dispose();
  });

  it("serves a normal request", async () => {
    const reply = await requestVia(gateway.url, {
      host: host(),
      rawPath: "/assets/chunks/x.js",
      headers: { cookie: `__Host-ms=${grant}` },
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toContain("chunk loaded");
  });

  it.each([
    "/assets%2fapp.js",
    "/assets%2Fchunks%2Fx.js",
    "/assets%5capp.js",
    "/assets/%00app.js",
    "/assets/%252e%252e/index.html",
    "/assets/%25%32%65%25%32%65/index.html",
  ])("refuses %s with 404 PATH_TRAVERSAL and no site byte", async (path) => {
    const reply = await requestVia(gateway.url, {
      host: host(),
      rawPath: path,
      headers: { cookie: `__Host-ms=${grant}`, "sec-fetch-site": "same-origin" },
    });
    expect(reply.status).toBe(404);
    expect(reply.headers["x-mini-sites-error"]).toBe("PATH_TRAVERSAL");
    expect(reply.body).not.toMatch(/SITE-A|chunk loaded|import /);
    expect(reply.headers["content-security-policy"]).toContain("frame-ancestors");
    expect(reply.headers["x-content-type-options"]).toBe("nosniff");
  });

  it.each([
    ["/../../etc/passwd", 404],
    ["/assets/../../../assets/chunks/x.js", 200],
    ["/%2e%2e/%2e%2e/assets/chunks/x.js", 200],
    ["/assets/.%2e/.%2E/assets/chunks/x.js", 200],
    ["/assets\\chunks\\x.js", 200],
  ])("keeps %s inside the site: workerd resolves it at the root", async (path, status) => {
    const reply = await requestVia(gateway.url, {
      host: host(),
      rawPath: path,
      headers: { cookie: `__Host-ms=${grant}`, "sec-fetch-site": "same-origin" },
    });
    expect(reply.status).toBe(status);
    expect(reply.headers["content-security-policy"]).toContain("frame-ancestors");
  });

  it("never forwards a path resolved into /__ms/: the gateway answers it itself", async () => {
    const reply = await requestVia(gateway.url, {
      host: host(),
      rawPath: "/assets/%2e%2e/__ms/boot.js",
      headers: { cookie: `__Host-ms=${grant}` },
    });
    expect(reply.status).toBe(404);
    expect(reply.headers["x-mini-sites-error"]).toBe("NOT_FOUND");
  });
});
