/**
 * The deployed control Worker end to end, through its REAL entry point (src/index.ts) with REAL
 * credentials: an API token issued in D1, and Forge Invocation Tokens signed by the dev Forge signer
 * and verified against its key set on loopback; Confluence permissions from the dev stand-in. Bundles
 * are provisioned through the Cloudflare API stand-in and served by the real dispatch Worker (harness.ts).
 *
 * It checks the wiring the unit suites cannot: one app in which the publish pipeline, the Macro API
 * and the route policy meet — the site an editor's upload made is the one a token publishes to and
 * the macro shows (no second door), a macro never takes over a site published from the API, and no
 * credential crosses into the wrong API.
 */

import type { TenantShortId } from "@mini-sites/core";
import { strToU8, zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ConfluenceStandIn,
  SAMPLE_ACCOUNT_IDS,
  type SampleUser,
  startConfluenceStandIn,
} from "../../../dev/src/confluence/index.ts";
import {
  createEphemeralFitSigner,
  type FitSigner,
  type ForgeJwksServer,
  signFit,
  startForgeJwksServer,
} from "../../../dev/src/forge/index.ts";
import { createApiToken } from "../../src/auth/api-tokens.ts";
import { D1ApiTokenStore } from "../../src/db/api-tokens.ts";
import { ensureTenant } from "../../src/db/tenants.ts";
import { APP_ID, CLOUD_ID, INSTALLATION_ID } from "../auth/support.ts";
import { startWorld, type World } from "./harness.ts";

const OTHER_CLOUD_ID = "22222222-3333-4444-8555-666666666666";
const OTHER_INSTALLATION_ID = "77777777-8888-4999-8aaa-bbbbbbbbbbbb";
const PAGE = { id: "1001", type: "page" } as const;
const LOCAL_ID = "entry-test-macro";

let world: World;
let signer: FitSigner;
let jwks: ForgeJwksServer;
let confluence: ConfluenceStandIn;
let tenant: TenantShortId;
let apiToken: string;

beforeAll(async () => {
  signer = await createEphemeralFitSigner();
  jwks = await startForgeJwksServer(signer);
  confluence = await startConfluenceStandIn();
  world = await startWorld(
    { FORGE_JWKS_URL: jwks.jwksUrl, ALLOWED_FORGE_APP_IDS: APP_ID },
    { entry: "production" },
  );
  // The installation's tenant, and a token issued in it exactly as the token API would store it.
  tenant = (
    await ensureTenant(world.db, { forgeAppId: APP_ID, cloudId: CLOUD_ID, installationId: INSTALLATION_ID })
  ).id;
  const issued = await createApiToken({
    tenantId: tenant,
    scopes: ["sites:read", "sites:write"],
    label: "ci",
  });
  await new D1ApiTokenStore(world.db).insert(issued.record);
  apiToken = issued.token;
}, 120_000);

afterAll(async () => {
  await world?.dispose();
  await confluence?.close();
  await jwks?.close();
});

const withToken = (headers: Record<string, string> = {}) => ({
  authorization: `Bearer ${apiToken}`,
  ...headers,
});

async function fitHeaders(user: SampleUser, cloud = { cloudId: CLOUD_ID, installationId: INSTALLATION_ID }) {
  const fit = await signFit(signer, {
    appId: APP_ID,
    installationId: cloud.installationId,
    cloudId: cloud.cloudId,
    apiBaseUrl: confluence.url,
    principal: SAMPLE_ACCOUNT_IDS[user],
    context: {
      localId: LOCAL_ID,
      moduleKey: "mini-sites-macro",
      siteUrl: "https://example.atlassian.net",
      content: PAGE,
      space: { key: "ENG" },
      isEditing: false,
    },
  });
  return { authorization: `Bearer ${fit}`, "x-forge-oauth-user": confluence.tokenFor(user) };
}

async function macro(user: SampleUser, method: string, path: string, body?: unknown, cloud?: typeof OTHER) {
  return world.send(method, `/v1/macro${path}`, {
    headers: {
      ...(await fitHeaders(user, cloud)),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}
const OTHER = { cloudId: OTHER_CLOUD_ID, installationId: OTHER_INSTALLATION_ID };

const zipOf = (files: Record<string, string>) =>
  zipSync(Object.fromEntries(Object.entries(files).map(([path, text]) => [path, strToU8(text)])));

async function settle(jobId: string): Promise<{ state: string; error: unknown }> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const job = (await (await world.send("GET", `/v1/jobs/${jobId}`, { headers: withToken() })).json()) as {
      state: string;
      error: unknown;
    };
    if (job.state === "succeeded" || job.state === "failed" || Date.now() > deadline) return job;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

/** A grant URL opened as a browser would: enter (303 + cookie) → `/` through the dispatch Worker. */
async function open(url: string): Promise<string> {
  const entered = await world.viaGateway(url);
  expect(entered.status).toBe(303);
  const cookie = (entered.setCookie ?? "").split(";")[0] as string;
  const page = await world.viaGateway(new URL("/", url).toString(), cookie);
  expect(page.status).toBe(200);
  return page.body;
}

describe("the control Worker's entry point, with real credentials", () => {
  let siteId: string;

  it("publishes an editor's chunked upload on an unbound macro: a site is made and bound, and a viewer sees it", async () => {
    const bundle = zipOf({ "index.html": "<h1>uploaded from the editor</h1>" });
    const ticketResponse = await macro("editor", "POST", "/upload-ticket", { size: bundle.length });
    expect(ticketResponse.status, await ticketResponse.clone().text()).toBe(200);
    const ticket = (await ticketResponse.json()) as {
      uploadPath: string;
      chunks: number;
      siteId: string;
      siteCreated: boolean;
    };
    expect(ticket).toMatchObject({ chunks: 1, siteCreated: true });
    siteId = ticket.siteId;
    const chunk = await world.send("PUT", `${ticket.uploadPath}/chunks/1`, {
      headers: await fitHeaders("editor"),
      body: bundle,
    });
    expect(chunk.status).toBe(200);
    const completed = await world.send("POST", `${ticket.uploadPath}/complete`, {
      headers: await fitHeaders("editor"),
    });
    expect(completed.status, await completed.clone().text()).toBe(202);
    const { jobId, version } = (await completed.json()) as { jobId: string; version: number };
    expect(version).toBe(1);
    // The job is the publish pipeline's own: the token API of the same tenant sees it.
    expect(await settle(jobId)).toMatchObject({ state: "succeeded" });

    const served = (await (await macro("viewer", "POST", "/serve-url")).json()) as {
      state: string;
      siteId: string;
      url: string;
      version: number;
    };
    expect(served).toMatchObject({ state: "PUBLISHED", siteId, version: 1 });
    expect(await open(served.url)).toContain("uploaded from the editor");
  });

  it("publishes a new version of that site with an API token, and the macro then shows it (one pipeline)", async () => {
    const published = await world.send("POST", `/v1/sites/${siteId}/versions`, {
      body: zipOf({ "index.html": "<h1>published with a token</h1>" }),
      headers: withToken({ "content-type": "application/zip" }),
    });
    const text = await published.text();
    expect(published.status, text).toBe(202);
    const staged = JSON.parse(text) as { jobId: string; siteId: string; version: number };
    expect(staged).toMatchObject({ siteId, version: 2 });
    expect(await settle(staged.jobId)).toMatchObject({ state: "succeeded", error: null });

    const served = (await (await macro("viewer", "POST", "/serve-url")).json()) as {
      url: string;
      version: number;
    };
    expect(served.version).toBe(2);
    expect(await open(served.url)).toContain("published with a token");
    const view = await world.send("POST", `/v1/sites/${siteId}/view-url`, { headers: withToken() });
    expect(view.status).toBe(200);
  });

  it("never lets a macro take over a site published from the API: binding it is 404", async () => {
    const published = await world.send("POST", "/v1/sites/new/versions", {
      body: zipOf({ "index.html": "<h1>cli site</h1>" }),
      headers: withToken({ "content-type": "application/zip" }),
    });
    expect(published.status).toBe(202);
    const cli = (await published.json()) as { siteId: string };
    const bound = await macro("editor", "POST", "/bind", { siteId: cli.siteId });
    expect(bound.status).toBe(404);
    // The macro still shows its own site.
    expect(((await (await macro("viewer", "POST", "/serve-url")).json()) as { siteId: string }).siteId).toBe(
      siteId,
    );
  });

  it("answers the same user's FIT from another Confluence site with NOT_PUBLISHED, and 404 for the site", async () => {
    const served = await macro("viewer", "POST", "/serve-url", undefined, OTHER);
    expect(served.status).toBe(200);
    expect(await served.json()).toEqual({ state: "NOT_PUBLISHED" });
    const bound = await macro("editor", "POST", "/bind", { siteId }, OTHER);
    expect(bound.status).toBe(404);
    expect(((await bound.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
  });

  it("refuses an API token on the Macro API with 403, even one valid for the tenant", async () => {
    const refused = await world.send("POST", "/v1/macro/serve-url", { headers: withToken() });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("PRINCIPAL_NOT_ALLOWED");
    // The same token still works where it belongs.
    expect((await world.send("GET", `/v1/sites/${siteId}`, { headers: withToken() })).status).toBe(200);
  });
});
