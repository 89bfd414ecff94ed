/**
 * A real browser through the real gateway (DESIGN §3 Serve, §7): Debian's Chromium embeds a site in
 * the nested frame Confluence uses (`sandbox="allow-scripts allow-same-origin …"`) from another
 * origin, and a bundle built with root-relative URLs — a module script importing a chunk from a
 * subfolder, a CSS `url()`, a relative `fetch()`, `localStorage` — must fully work:
 * - in cookie mode (enter → partitioned cookie → check → entry page on s-<site>);
 * - with the grant cookie refused by the browser itself (a content setting that blocks cookies for
 *   the s-<site> origin, as a strict browser would), through the g-<grant> fallback origin.
 * Chromium resolves `*.localhost` to loopback itself; the gateway listens on 127.0.0.1.
 */

import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { workerNameFor } from "@mini-sites/core";
import type { BrowserContext, Frame, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM_PATH, startChromium } from "./support/chromium.ts";
import { mint } from "./support/deployment.ts";
import { type Gateway, startGateway } from "./support/gateway.ts";
import { SITE_A, TEST_APP_PID, TEST_APP_PSK } from "./workerd/fixtures.ts";

const SANDBOX = "allow-scripts allow-same-origin allow-forms allow-downloads allow-modals";

function embedderPage(src: string): string {
  const escaped = src.replace(/&/g, "&amp;").replace(/"/g, "&quot;");
  return (
    `<!doctype html><meta charset="utf-8"><title>embedder</title>` +
    `<script>window.messages=[];addEventListener("message",(e)=>messages.push({origin:e.origin,data:e.data}));</script>` +
    `<iframe id="site" width="800" height="600" sandbox="${SANDBOX}" src="${escaped}"></iframe>`
  );
}

async function siteFrame(page: Page, origin: RegExp): Promise<Frame> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const frame = page.frames().find((f) => origin.test(f.url()));
    if (frame) {
      try {
        await frame.waitForFunction(() => document.body?.dataset.ready === "yes", undefined, {
          timeout: 5_000,
        });
        await frame.waitForFunction(
          () =>
            !/pending/.test(document.getElementById("metrics")?.textContent ?? "pending") &&
            !/pending/.test(document.getElementById("css")?.textContent ?? "pending"),
          undefined,
          { timeout: 5_000 },
        );
        return frame;
      } catch {
        // the frame navigated on (enter → check → entry); look again
      }
    }
    await page.waitForTimeout(100);
  }
  throw new Error(
    `no ready frame at ${origin}; frames: ${page
      .frames()
      .map((f) => f.url())
      .join(", ")}`,
  );
}

async function bundleState(frame: Frame) {
  return frame.evaluate(() => ({
    title: document.getElementById("title")?.textContent,
    chunk: document.getElementById("chunk")?.textContent,
    metrics: document.getElementById("metrics")?.textContent,
    storage: document.getElementById("storage")?.textContent,
    css: document.getElementById("css")?.textContent,
    bootstrap: document.querySelectorAll("script[data-mini-sites-bootstrap]").length,
  }));
}

// Never skipped: a missing browser fails the run (.ci/run installs Debian's chromium).
it("has Chromium to test with", () => {
  expect(existsSync(CHROMIUM_PATH), `${CHROMIUM_PATH} is missing: apt-get install -y chromium`).toBe(true);
});

describe("a root-relative bundle in Chromium through the gateway", () => {
  let gateway: Gateway;
  let embedder: http.Server;
  let embedPort: number;
  let scratch: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "dispatch-chromium-"));
    embedder = http.createServer((request, response) => {
      const src = new URL(request.url ?? "/", "http://embedder").searchParams.get("src") ?? "about:blank";
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end(embedderPage(src));
    });
    await new Promise<void>((resolve) => embedder.listen(0, "127.0.0.1", resolve));
    embedPort = (embedder.address() as AddressInfo).port;
    gateway = await startGateway({
      sites: [
        {
          name: workerNameFor(SITE_A, 1),
          directory: fileURLToPath(new URL("./fixtures/site-a-v1", import.meta.url)),
          notFoundHandling: "404-page",
        },
      ],
      vars: {
        SITES_DOMAIN: "localhost",
        DISPATCH_BASE_URL: "http://gw.localhost",
        EMBED_ANCESTORS: `http://localhost:${embedPort}`,
        EMBED_ORIGIN: `http://localhost:${embedPort}`,
        APP_PID: TEST_APP_PID,
        APP_PSK: TEST_APP_PSK,
      },
    });
  });

  afterAll(async () => {
    await gateway?.dispose();
    await new Promise((resolve) => embedder?.close(resolve));
    await rm(scratch, { recursive: true, force: true });
  });

  async function open(context: BrowserContext, grant: string): Promise<Page> {
    const page = await context.newPage();
    const src = `http://s-${SITE_A}.localhost:${gateway.port}/__ms/enter/${grant}`;
    await page.goto(`http://localhost:${embedPort}/?src=${encodeURIComponent(src)}`);
    return page;
  }

  it("works in cookie mode on the site's own origin", async () => {
    const chromium = await startChromium(join(scratch, "profile-default"));
    try {
      const context = chromium.browser.contexts()[0] as BrowserContext;
      const page = await open(context, await mint(SITE_A));
      const frame = await siteFrame(page, new RegExp(`^http://s-${SITE_A}\\.localhost:${gateway.port}/$`));
      expect(await bundleState(frame)).toEqual({
        title: "SITE-A-V1-BYTES",
        chunk: "chunk loaded from a subfolder",
        metrics: "metrics 42",
        storage: "storage 1",
        css: "css 48px image 48",
        bootstrap: 1,
      });
      // The cookie is kept across loads in this partition, and so is the site's storage.
      await frame.evaluate(() => location.reload());
      const again = await siteFrame(page, new RegExp(`^http://s-${SITE_A}\\.localhost:${gateway.port}/$`));
      expect((await bundleState(again)).storage).toBe("storage 2");
      // The injected script reported the height to the embedder, from the site's origin.
      const messages = (await page.evaluate("window.messages")) as {
        origin: string;
        data: { type: string; height: number };
      }[];
      const heights = messages.filter((m) => m.data?.type === "mini-sites:height");
      expect(heights.length).toBeGreaterThan(0);
      expect(heights[0]?.origin).toBe(`http://s-${SITE_A}.localhost:${gateway.port}`);
      expect(heights[0]?.data.height).toBeGreaterThan(0);
    } finally {
      await chromium.close();
    }
  }, 60_000);

  it("falls back to the g-<grant> origin when the browser refuses the grant cookie, and still works", async () => {
    // A fresh profile whose content settings block cookies (and site data) for the s-<site> origin
    // only: the browser itself refuses __Host-ms, as some Safari versions do in third-party frames.
    const profile = join(scratch, "profile-refusing");
    await mkdir(join(profile, "Default"), { recursive: true });
    const pattern = `http://s-${SITE_A}.localhost:${gateway.port},*`;
    await writeFile(
      join(profile, "Default", "Preferences"),
      JSON.stringify({
        profile: { content_settings: { exceptions: { cookies: { [pattern]: { setting: 2 } } } } },
      }),
    );
    const chromium = await startChromium(profile);
    try {
      const context = chromium.browser.contexts()[0] as BrowserContext;
      const grant = await mint(SITE_A);
      const page = await open(context, grant);
      const frame = await siteFrame(page, new RegExp(`^http://g-${grant}\\.localhost:${gateway.port}/$`));
      expect(await bundleState(frame)).toEqual({
        title: "SITE-A-V1-BYTES",
        chunk: "chunk loaded from a subfolder",
        metrics: "metrics 42",
        storage: "storage 1",
        css: "css 48px image 48",
        bootstrap: 1,
      });
    } finally {
      await chromium.close();
    }
  }, 60_000);
});
