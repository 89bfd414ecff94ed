/**
 * The whole flow in a real browser (Debian's Chromium through playwright-core): `npm run dev`'s stack
 * with the local Confluence, the app's BUILT Custom UI loaded unchanged with the real @forge/bridge,
 * FITs verified by the control Worker exactly as in production, sites served by the gateway, page and
 * lifecycle events delivered to the control Worker's routes as Forge delivers them.
 *
 * The stack runs with a 20 s grant TTL, so a page left open for a minute has lived through several
 * grants. The tests share one stack and run in order (a later test uses what an earlier one
 * published). Screenshots of the main states, light and dark, go to forge-app/test-output/.
 */

import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { zipSync } from "fflate";
import type { BrowserContext, FrameLocator, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type DevStack, startDevStack } from "../../dev/src/stack.ts";
import { type RunningChromium, startChromium } from "../../dispatch/test/support/chromium.ts";

const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
const OUTPUT = fileURLToPath(new URL("../test-output/", import.meta.url));
const GRANT_TTL_SECONDS = 20;

let dataDir: string;
let stack: DevStack;
let chromium: RunningChromium;
let acme: string;
/** One browser profile per person: the local Confluence keeps who is signed in in a cookie. */
const people = new Map<string, BrowserContext>();

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "mini-sites-forge-flow-"));
  await mkdir(OUTPUT, { recursive: true });
  stack = await startDevStack({ dataDir, port: 0, grantTtlSeconds: GRANT_TTL_SECONDS });
  acme = stack.info.localConfluence?.sites.acme?.url as string;
  chromium = await startChromium(join(dataDir, "chromium"));
  await stack.localConfluence?.settled();
}, 240_000);

// A test that fails leaves its pages open; their live sites would keep renewing grants meanwhile.
afterEach(async () => {
  for (const context of people.values()) for (const page of context.pages()) await page.close();
});

afterAll(async () => {
  await chromium?.close();
  await stack?.close();
  await rm(dataDir, { recursive: true, force: true });
});

// --- The local Confluence ------------------------------------------------------------------------------

/** A new tab in `user`'s own browser profile, signed in to the local Confluence as them. */
async function newPageAs(user: string): Promise<Page> {
  let context = people.get(user);
  const signedIn = context !== undefined;
  if (context === undefined) {
    context = await chromium.browser.newContext();
    people.set(user, context);
  }
  const page = await context.newPage();
  if (!signedIn) {
    await page.goto(`${acme}/wiki/`);
    await page.evaluate(
      (u) => fetch("/__host/session", { method: "POST", body: JSON.stringify({ user: u }) }),
      user,
    );
  }
  return page;
}

const pageUrl = (id: string, edit = false) =>
  `${acme}/wiki/spaces/ENG/pages/${id}${edit ? "?mode=edit" : ""}`;

/** The macro's view: the Custom UI frame on the page (the first macro). */
const macroView = (page: Page): FrameLocator => page.frameLocator("[data-testid=macro] .macro-frame iframe");
/** The live site inside the view: its own origin, in the sandboxed frame. */
const siteIn = (page: Page): FrameLocator => macroView(page).frameLocator("[data-testid=site-frame]");

/** Waits until `read` answers something `done` accepts (frames navigate: a read may fail meanwhile). */
async function until<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let failure: unknown;
  while (Date.now() < deadline) {
    try {
      last = await read();
      if (done(last)) return last;
    } catch (error) {
      failure = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)} ${String(failure ?? "")}`);
}

const textOf = (locator: Locator) => locator.textContent({ timeout: 2_000 });

/** The site in the page's macro has loaded (its script fetched its JSON, or ran inline). */
async function siteLoaded(page: Page): Promise<FrameLocator> {
  const site = siteIn(page);
  await until(
    () => textOf(site.locator("#data")),
    (text) => text !== null && text !== "loading",
    "the site to load",
  );
  return site;
}

/** Reloads the page until its macro view shows `testId` (events reach the app asynchronously). */
async function viewShows(page: Page, testId: string, timeoutMs = 30_000): Promise<Locator> {
  const state = macroView(page).getByTestId(testId);
  await until(
    async () => {
      if (await state.isVisible()) return true;
      await page.waitForTimeout(1_000);
      if (await state.isVisible()) return true;
      await page.reload();
      return false;
    },
    (shown) => shown,
    `the macro to show ${testId}`,
    timeoutMs,
  );
  return state;
}

/** Light and dark screenshots of what the page shows now. */
async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(OUTPUT, `${name}-light.png`), fullPage: true });
  // A DOM click: an open dialog (the publisher) covers the top bar, as it does in Confluence.
  await page.getByTestId("theme-toggle").dispatchEvent("click");
  // The host sends the theme to every themed frame; the frames apply it on their next frame.
  await page.waitForTimeout(700);
  await page.screenshot({ path: join(OUTPUT, `${name}-dark.png`), fullPage: true });
  await page.getByTestId("theme-toggle").dispatchEvent("click");
  await page.waitForTimeout(300);
}

// --- The publisher ---------------------------------------------------------------------------------------

async function openPublisher(page: Page, pageId: string): Promise<FrameLocator> {
  await page.goto(pageUrl(pageId, true));
  await page.getByTestId("edit-macro").first().click();
  const config = page.frameLocator("[data-testid=modal] iframe");
  await config.getByTestId("drop-zone").waitFor({ timeout: 30_000 });
  return config;
}

interface Published {
  readonly version: number;
  readonly siteId: string;
}

/** Checks what `pick` chose, publishes it, waits for "It's live"; returns the live version. */
async function publish(
  config: FrameLocator,
  pick: (config: FrameLocator) => Promise<void>,
  options: { title?: string; sawPublishing?: boolean } = {},
): Promise<Published> {
  if (options.title !== undefined) await config.getByTestId("title-input").fill(options.title);
  await pick(config);
  await config.getByTestId("check-result").waitFor({ timeout: 30_000 });
  await config.getByTestId("publish").click();
  if (options.sawPublishing === true) {
    // The job's steps are shown while the Workflow runs.
    await config.getByTestId("publish-step").waitFor({ timeout: 30_000 });
  }
  const live = config.getByTestId("live");
  await live.waitFor({ timeout: 120_000 });
  const version = Number(/Version (\d+) is live/.exec((await live.textContent()) ?? "")?.[1]);
  const src = (await config.getByTestId("preview-frame").getAttribute("src")) ?? "";
  const siteId = /^http:\/\/s-([a-z0-9]+)\.localhost:/.exec(src)?.[1] ?? "";
  expect(version).toBeGreaterThan(0);
  expect(siteId).not.toBe("");
  return { version, siteId };
}

/** The site id of the live site in the page's macro (from its own origin). */
async function siteIdOn(page: Page): Promise<string> {
  const src = await macroView(page).getByTestId("site-frame").getAttribute("src", { timeout: 30_000 });
  return /^http:\/\/s-([a-z0-9]+)\.localhost:/.exec(src ?? "")?.[1] ?? "";
}

/** A zip of `folder` under one wrapping top-level folder (as "Compress" makes it). */
async function zipOf(folder: string, files: readonly string[], wrapper: string): Promise<string> {
  const entries: Record<string, Uint8Array> = {};
  for (const file of files)
    entries[`${wrapper}/${file}`] = new Uint8Array(await readFile(join(folder, file)));
  const path = join(dataDir, `${wrapper}.zip`);
  await writeFile(path, zipSync(entries));
  return path;
}

const COUNTER_FILES = ["index.html", "app.js", "style.css", "data/items.json"];
const LIVE_LOZENGE = ".ms-lozenge[data-tone=success]";

/** Picks a license on the admin page's "Manage apps" panel; the host page reloads with it. */
async function chooseLicense(admin: Page, license: "none" | "active" | "inactive"): Promise<void> {
  const reloaded = admin.waitForEvent("load");
  await admin.getByTestId("license-switcher").selectOption(license);
  await reloaded;
  expect(await admin.getByTestId("license-switcher").inputValue()).toBe(license);
}

describe("the Mini-Sites macro in the local Confluence", () => {
  let dashboard: Published;

  it("an editor publishes a folder: check, upload, job progress, live; the site works in the page", async () => {
    const page = await newPageAs("editor");
    const config = await openPublisher(page, "1001");
    dashboard = await publish(
      config,
      async (c) => {
        await c.getByTestId("folder-input").setInputFiles(join(FIXTURES, "counter"));
        expect(await c.getByTestId("file-list").textContent()).toContain("data/items.json");
      },
      { title: "Team dashboard app" },
    );
    expect(dashboard.version).toBe(1);
    await shoot(page, "publisher-live");
    await config.getByTestId("save-config").click();
    await page.goto(pageUrl("1001"));
    const site = await siteLoaded(page);
    // A relative fetch of a JSON file works.
    expect(await site.locator("#data").textContent()).toBe("alpha, beta");
    // A click changes state, and localStorage survives a reload.
    await site.locator("#inc").click();
    await site.locator("#inc").click();
    expect(await site.locator("#count").textContent()).toBe("2");
    await page.reload();
    const again = await siteLoaded(page);
    expect(await again.locator("#count").textContent()).toBe("2");
    await shoot(page, "view-live");
    await page.close();
  }, 300_000);

  it("PDF export shows the macro's static card (the app's adfExport function), not an empty frame", async () => {
    const page = await newPageAs("viewer");
    await page.goto(`${acme}/wiki/spaces/ENG/pdfexport/1001`);
    const card = page.locator("[data-testid=export-view] aside[data-adf=panel]");
    expect(await card.locator("strong").textContent()).toBe("Team dashboard app");
    expect(await card.locator("a").getAttribute("href")).toBe(
      `${acme}/wiki/pages/viewpage.action?pageId=1001`,
    );
    expect(await page.locator("iframe").count()).toBe(0);
    await page.close();
  }, 60_000);

  it("an editor publishes a zip (one wrapping folder is unwrapped), with the job's steps shown", async () => {
    const zip = await zipOf(join(FIXTURES, "counter"), COUNTER_FILES, "prototype-v1");
    const page = await newPageAs("editor");
    const config = await openPublisher(page, "1003");
    const published = await publish(config, (c) => c.getByTestId("file-input").setInputFiles(zip), {
      title: "Prototype",
      sawPublishing: true,
    });
    expect(published.siteId).not.toBe(dashboard.siteId);
    await config.getByTestId("save-config").click();
    await page.goto(pageUrl("1003"));
    const site = await siteLoaded(page);
    expect(await site.locator("#data").textContent()).toBe("alpha, beta");
    // Its own origin, so its own storage: nothing of the dashboard's counter.
    expect(await site.locator("#count").textContent()).toBe("0");
    await page.close();
  }, 300_000);

  it("an editor publishes one .html file on a blog post; its inline script runs", async () => {
    const page = await newPageAs("editor");
    const config = await openPublisher(page, "2001");
    await publish(config, (c) =>
      c.getByTestId("file-input").setInputFiles(join(FIXTURES, "single", "release-widget.html")),
    );
    await config.getByTestId("save-config").click();
    await page.goto(pageUrl("2001"));
    const site = await siteLoaded(page);
    expect(await site.locator("#data").textContent()).toBe("inline script ran");
    await site.locator("#ship").click();
    expect(await site.locator("#state").textContent()).toBe("shipped");
    await page.close();
  }, 300_000);

  it("an editor republishes the blog post's widget as a status dashboard with the status feed on; viewers see the demo monitor live", async () => {
    const dashboardHtml = join(dataDir, "status-dashboard.html");
    await writeFile(
      dashboardHtml,
      `<!doctype html><meta charset="utf-8"><title>Status</title><p id="data">loading</p>
<script>
fetch("/__ms/status.json").then((r) => r.ok ? r.json() : Promise.reject(r.status)).then(
  (feed) => { document.getElementById("data").textContent = feed.monitors.map((m) => m.name + ": " + m.state).join(", "); },
  (status) => { document.getElementById("data").textContent = "no feed (" + status + ")"; });
</script>`,
    );
    const page = await newPageAs("editor");
    const config = await openPublisher(page, "2001");
    // The live widget was published without the feed: the box starts unticked.
    expect(await config.getByTestId("status-feed-input").isChecked()).toBe(false);
    await config.getByTestId("status-feed-input").check();
    await publish(config, (c) => c.getByTestId("file-input").setInputFiles(dashboardHtml));
    await config.getByTestId("save-config").click();

    const viewer = await newPageAs("viewer");
    await viewer.goto(pageUrl("2001"));
    const site = await siteLoaded(viewer);
    await until(
      () => textOf(site.locator("#data")),
      (text) => text !== null && /Demo service: (up|down|unknown)/.test(text),
      "the dashboard to show the demo monitor from its status feed",
    );
    // Opening the publisher again shows the live version's choice.
    const again = await openPublisher(page, "2001");
    expect(await again.getByTestId("status-feed-input").isChecked()).toBe(true);
    await viewer.close();
    await page.close();
  }, 300_000);

  it("an editor republishes a changed folder, then rolls back to the first version in one click", async () => {
    const changed = join(dataDir, "counter-v2");
    await cp(join(FIXTURES, "counter"), changed, { recursive: true });
    const html = await readFile(join(changed, "index.html"), "utf8");
    await writeFile(
      join(changed, "index.html"),
      html.replace("Counter demo", "Counter demo, second edition"),
    );
    const page = await newPageAs("editor");
    let config = await openPublisher(page, "1001");
    const second = await publish(config, (c) => c.getByTestId("folder-input").setInputFiles(changed));
    expect(second).toEqual({ version: 2, siteId: dashboard.siteId });
    await config.getByTestId("save-config").click();
    await page.goto(pageUrl("1001"));
    expect(await (await siteLoaded(page)).locator("#title").textContent()).toBe(
      "Counter demo, second edition",
    );

    config = await openPublisher(page, "1001");
    await config.getByTestId("version-2").locator(LIVE_LOZENGE).waitFor({ timeout: 30_000 });
    await config.getByTestId("rollback-1").click();
    await config.getByText("Version 1 is live again.").waitFor({ timeout: 120_000 });
    await config.getByTestId("version-1").locator(LIVE_LOZENGE).waitFor({ timeout: 30_000 });
    await config.getByTestId("save-config").click();
    await page.goto(pageUrl("1001"));
    const site = await siteLoaded(page);
    expect(await site.locator("#title").textContent()).toBe("Counter demo");
    // Same site, same origin: the counter's storage is still there.
    expect(await site.locator("#count").textContent()).toBe("2");
    await page.close();
  }, 400_000);

  it("a viewer sees the site but no publisher and no edit action", async () => {
    const page = await newPageAs("viewer");
    await page.goto(pageUrl("1001"));
    const site = await siteLoaded(page);
    expect(await site.locator("#title").textContent()).toBe("Counter demo");
    expect(await page.getByTestId("edit-page").count()).toBe(0);
    await page.goto(pageUrl("1001", true));
    expect(await page.getByTestId("edit-macro").count()).toBe(0);
    await page.close();
  }, 120_000);

  it("the macro's height follows the site's content", async () => {
    const page = await newPageAs("viewer");
    await page.goto(pageUrl("1001"));
    const site = await siteLoaded(page);
    const frame = macroView(page).getByTestId("site-frame");
    const macro = page.locator("[data-testid=macro] .macro-frame iframe").first();
    const before = await until(
      async () => (await frame.boundingBox())?.height ?? 0,
      (h) => h > 100,
      "the site frame to be sized",
    );
    const macroBefore = (await macro.boundingBox())?.height ?? 0;
    await site.locator("#grow").click();
    // 40 more rows: the gateway's script reports the height, the view sizes the site frame, and
    // Forge's frame script resizes the macro in the page.
    const after = await until(
      async () => (await frame.boundingBox())?.height ?? 0,
      (h) => h > before + 400,
      "the site frame to grow",
    );
    const macroAfter = await until(
      async () => (await macro.boundingBox())?.height ?? 0,
      (h) => h > macroBefore + 400,
      "the macro to grow",
    );
    expect(after).toBeGreaterThan(before + 400);
    expect(macroAfter).toBeGreaterThan(macroBefore + 400);
    await page.close();
  }, 120_000);

  it("external links and target=_blank open through Forge's router (the site's frame may not open windows)", async () => {
    const page = await newPageAs("viewer");
    await page.goto(pageUrl("1001"));
    const site = await siteLoaded(page);
    // The host page records each navigate call of the bridge (the browser's globalThis there).
    const navigations = () =>
      page.evaluate(
        () => (globalThis as { __navigations?: { url: string; type?: string }[] }).__navigations ?? [],
      );
    await site.locator("#ext").click();
    await until(navigations, (list) => list.length >= 1, "the router to be called");
    await site.locator("#ext-blank").click();
    const list = await until(navigations, (l) => l.length >= 2, "the router to be called twice");
    expect(list).toEqual([
      { url: "https://example.com/docs", type: "new-tab" },
      { url: "https://example.org/new", type: "new-tab" },
    ]);
    // The site itself stayed where it was.
    expect(await site.locator("#title").textContent()).toBe("Counter demo");
    await page.close();
  }, 120_000);

  it(`a page left open well past the grant TTL (${GRANT_TTL_SECONDS} s) keeps working without reloading the site`, async () => {
    const page = await newPageAs("viewer");
    await page.goto(pageUrl("1001"));
    const site = await siteLoaded(page);
    const session = await site.locator("#session").textContent();
    // Three grant lifetimes: without renewal the cookie's grant expires and the fetch gets 401.
    await page.waitForTimeout(3 * GRANT_TTL_SECONDS * 1000);
    const renew = await macroView(page).getByTestId("renew-frame").getAttribute("src");
    expect(renew).toMatch(/^http:\/\/s-[a-z0-9]+\.localhost:\d+\/__ms\/renew\//);
    await site.locator("#refresh").click();
    await until(
      () => textOf(site.locator("#fetches")),
      (n) => n === "2",
      "the second fetch",
    );
    expect(await site.locator("#data").textContent()).toBe("alpha, beta");
    expect(await site.locator("#session").textContent()).toBe(session);
    await page.close();
  }, 180_000);

  it("a copied page does not share the source's site: viewers see 'not published on this page yet'; the editor's fork is a new site with the same bytes", async () => {
    const editor = await newPageAs("editor");
    await editor.goto(pageUrl("1001"));
    await editor.getByTestId("copy-page").click();
    await editor.waitForURL(/\/pages\/(?!1001)[0-9]+$/);
    const copyId = /\/pages\/([0-9]+)$/.exec(editor.url())?.[1] as string;

    const viewer = await newPageAs("viewer");
    await viewer.goto(pageUrl(copyId));
    await viewShows(viewer, "state-copied");
    expect(await macroView(viewer).getByTestId("site-frame").count()).toBe(0);
    await shoot(viewer, "view-copied");

    const config = await openPublisher(editor, copyId);
    await config.getByTestId("fork-original").click();
    const live = config.getByTestId("live");
    await live.waitFor({ timeout: 120_000 });
    await config.getByTestId("save-config").click();

    await viewer.goto(pageUrl(copyId));
    const site = await siteLoaded(viewer);
    expect(await site.locator("#title").textContent()).toBe("Counter demo");
    expect(await site.locator("#data").textContent()).toBe("alpha, beta");
    const forkId = await siteIdOn(viewer);
    expect(forkId).not.toBe(dashboard.siteId);
    // A site of its own: its own origin, so its own storage (the editor's counter on the source is 2).
    await editor.goto(pageUrl(copyId));
    expect(await (await siteLoaded(editor)).locator("#count").textContent()).toBe("0");
    // And the source page still shows its own site.
    await viewer.goto(pageUrl("1001"));
    await siteLoaded(viewer);
    expect(await siteIdOn(viewer)).toBe(dashboard.siteId);
    await viewer.close();
    await editor.close();
  }, 300_000);

  it("the admin page lists the sites; disabling one makes its viewers see 'disabled'; usage and allow-lists work", async () => {
    const admin = await newPageAs("admin");
    await admin.goto(`${acme}/wiki/admin/mini-sites`);
    const panel = admin.frameLocator("main.admin iframe");
    const row = panel.getByTestId(`site-${dashboard.siteId}`);
    await row.waitFor({ timeout: 30_000 });
    expect(await row.textContent()).toContain("Team dashboard app");
    for (const section of ["sites", "allow-lists", "accepted-findings", "usage", "tokens", "audit"])
      expect(await panel.getByTestId(`section-${section}-error`).count(), section).toBe(0);
    // Usage counts the three published sites and the fork.
    expect(await panel.getByTestId("section-usage").textContent()).toMatch(/Sites4 of \d+/);

    // An allow-list entry the control Worker refuses is named; a valid list is saved and kept.
    await panel.getByTestId("cdn-allow-list").fill("https://cdn.example.com\nhttp://insecure.example.com");
    await panel.getByTestId("save-allow-lists").click();
    await panel.getByTestId("allow-list-problems").waitFor();
    expect(await panel.getByTestId("allow-list-problems").textContent()).toContain(
      'CDN allow-list, "http://insecure.example.com": must be https://',
    );
    await panel.getByTestId("cdn-allow-list").fill("https://cdn.example.com\nhttps://*.fonts.example.net");
    await panel.getByTestId("connect-allow-list").fill("https://api.example.com");
    await panel.getByTestId("save-allow-lists").click();
    await panel
      .getByText("Saved. Every site of this Confluence site gets these lists within two minutes.")
      .waitFor();

    await row.getByTestId("toggle-site").click();
    await until(
      () => textOf(row.getByTestId("site-state")),
      (s) => s === "disabled",
      "the site to be disabled",
    );
    await admin.reload();
    await admin.frameLocator("main.admin iframe").getByTestId(`site-${dashboard.siteId}`).waitFor();
    expect(await admin.frameLocator("main.admin iframe").getByTestId("cdn-allow-list").inputValue()).toBe(
      "https://cdn.example.com\nhttps://*.fonts.example.net",
    );
    // Every section has loaded (the audit log, verified, is the slowest) before the picture.
    await admin.frameLocator("main.admin iframe").getByTestId("audit-verification").waitFor();
    await shoot(admin, "admin");

    const viewer = await newPageAs("viewer");
    await viewer.goto(pageUrl("1001"));
    await viewShows(viewer, "state-disabled");
    await shoot(viewer, "view-disabled");

    const again = admin.frameLocator("main.admin iframe").getByTestId(`site-${dashboard.siteId}`);
    await again.getByTestId("toggle-site").click();
    await until(
      () => textOf(again.getByTestId("site-state")),
      (s) => s === "enabled",
      "the site to be enabled",
    );
    await viewer.reload();
    await siteLoaded(viewer);
    await viewer.close();
    await admin.close();
  }, 240_000);

  it("the admin page manages monitors: the demo monitor is listed, an SSRF target is refused with the reason, one is added with its method, statuses and timeout, and removed", async () => {
    const admin = await newPageAs("admin");
    await admin.goto(`${acme}/wiki/admin/mini-sites`);
    const panel = admin.frameLocator("main.admin iframe").getByTestId("section-monitors");
    await panel.getByText("Demo service").waitFor({ timeout: 30_000 });
    await panel.getByTestId("monitor-name").fill("Metadata");
    await panel.getByTestId("monitor-url").fill("https://169.254.169.254/latest/meta-data/");
    await panel.getByTestId("add-monitor").click();
    await panel.getByTestId("monitors-notice").waitFor();
    expect(await panel.getByTestId("monitors-notice").textContent()).toContain("cloud metadata endpoint");
    await panel.getByTestId("monitor-name").fill("Public API");
    await panel.getByTestId("monitor-url").fill("https://api.example.com/health");
    await panel.getByTestId("monitor-method").selectOption("HEAD");
    await panel.getByTestId("monitor-timeout").fill("5");
    // Not a status: the form will not send it.
    await panel.getByTestId("monitor-expected").fill("2xx");
    expect(await panel.getByTestId("add-monitor").isDisabled()).toBe(true);
    await panel.getByTestId("monitor-expected").fill("204");
    await panel.getByTestId("add-monitor").click();
    const added = panel.getByTestId("monitor").filter({ hasText: "Public API" });
    await added.waitFor();
    expect(await added.getByTestId("monitor-state").textContent()).toBe("unknown");
    expect(await added.textContent()).toContain("HEAD https://api.example.com/health · up on 204 within 5 s");
    await added.getByTestId("remove-monitor").click();
    await added.waitFor({ state: "detached" });
    await admin.close();
  });

  it("the Service status macro shows a viewer the tenant's monitors with state, latency, uptime and a chart, without their URLs", async () => {
    const viewer = await newPageAs("viewer");
    await viewer.goto(pageUrl("1005"));
    const board = macroView(viewer);
    const demo = board.getByTestId("status-monitor").filter({ hasText: "Demo service" });
    await demo.waitFor({ timeout: 60_000 });
    // The demo service is up, and the first check ran at start (the dev stack's cron runs every 5 s).
    await until(
      () => textOf(demo.getByTestId("status-state")),
      (state) => state === "up",
      "the demo monitor to be up",
    );
    expect(await demo.getByTestId("status-chart").count()).toBe(1);
    expect(await board.locator("body").textContent()).not.toContain("/health");
    await shoot(viewer, "status-macro");
    await viewer.close();
  }, 90_000);

  it("a trashed page's macro says so (the control Worker refuses grants), and the site comes back on restore", async () => {
    const editor = await newPageAs("editor");
    await editor.goto(pageUrl("1003"));
    await siteLoaded(editor);
    await editor.getByTestId("trash-page").click();
    await editor.getByTestId("trashed-banner").waitFor();
    await viewShows(editor, "state-trashed");
    const delivered = stack.localConfluence?.deliveries.filter(
      (d) => d.eventType === "avi:confluence:trashed:page",
    );
    expect(delivered?.map((d) => [d.target, d.status, d.answer])).toEqual([
      ["POST /v1/lifecycle/page-events", 200, { state: "trashed" }],
    ]);
    await shoot(editor, "view-trashed");

    await editor.getByTestId("restore-page").click();
    await editor.getByTestId("trash-page").waitFor();
    await viewShows(editor, "state-live");
    await siteLoaded(editor);
    await editor.close();
  }, 180_000);

  it("a lapsed Marketplace license shows a clear notice instead of the site, and nothing is lost", async () => {
    const admin = await newPageAs("admin");
    await admin.goto(`${acme}/wiki/admin/mini-sites`);
    await chooseLicense(admin, "inactive");

    const viewer = await newPageAs("viewer");
    await viewer.goto(pageUrl("1001"));
    await viewShows(viewer, "state-license");
    await shoot(viewer, "view-license");

    await chooseLicense(admin, "active");
    await viewer.reload();
    await siteLoaded(viewer);
    await chooseLicense(admin, "none");
    await viewer.close();
    await admin.close();
  }, 180_000);

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

  it("a secret in the bundle is refused before upload, with the file, the line and the kind of secret; an admin can accept that exact file", async () => {
    const page = await newPageAs("editor");
    await page.goto(pageUrl("3001", true));
    await page.getByTestId("edit-macro").first().click();
    const config = page.frameLocator("[data-testid=modal] iframe");
    // Written here, not kept in the tree: the repository's own secret scan would (rightly) flag it.
    // An access key id with its secret key next to it, as keys get pasted.
    const id = ["AKIA", "Z7Q3VXYW4N5P2RLM"].join("");
    const secret = ["wJalrXUtnF", "EMI7K9MDEN", "Gbx2Rfi8CY", "q4Lp0ZtUvW"].join("");
    const leaky = join(dataDir, "leaky.html");
    await writeFile(
      leaky,
      `<!doctype html><title>Leaky</title>\n<script>\nconst region = "eu-west-1";\nconst accessKeyId = "${id}";\nconst secretAccessKey = "${secret}";\n</script>\n`,
    );
    await config.getByTestId("file-input").setInputFiles(leaky);
    const finding = config.getByTestId("secret-finding").first();
    await finding.waitFor({ timeout: 30_000 });
    expect(await finding.textContent()).toMatch(/^leaky\.html, line 5: AWS secret access key \(wJal…/);
    expect(await finding.textContent()).not.toContain(secret);
    // The key id alone signs nothing (a `warn` finding): shown apart, not among what refuses.
    expect(await config.getByTestId("secret-finding").count()).toBe(1);
    expect(await config.getByTestId("secret-warning").first().textContent()).toMatch(
      /^leaky\.html, line 4: AWS access key id\b/,
    );
    expect(await config.getByTestId("publish").isDisabled()).toBe(true);
    await shoot(page, "publisher-secret");

    // Not a secret after all (say, a documented example): an administrator accepts exactly that
    // finding — the rule and the file's SHA-256 the refusal shows — on the admin page.
    const fileHash = (await config.getByTestId("finding-file-hash").first().textContent()) ?? "";
    expect(fileHash).toMatch(/^[0-9a-f]{64}$/);
    const admin = await newPageAs("admin");
    await admin.goto(`${acme}/wiki/admin/mini-sites`);
    const panel = admin.frameLocator("main.admin iframe");
    await panel.getByTestId("no-accepted-findings").waitFor({ timeout: 30_000 });
    await panel.getByTestId("finding-rule").fill("aws-secret-access-key");
    await panel.getByTestId("finding-hash").fill(fileHash);
    await panel.getByTestId("finding-note").fill("Example keys from the AWS documentation");
    await panel.getByTestId("accept-finding").click();
    await panel.getByTestId("accepted-finding").waitFor({ timeout: 30_000 });
    expect(await panel.getByTestId("accepted-finding").textContent()).toContain(
      "Example keys from the AWS documentation",
    );

    // The same file now passes the editor's check and the server's, shown as accepted.
    await config.getByTestId("file-input").setInputFiles(leaky);
    await config.getByTestId("accepted-findings").waitFor({ timeout: 30_000 });
    expect(await config.getByTestId("secret-finding").count()).toBe(0);
    await config.getByTestId("publish").click();
    await config.getByTestId("live").waitFor({ timeout: 120_000 });

    // Withdrawn, the same bytes are refused again.
    await panel.getByTestId("withdraw-finding").click();
    await panel.getByTestId("no-accepted-findings").waitFor({ timeout: 30_000 });
    await config.getByTestId("file-input").setInputFiles(leaky);
    await config.getByTestId("secret-finding").first().waitFor({ timeout: 30_000 });
    await admin.close();
    await page.close();
  }, 240_000);

  it("uninstalling the app stops every site at once (preUninstall), and reinstalling within the grace period brings them back", async () => {
    const admin = await newPageAs("admin");
    await admin.goto(`${acme}/wiki/admin/mini-sites`);
    await admin.getByTestId("uninstall-app").click();
    await admin.getByTestId("install-app").waitFor();
    const uninstall = stack.localConfluence?.deliveries.find((d) => d.eventType === "preUninstall");
    expect([uninstall?.target, uninstall?.answer]).toEqual([
      "POST /v1/lifecycle/uninstalling",
      { state: "purging" },
    ]);

    const viewer = await newPageAs("viewer");
    await viewer.goto(pageUrl("1001"));
    const refused = await viewShows(viewer, "state-no-access");
    expect(await refused.textContent()).toContain("Mini-Sites is being removed from this Confluence site.");

    await admin.getByTestId("install-app").click();
    await admin.getByTestId("uninstall-app").waitFor();
    const installs = stack.localConfluence?.deliveries.filter(
      (d) =>
        d.eventType === "avi:forge:installed:app" &&
        d.target === "POST /v1/lifecycle/installed" &&
        d.installationId === stack.info.forgeInstallation.installationId,
    );
    expect(installs?.at(-1)?.answer).toEqual({ state: "restored" });
    await viewer.reload();
    expect(await (await siteLoaded(viewer)).locator("#title").textContent()).toBe("Counter demo");
    await viewer.close();
    await admin.close();
  }, 180_000);
});
