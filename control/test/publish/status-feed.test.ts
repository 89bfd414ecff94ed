/**
 * The status feed opt-in end to end through the publish pipeline (DESIGN §3: "whether the site may
 * read its tenant's monitor feed" is chosen at publish time): stored per version and shown in the
 * versions listing; anything but true/false refused before a byte is kept; the opt-in key written by
 * the ProvisionVersion Workflow before the version goes live; and the gateway honouring exactly the
 * grant's version — a later version without the opt-in gets a 404, a rollback brings the feed back.
 */

import { feedKey, feedOptInKey, type TenantShortId } from "@mini-sites/core";
import { strToU8, zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorld, type World } from "./harness.ts";

let world: World;
beforeAll(async () => {
  world = await startWorld();
}, 120_000);
afterAll(async () => {
  await world?.dispose();
});

const BUNDLE = zipSync({ "index.html": strToU8("<h1>dashboard</h1>") });

interface Accepted {
  jobId: string;
  version: number;
  siteId: string;
}

async function publish(tenant: TenantShortId, site: string, query: string): Promise<Response> {
  return world.call(tenant, "POST", `/v1/sites/${site}/versions${query}`, {
    body: BUNDLE,
    headers: { "content-type": "application/zip" },
  });
}

async function publishLive(tenant: TenantShortId, site: string, query: string): Promise<Accepted> {
  const response = await publish(tenant, site, query);
  const text = await response.text();
  expect(response.status, text).toBe(202);
  const staged = JSON.parse(text) as Accepted;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const job = (await (await world.call(tenant, "GET", `/v1/jobs/${staged.jobId}`)).json()) as {
      state: string;
    };
    if (job.state === "succeeded") return staged;
    if (job.state === "failed" || Date.now() > deadline) throw new Error(JSON.stringify(job));
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

/** The viewer's path: view URL → enter → cookie → `/__ms/status.json` on the site's origin. */
async function feedAsViewer(tenant: TenantShortId, site: string) {
  const response = await world.call(tenant, "POST", `/v1/sites/${site}/view-url`);
  const { url } = (await response.json()) as { url: string };
  const entered = await world.viaGateway(url);
  expect(entered.status).toBe(303);
  const cookie = (entered.setCookie ?? "").split(";")[0] as string;
  return world.viaGateway(new URL("/__ms/status.json", url).toString(), cookie);
}

async function versionsOf(tenant: TenantShortId, site: string) {
  const response = await world.call(tenant, "GET", `/v1/sites/${site}/versions`);
  return ((await response.json()) as { versions: { number: number; statusFeed: boolean }[] }).versions;
}

describe("publishing with statusFeed", () => {
  it("stores the choice per version, writes the opt-in before the flip, and the gateway honours the grant's version", async () => {
    const tenant = await world.newTenant();
    const monitor = await world.call(tenant, "POST", "/v1/monitors", {
      body: JSON.stringify({ name: "Checkout", url: "https://checkout.example.com/health" }),
      headers: { "content-type": "application/json" },
    });
    expect(monitor.status).toBe(201);

    const v1 = await publishLive(tenant, "new", "?statusFeed=true");
    const site = v1.siteId;
    expect(await world.readSiteFeeds(feedOptInKey(site, 1))).toBe("1");
    const live = await feedAsViewer(tenant, site);
    expect(live.status).toBe(200);
    const feed = JSON.parse(live.body) as { monitors: { name: string }[] };
    expect(feed.monitors.map((m) => m.name)).toEqual(["Checkout"]);
    expect(live.body).not.toContain("checkout.example.com");
    expect(live.body).toBe(await world.readSiteFeeds(feedKey(tenant)));

    // The same bytes without the opt-in are a new version, not the same one again.
    const v2 = await publishLive(tenant, site, "?statusFeed=false");
    expect(v2.version).toBe(2);
    expect(await versionsOf(tenant, site)).toEqual([
      expect.objectContaining({ number: 2, statusFeed: false }),
      expect.objectContaining({ number: 1, statusFeed: true }),
    ]);
    expect(await world.readSiteFeeds(feedOptInKey(site, 2))).toBeNull();
    const refused = await feedAsViewer(tenant, site);
    expect(refused.status).toBe(404);
    expect(refused.body).not.toContain("Checkout");

    // A rollback is to a version, with its choice.
    const rollback = await world.call(tenant, "POST", `/v1/sites/${site}/rollback`, {
      body: JSON.stringify({ version: 1 }),
      headers: { "content-type": "application/json" },
    });
    expect(rollback.status).toBe(200);
    expect((await feedAsViewer(tenant, site)).status).toBe(200);
  });

  it("is off by default", async () => {
    const tenant = await world.newTenant();
    const v1 = await publishLive(tenant, "new", "");
    expect(await versionsOf(tenant, v1.siteId)).toEqual([expect.objectContaining({ statusFeed: false })]);
    expect(await world.readSiteFeeds(feedOptInKey(v1.siteId, 1))).toBeNull();
    expect((await feedAsViewer(tenant, v1.siteId)).status).toBe(404);
  });

  it("takes the choice from a multipart field too", async () => {
    const tenant = await world.newTenant();
    const form = new FormData();
    form.append("statusFeed", "true");
    form.append("index.html", new Blob(["<p>folder</p>"]), "index.html");
    const request = new Request("http://x/", { method: "POST", body: form });
    const response = await world.call(tenant, "POST", "/v1/sites/new/versions", {
      body: new Uint8Array(await request.arrayBuffer()),
      headers: { "content-type": request.headers.get("content-type") as string },
    });
    expect(response.status).toBe(202);
    const { siteId } = (await response.json()) as Accepted;
    const [row] = await world.sql<{ status_feed: number }>(
      "SELECT status_feed FROM versions WHERE site_id = ?",
      siteId,
    );
    expect(row).toEqual({ status_feed: 1 });
  });

  it("refuses anything but true or false with INVALID_REQUEST, keeping nothing", async () => {
    const tenant = await world.newTenant();
    for (const value of ["yes", "1", "TRUE", "on"]) {
      const response = await publish(tenant, "new", `?statusFeed=${value}`);
      const body = (await response.json()) as { error: { code: string } };
      expect([response.status, body.error.code], value).toEqual([400, "INVALID_REQUEST"]);
    }
    const form = new FormData();
    form.append("statusFeed", "yes");
    form.append("index.html", new Blob(["<p>x</p>"]), "index.html");
    const request = new Request("http://x/", { method: "POST", body: form });
    const response = await world.call(tenant, "POST", "/v1/sites/new/versions", {
      body: new Uint8Array(await request.arrayBuffer()),
      headers: { "content-type": request.headers.get("content-type") as string },
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("INVALID_REQUEST");
    expect(await world.sql("SELECT 1 FROM sites WHERE tenant_id = ?", tenant)).toEqual([]);
  });
});
