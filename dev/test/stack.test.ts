/**
 * The local stack end to end: two sites provisioned through CloudflareWfPProvider (the control
 * Worker's production code) against the Cloudflare API stand-in, served by the unchanged dispatch
 * Worker behind grants, still served after a restart, and started on demand when stopped; a tenant
 * admin's allow-lists, saved through the control API, appear in the CSP of that tenant's site only.
 */

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  bytesSource,
  FORGE_MODULE_KEYS,
  newSiteId,
  newTenantShortId,
  readBundle,
  type SiteId,
  siteTag,
  type TenantShortId,
  tenantTag,
  workerNameFor,
} from "@mini-sites/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloudflareWfPProvider } from "../../control/src/hosting/index.ts";
import { loadOrCreateFitSigner, signFit } from "../src/forge/index.ts";
import { type LoopbackReply, requestVia } from "../src/loopback-http.ts";
import { type DevStack, startDevStack } from "../src/stack.ts";

async function viewUrl(stack: DevStack, worker: string): Promise<{ url: string; grant: string }> {
  const response = await fetch(`${stack.info.consoleUrl}/view-url`, {
    method: "POST",
    body: JSON.stringify({ worker }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { url: string; grant: string };
}

/** What a browser does: enter with the grant, then ask for a path with the cookie it was given. */
async function open(stack: DevStack, worker: string, path: string): Promise<LoopbackReply> {
  const { url, grant } = await viewUrl(stack, worker);
  const site = new URL(url);
  const host = site.host;
  const enter = await requestVia(url, { host });
  expect(enter.status).toBe(303);
  expect(String(enter.headers["set-cookie"])).toContain(`__Host-ms=${grant}`);
  return requestVia(`http://127.0.0.1:${site.port}${path}`, {
    host,
    headers: { cookie: `__Host-ms=${grant}` },
  });
}

async function provision(
  stack: DevStack,
  siteId: SiteId,
  files: Record<string, string>,
  tenant: TenantShortId = newTenantShortId(),
) {
  const encoder = new TextEncoder();
  const bytes = new Map(Object.entries(files).map(([path, text]) => [path, encoder.encode(text)]));
  const report = await readBundle({
    kind: "files",
    files: [...bytes].map(([path, content]) => ({ path, size: content.length, read: async () => content })),
  });
  expect(report.errors).toEqual([]);
  const provider = new CloudflareWfPProvider({
    apiBaseUrl: stack.info.cloudflareApiUrl,
    accountId: stack.info.accountId,
    namespace: stack.info.namespace,
    apiToken: stack.info.cloudflareApiToken,
  });
  const name = workerNameFor(siteId, 1);
  const result = await provider.createWorker({
    name,
    files: report.files,
    readFile: async (entry) => await bytesSource(bytes.get(entry.path) as Uint8Array).read(0, entry.size),
    tags: [tenantTag(tenant), siteTag(siteId)],
    assets: { notFoundHandling: "404-page" },
  });
  expect(result.ok).toBe(true);
  return name;
}

let dataDir: string;
let stack: DevStack;
const siteA = newSiteId();
const siteB = newSiteId();
let workerA: string;
let workerB: string;
const siteC = newSiteId();
let workerC: string | undefined;
/** What the dev tenant's admin saves in the allow-lists test. */
const ALLOW_LISTS = {
  cdnAllowList: ["https://cdn.e2e.example"],
  connectAllowList: ["https://api.e2e.example"],
};

/** The stack as these tests run it: the gateway reads allow-lists on every request (no cache TTL to wait out). */
const startStack = () => startDevStack({ dataDir, port: 0, maxRunning: 1, tenantCspCacheSeconds: 0 });

/** The CSP's sources for one directive. */
function directive(reply: LoopbackReply, name: string): string[] {
  const csp = String(reply.headers["content-security-policy"] ?? "");
  return (
    csp
      .split("; ")
      .find((part) => part.startsWith(`${name} `))
      ?.split(" ")
      .slice(1) ?? []
  );
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "mini-sites-stack-"));
  stack = await startStack();
  workerA = await provision(stack, siteA, {
    "index.html": '<!doctype html><script type="module" src="/assets/app.js"></script><h1>Site A</h1>',
    "assets/app.js": "export const site = 'A';",
  });
  workerB = await provision(stack, siteB, {
    "index.html": '<!doctype html><script type="module" src="/assets/app.js"></script><h1>Site B</h1>',
    "assets/app.js": "export const site = 'B';",
  });
}, 120_000);

afterAll(async () => {
  await stack?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe("the local stack", () => {
  it("writes dev.json with the documented keys", async () => {
    const written = JSON.parse(await readFile(join(dataDir, "dev.json"), "utf8"));
    for (const key of [
      "dispatchUrl",
      "sitesDomain",
      "cloudflareApiUrl",
      "accountId",
      "namespace",
      "cloudflareApiToken",
    ]) {
      expect(written[key], key).toBeTruthy();
    }
    expect(written).toEqual(stack.info);
  });

  it("names the dev installation and sample users, so a FIT for any of them acts on the local control Worker", async () => {
    const info = stack.info;
    expect(Object.keys(info.users).sort()).toEqual(["admin", "editor", "outsider", "viewer"]);
    const signer = await loadOrCreateFitSigner(dataDir);
    const asUser = async (user: string) => {
      const fit = await signFit(signer, {
        ...info.forgeInstallation,
        apiBaseUrl: info.confluenceUrl,
        principal: info.users[user]?.accountId as string,
        context: {
          moduleKey: FORGE_MODULE_KEYS.admin,
          localId: "admin-page",
          extensionType: "confluence:globalSettings",
        },
      });
      return fetch(`${info.controlUrl}/v1/whoami`, {
        headers: {
          authorization: `Bearer ${fit}`,
          "x-forge-oauth-user": info.users[user]?.confluenceToken as string,
        },
      });
    };
    const admin = await asUser("admin");
    expect(admin.status).toBe(200);
    expect(await admin.json()).toMatchObject({
      kind: "forgeAdmin",
      actor: `forge:${info.users.admin?.accountId}`,
    });
    // The same admin page, opened by someone Confluence does not call an administrator: refused.
    const viewer = await asUser("viewer");
    expect(viewer.status).toBe(403);
    expect(await viewer.json()).toMatchObject({ error: { code: "NO_ACCESS" } });
  });

  it("answers the gateway's identity at dispatchUrl, reachable from Node as written in dev.json", async () => {
    const response = await fetch(`${stack.info.dispatchUrl}/.well-known/mini-sites`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { identity: unknown };
    expect(body.identity).toMatchObject({ status: "ready", mode: "shared" });
    expect(JSON.stringify(body)).not.toContain(
      JSON.parse(await readFile(join(dataDir, "dev-secrets.json"), "utf8")).appPsk,
    );
  });

  it("runs the control Worker with its migrations applied and a working dev API token", async () => {
    const health = await fetch(`${stack.info.controlUrl}/healthz`);
    expect(health.status).toBe(200);
    const sites = await fetch(`${stack.info.controlUrl}/v1/sites`, {
      headers: { authorization: `Bearer ${stack.info.apiToken}` },
    });
    expect(sites.status).toBe(200);
    const refused = await fetch(`${stack.info.controlUrl}/v1/sites`, {
      headers: { authorization: `Bearer ms_${"a".repeat(52)}` },
    });
    expect(refused.status).toBe(401);
  });

  it("serves two provisioned sites their own bytes through the dispatch Worker, with a grant only", async () => {
    const a = await open(stack, workerA, "/assets/app.js");
    const b = await open(stack, workerB, "/assets/app.js");
    expect(a.status).toBe(200);
    expect(a.body).toBe("export const site = 'A';");
    expect(b.body).toBe("export const site = 'B';");
    expect(a.headers["content-security-policy"]).toContain("frame-ancestors");
    const page = await open(stack, workerA, "/");
    expect(page.body).toContain("<h1>Site A</h1>");
    expect(page.body).toContain("data-mini-sites-bootstrap");
  });

  it("refuses a site's bytes without a grant, and with another site's grant", async () => {
    const host = `s-${siteA}.${stack.info.sitesDomain}`;
    const front = new URL(stack.info.dispatchUrl);
    const none = await requestVia(`http://127.0.0.1:${front.port}/assets/app.js`, { host });
    expect(none.status).toBe(401);
    expect(none.body).not.toContain("site = ");
    const { grant } = await viewUrl(stack, workerB);
    const swapped = await requestVia(`http://127.0.0.1:${front.port}/assets/app.js`, {
      host,
      headers: { cookie: `__Host-ms=${grant}` },
    });
    expect(swapped.status).toBe(401);
    expect(swapped.headers["x-mini-sites-error"]).toBe("GRANT_WRONG_SITE");
  });

  it("keeps at most maxRunning user Workers and starts a stopped one on demand", async () => {
    await open(stack, workerA, "/");
    expect(stack.edge.running()).toEqual([workerA]);
    const b = await open(stack, workerB, "/");
    expect(b.body).toContain("<h1>Site B</h1>");
    expect(stack.edge.running()).toEqual([workerB]);
  });

  it("shows the allow-lists a tenant admin saves through the control API in that tenant's site's CSP, and only there", async () => {
    workerC = await provision(
      stack,
      siteC,
      { "index.html": "<h1>Site C</h1>", "assets/app.js": "export const site = 'C';" },
      stack.control.devTenant,
    );
    const before = await open(stack, workerC, "/assets/app.js");
    expect(before.status).toBe(200);
    expect(directive(before, "connect-src")).toEqual(["'self'"]);

    const saved = await fetch(`${stack.info.controlUrl}/v1/tenant/settings`, {
      method: "PUT",
      headers: { authorization: `Bearer ${stack.info.apiToken}`, "content-type": "application/json" },
      body: JSON.stringify(ALLOW_LISTS),
    });
    expect(saved.status).toBe(200);

    const after = await open(stack, workerC, "/assets/app.js");
    expect(after.body).toBe("export const site = 'C';");
    expect(directive(after, "script-src")).toContain("https://cdn.e2e.example");
    expect(directive(after, "connect-src")).toEqual(["'self'", "https://api.e2e.example"]);
    // Site A belongs to another tenant: none of it.
    const other = await open(stack, workerA, "/assets/app.js");
    expect(String(other.headers["content-security-policy"])).not.toContain("e2e.example");
  });

  it("serves sites published before a restart after it", async () => {
    const token = stack.info.apiToken;
    await stack.close();
    stack = await startStack();
    expect(stack.info.apiToken).toBe(token);
    const sites = await fetch(`${stack.info.controlUrl}/v1/sites`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(sites.status).toBe(200);
    const a = await open(stack, workerA, "/assets/app.js");
    expect(a.body).toBe("export const site = 'A';");
    const b = await open(stack, workerB, "/assets/app.js");
    expect(b.body).toBe("export const site = 'B';");
    // The allow-lists are kept with the control Worker's data, and the gateway still reads them.
    if (workerC !== undefined)
      expect(directive(await open(stack, workerC, "/"), "connect-src")).toContain("https://api.e2e.example");
  }, 60_000);
});
