/**
 * The whole flow in a real browser (Debian's Chromium through playwright-core): `npm run dev`'s stack
 * with the local Confluence, the app's BUILT Custom UI loaded unchanged with the real @forge/bridge,
 * FITs verified by the control Worker exactly as in production, sites served by the gateway.
 * Screenshots of the main states, light and dark, go to forge-app/test-output/.
 */

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BrowserContext, Frame, FrameLocator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevStack, startDevStack } from "../../dev/src/stack.ts";
import { type RunningChromium, startChromium } from "../../dispatch/test/support/chromium.ts";

const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
const OUTPUT = fileURLToPath(new URL("../test-output/", import.meta.url));

let dataDir: string;
let stack: DevStack;
let chromium: RunningChromium;
let context: BrowserContext;
let acme: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "mini-sites-forge-flow-"));
  await mkdir(OUTPUT, { recursive: true });
  stack = await startDevStack({ dataDir, port: 0, grantTtlSeconds: 20 });
  acme = stack.info.localConfluence?.sites.acme?.url as string;
  chromium = await startChromium(join(dataDir, "chromium"));
  context = chromium.browser.contexts()[0] as BrowserContext;
}, 240_000);

afterAll(async () => {
  await chromium?.close();
  await stack?.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function as(page: Page, user: string): Promise<void> {
  await page.goto(`${acme}/wiki/`);
  await page.evaluate(
    (u) => fetch("/__host/session", { method: "POST", body: JSON.stringify({ user: u }) }),
    user,
  );
}

function siteFrame(page: Page): Promise<Frame> {
  return (async () => {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const frame = page
        .frames()
        .find((f) => /^http:\/\/s-[a-z0-9]+\.localhost:/.test(f.url()) && !f.url().includes("/__ms/"));
      if (frame !== undefined) {
        try {
          await frame.waitForFunction(
            'document.getElementById("data")?.textContent !== "loading"',
            undefined,
            {
              timeout: 5_000,
            },
          );
          return frame;
        } catch {
          // navigated on (enter → check → entry page): look again
        }
      }
      await page.waitForTimeout(100);
    }
    throw new Error(
      `no site frame; frames: ${page
        .frames()
        .map((f) => f.url())
        .join(", ")}`,
    );
  })();
}

async function publishFolder(page: Page, pageId: string, folder: string): Promise<FrameLocator> {
  await page.goto(`${acme}/wiki/spaces/ENG/pages/${pageId}?mode=edit`);
  await page.getByTestId("edit-macro").first().click();
  const config = page.frameLocator("[data-testid=modal] iframe");
  await config.getByTestId("folder-input").setInputFiles(folder);
  await config.getByTestId("check-result").waitFor({ timeout: 30_000 });
  return config;
}

describe("the Mini-Sites macro in the local Confluence", () => {
  it("an editor publishes a folder: check, upload, job progress, live; the site works in the page", async () => {
    const page = await context.newPage();
    await as(page, "editor");
    const config = await publishFolder(page, "1001", join(FIXTURES, "counter"));
    expect(await config.getByTestId("file-list").textContent()).toContain("data/items.json");
    await config.getByTestId("publish").click();
    await config.getByTestId("live").waitFor({ timeout: 90_000 });
    await page.screenshot({ path: join(OUTPUT, "publisher-live-light.png"), fullPage: true });
    await config.getByTestId("save-config").click();
    await page.goto(`${acme}/wiki/spaces/ENG/pages/1001`);
    const site = await siteFrame(page);
    // A relative fetch of a JSON file works.
    expect(await site.locator("#data").textContent()).toBe("alpha, beta");
    // A click changes state, and localStorage survives a reload.
    await site.locator("#inc").click();
    await site.locator("#inc").click();
    expect(await site.locator("#count").textContent()).toBe("2");
    await page.reload();
    const again = await siteFrame(page);
    expect(await again.locator("#count").textContent()).toBe("2");
    await page.screenshot({ path: join(OUTPUT, "view-live-light.png"), fullPage: true });
    await page.getByTestId("theme-toggle").click();
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(OUTPUT, "view-live-dark.png"), fullPage: true });
    await page.getByTestId("theme-toggle").click();
    await page.close();
  }, 240_000);

  it("a viewer sees the site but no publisher and no edit action", async () => {
    const page = await context.newPage();
    await as(page, "viewer");
    await page.goto(`${acme}/wiki/spaces/ENG/pages/1001`);
    const site = await siteFrame(page);
    expect(await site.locator("#title").textContent()).toBe("Counter demo");
    expect(await page.getByTestId("edit-page").count()).toBe(0);
    await page.goto(`${acme}/wiki/spaces/ENG/pages/1001?mode=edit`);
    expect(await page.getByTestId("edit-macro").count()).toBe(0);
    await page.close();
  }, 120_000);

  it("a user who may not read the restricted page gets no grant (the control Worker asks Confluence with their token)", async () => {
    const serveUrl = async (user: string) => {
      const minted = await fetch(stack.info.localConfluence?.fitEndpoint as string, {
        method: "POST",
        body: JSON.stringify({ site: "acme", user, pageId: "3001" }),
      });
      const { fit, userToken } = (await minted.json()) as { fit: string; userToken: string };
      return fetch(`${stack.info.controlUrl}/v1/macro/serve-url`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${fit}`,
          "x-forge-oauth-user": userToken,
          "content-type": "application/json",
        },
        body: "{}",
      });
    };
    const denied = await serveUrl("viewer");
    expect(denied.status).toBe(403);
    const body = JSON.stringify(await denied.json());
    expect(body).toContain("NO_ACCESS");
    expect(body).not.toContain("/__ms/enter/");
    // The same call for the page's owner is answered (nothing is published there: NOT_PUBLISHED).
    const allowed = await serveUrl("editor");
    expect(allowed.status).toBe(200);
  }, 60_000);

  it("a secret in the bundle is refused before upload, with the file, the line and the kind of secret", async () => {
    const page = await context.newPage();
    await as(page, "editor");
    await page.goto(`${acme}/wiki/spaces/ENG/pages/1003?mode=edit`);
    await page.getByTestId("edit-macro").first().click();
    const config = page.frameLocator("[data-testid=modal] iframe");
    // Written here, not kept in the tree: the repository's own secret scan would (rightly) flag it.
    const key = ["AKIA", "Z7Q3VXYW4N5P2RLM"].join("");
    const leaky = join(dataDir, "leaky.html");
    await writeFile(
      leaky,
      `<!doctype html><title>Leaky</title>\n<script>\nconst region = "eu-west-1";\nconst accessKeyId = "${key}";\n</script>\n`,
    );
    await config.getByTestId("file-input").setInputFiles(leaky);
    const finding = config.getByTestId("secret-finding").first();
    await finding.waitFor({ timeout: 30_000 });
    expect(await finding.textContent()).toMatch(/leaky\.html, line \d+: looks like a .*aws/i);
    expect(await config.getByTestId("publish").isDisabled()).toBe(true);
    await page.screenshot({ path: join(OUTPUT, "publisher-secret-light.png"), fullPage: true });
    await page.close();
  }, 120_000);
});
