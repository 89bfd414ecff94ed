/**
 * The status feed end to end on the whole local stack (DESIGN §3: a mini-site that opted in reads its
 * tenant's monitor feed at `/__ms/status.json` on its own origin): a site published through the
 * control API with `statusFeed=true`, provisioned by the Workflow, entered with a grant minted by the
 * control Worker, reads the dev tenant's demo monitor through the gateway — the control Worker's KV
 * copy, read by the unchanged dispatch Worker. When the demo service stops, the feed says "down"
 * within two monitor intervals. Without the grant there is no feed; the feed never carries a URL.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STATUS_FEED_PATH } from "@mini-sites/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestVia } from "../src/loopback-http.ts";
import { DEMO_MONITOR_NAME, type DevStack, startDevStack } from "../src/stack.ts";

/** The demo monitor's interval (seconds): the deadline for the feed to show a change is two of them. */
const INTERVAL_SECONDS = 60;

let stack: DevStack;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "status-feed-stack-"));
  stack = await startDevStack({ dataDir, port: 0, localConfluence: false, monitorCronMs: 2000 });
}, 240_000);

afterAll(async () => {
  await stack?.close();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${stack.info.controlUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${stack.info.apiToken}`, ...(init.headers as Record<string, string>) },
  });
}

async function publishDashboard(): Promise<string> {
  const staged = await api("/v1/sites/new/versions?statusFeed=true&name=status-board", {
    method: "POST",
    headers: { "content-type": "text/html" },
    body: "<!doctype html><title>Status</title><script>fetch('/__ms/status.json')</script>",
  });
  const text = await staged.text();
  expect(staged.status, text).toBe(202);
  const { jobId, siteId } = JSON.parse(text) as { jobId: string; siteId: string };
  const deadline = Date.now() + 120_000;
  for (;;) {
    const job = (await (await api(`/v1/jobs/${jobId}`)).json()) as { state: string };
    if (job.state === "succeeded") return siteId;
    if (job.state === "failed" || Date.now() > deadline) throw new Error(`publish: ${JSON.stringify(job)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

interface Viewer {
  readonly origin: URL;
  readonly cookie: string;
}

/** What the macro view and the browser do: a view URL from the control Worker, then enter. */
async function enter(site: string): Promise<Viewer> {
  const response = await api(`/v1/sites/${site}/view-url`, { method: "POST" });
  expect(response.status).toBe(200);
  const { url } = (await response.json()) as { url: string };
  const entered = await requestVia(url);
  expect(entered.status).toBe(303);
  const cookie = String(entered.headers["set-cookie"]).split(";")[0] as string;
  return { origin: new URL(url), cookie };
}

async function readFeed(viewer: Viewer | { origin: URL; cookie?: undefined }) {
  return requestVia(new URL(STATUS_FEED_PATH, viewer.origin), {
    headers: {
      "sec-fetch-site": "same-origin",
      "sec-fetch-mode": "cors",
      ...(viewer.cookie === undefined ? {} : { cookie: viewer.cookie }),
    },
  });
}

/** Polls the feed until the demo monitor is in `state`; answers when it was seen. */
async function demoMonitorIs(viewer: Viewer, state: "up" | "down", deadlineMs: number): Promise<number> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const reply = await readFeed(viewer);
    expect(reply.status).toBe(200);
    const feed = JSON.parse(reply.body) as { monitors: { name: string; state: string }[] };
    if (feed.monitors.find((m) => m.name === DEMO_MONITOR_NAME)?.state === state) return Date.now();
    if (Date.now() > deadline) throw new Error(`the feed did not show "${state}" within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

describe("a dashboard reading its tenant's monitor feed", () => {
  it("shows the demo monitor, then 'down' within two intervals of the service stopping", async () => {
    const site = await publishDashboard();
    const viewer = await enter(site);

    const first = await readFeed(viewer);
    expect(first.status).toBe(200);
    expect(first.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(first.headers["cache-control"]).toBe("no-store");
    expect(first.body).toContain(DEMO_MONITOR_NAME);
    expect(first.body).not.toContain(stack.info.demoService.healthUrl);
    expect(first.body).not.toContain("127.0.0.1");
    await demoMonitorIs(viewer, "up", 2 * INTERVAL_SECONDS * 1000);

    const stopped = Date.now();
    await fetch(`${stack.info.demoService.controlUrl}/down`, { method: "POST" });
    try {
      const seen = await demoMonitorIs(viewer, "down", 2 * INTERVAL_SECONDS * 1000);
      expect(seen - stopped).toBeLessThanOrEqual(2 * INTERVAL_SECONDS * 1000);
    } finally {
      await fetch(`${stack.info.demoService.controlUrl}/up`, { method: "POST" });
    }
  }, 400_000);

  it("gives nothing without a grant", async () => {
    const sites = (await (await api("/v1/sites?name=status-board")).json()) as { sites: { id: string }[] };
    const site = sites.sites[0]?.id as string;
    const { origin } = await enter(site);
    const none = await readFeed({ origin });
    expect(none.status).toBe(401);
    expect(none.headers["x-mini-sites-error"]).toBe("GRANT_MISSING");
    expect(none.body).not.toContain(DEMO_MONITOR_NAME);
  });
});
