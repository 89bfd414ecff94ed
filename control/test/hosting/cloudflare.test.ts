import { siteTag, tenantTag, workerNameFor } from "@mini-sites/core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SlidingWindowBudget } from "../../src/hosting/budget.ts";
import type { CloudflareWfPConfig } from "../../src/hosting/cloudflare.ts";
import { MAX_ATTEMPTS } from "../../src/hosting/retry.ts";
import { describeHostingProviderContract } from "./contract.ts";
import { bundleOf, createRequest, fakeTime, newSite, testProvider, unwrap } from "./helpers.ts";
import { startWfpServer, type WfpServer } from "./wfp-server.ts";

const ACCOUNT = "0123456789abcdef0123456789abcdef";
const NAMESPACE = "mini-sites-test";
// Assembled (and plainly fake) so the repository's own secret scan does not flag this test.
const TOKEN = ["cf", "test", "token", "hosting"].join("-");

let server: WfpServer;
beforeAll(async () => {
  server = await startWfpServer({ accountId: ACCOUNT, namespace: NAMESPACE, apiToken: TOKEN, bucketSize: 2 });
});
afterAll(async () => {
  await server.close();
});

function provider(extra: Partial<CloudflareWfPConfig> = {}) {
  return testProvider(
    { apiBaseUrl: server.url, accountId: ACCOUNT, namespace: NAMESPACE, apiToken: TOKEN },
    extra,
  );
}

describeHostingProviderContract(
  "CloudflareWfPProvider against a loopback WfP server",
  () => provider().provider,
);

describe("CloudflareWfPProvider speaks the WfP API as wrangler does", () => {
  beforeEach(() => server.reset());

  it("uploads buckets with the session JWT, parts named by hash in base64 with the served type", async () => {
    const ref = newSite();
    const bundle = await bundleOf({ "index.html": `<b>${ref.site}</b>`, "app.js": `go("${ref.site}")` });
    unwrap(await provider().provider.createWorker(createRequest(ref, 1, bundle)));
    const session = server.recorded.find((r) => r.endpoint === "assets-upload-session");
    expect(session?.authorization).toBe(`Bearer ${TOKEN}`);
    expect(session?.json).toEqual({
      manifest: Object.fromEntries(bundle.files.map((f) => [`/${f.path}`, { hash: f.hash, size: f.size }])),
    });
    const uploads = server.recorded.filter((r) => r.endpoint === "assets-upload");
    expect(uploads.length).toBeGreaterThan(0);
    for (const upload of uploads) {
      expect(upload.url).toMatch(/\/workers\/assets\/upload\?base64=true$/);
      expect(upload.authorization).toMatch(/^Bearer up-/);
      expect(upload.authorization).not.toContain(TOKEN);
    }
    const parts = uploads.flatMap((u) => [...(u.form?.entries() ?? [])]);
    for (const file of bundle.files) {
      const part = parts.find(([hash]) => hash === file.hash)?.[1] as File;
      expect(part.type).toBe(file.contentType);
      expect(Buffer.from(await part.text(), "base64")).toEqual(Buffer.from(await bundle.readFile(file)));
    }
  });

  it("writes an assets-only Worker: metadata with assets.jwt, config, tags, and no main_module or module part", async () => {
    const ref = newSite();
    const bundle = await bundleOf({ "index.html": `m ${ref.site}`, "404.html": `nf ${ref.site}` });
    const request = createRequest(ref, 4, bundle, {
      assets: { notFoundHandling: "404-page", htmlHandling: "none" },
    });
    unwrap(await provider().provider.createWorker(request));
    const put = server.recorded.find((r) => r.endpoint === "script-put");
    expect(put?.method).toBe("PUT");
    expect(put?.url).toContain(`/dispatch/namespaces/${NAMESPACE}/scripts/${workerNameFor(ref.site, 4)}?`);
    expect(put?.authorization).toBe(`Bearer ${TOKEN}`);
    expect([...(put?.form?.keys() ?? [])]).toEqual(["metadata"]);
    const metadata = JSON.parse(put?.form?.get("metadata") as string);
    expect(metadata).toEqual({
      compatibility_date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      assets: {
        jwt: expect.stringMatching(/^done-/),
        config: { not_found_handling: "404-page", html_handling: "none" },
      },
      tags: [tenantTag(ref.tenant), siteTag(ref.site)],
    });
    expect(server.scripts.get(workerNameFor(ref.site, 4))?.tags).toEqual(request.tags);
  });

  it("with nothing new to upload, deploys with the session token and sends no upload", async () => {
    const ref = newSite();
    const bundle = await bundleOf({ "index.html": `again ${ref.site}` });
    unwrap(await provider().provider.createWorker(createRequest(ref, 1, bundle)));
    server.reset();
    const report = unwrap(await provider().provider.createWorker(createRequest(ref, 2, bundle)));
    expect(report).toMatchObject({ uploadedFiles: 0, skippedFiles: 1, requests: 2 });
    expect(server.calls("assets-upload")).toBe(0);
    expect(server.calls("script-put")).toBe(1);
  });

  it("a one-file change re-publish uploads exactly one file (the report and the server agree)", async () => {
    const ref = newSite();
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`assets/chunk-${i}.js`] = `export const n${i} = "${ref.site}";`;
    unwrap(
      await provider().provider.createWorker(
        createRequest(ref, 1, await bundleOf({ ...files, "index.html": "1" })),
      ),
    );
    server.reset();
    const v2 = await bundleOf({ ...files, "index.html": `2 ${ref.site}` });
    const report = unwrap(await provider().provider.createWorker(createRequest(ref, 2, v2)));
    expect(report).toMatchObject({ files: 21, uploadedFiles: 1, skippedFiles: 20, requests: 3 });
    expect(server.stats().assetsUploaded).toBe(1);
    expect(v2.reads).toEqual(["index.html"]);
  });

  it("uploads several buckets at once, never more than three", async () => {
    const slow = await startWfpServer({
      accountId: ACCOUNT,
      namespace: NAMESPACE,
      apiToken: TOKEN,
      bucketSize: 1,
      uploadDelayMs: 40,
    });
    try {
      const ref = newSite();
      const files: Record<string, string> = {};
      for (let i = 0; i < 10; i++) files[`f${i}.txt`] = `${i} ${ref.site}`;
      const { provider: p } = provider({ apiBaseUrl: slow.url });
      const report = unwrap(await p.createWorker(createRequest(ref, 1, await bundleOf(files))));
      expect(report.uploadedFiles).toBe(10);
      expect(slow.stats().maxUploadsInFlight).toBeGreaterThan(1);
      expect(slow.stats().maxUploadsInFlight).toBeLessThanOrEqual(3);
    } finally {
      await slow.close();
    }
  });
});

describe("CloudflareWfPProvider retries boundedly and fails typed", () => {
  beforeEach(() => server.reset());

  it("completes after two 503s on an asset upload, having backed off twice", async () => {
    const ref = newSite();
    const { provider: p, time } = provider();
    server.failNext("assets-upload", 2, 503);
    const report = unwrap(
      await p.createWorker(createRequest(ref, 1, await bundleOf({ "index.html": `r ${ref.site}` }))),
    );
    expect(report.requests).toBe(5);
    expect(time.waits).toHaveLength(2);
    expect(time.waits[1]).toBeGreaterThan(time.waits[0] as number);
    expect(unwrap(await p.exists(workerNameFor(ref.site, 1)))).toBe(true);
  });

  it("gives up with HOSTING_UNAVAILABLE after bounded attempts, and never writes the Worker", async () => {
    const ref = newSite();
    const { provider: p, time } = provider();
    server.failNext("assets-upload", 1_000, 503);
    const result = await p.createWorker(
      createRequest(ref, 1, await bundleOf({ "index.html": `down ${ref.site}` })),
    );
    expect(result.ok ? "ok" : [result.error.code, result.error.retryable, result.error.status]).toEqual([
      "HOSTING_UNAVAILABLE",
      true,
      503,
    ]);
    expect(server.calls("assets-upload")).toBe(MAX_ATTEMPTS);
    expect(server.calls("script-put")).toBe(0);
    expect(time.waits).toHaveLength(MAX_ATTEMPTS - 1);
    expect(time.waits.every((ms) => ms <= 10_000)).toBe(true);
    server.reset();
    expect(unwrap(await p.exists(workerNameFor(ref.site, 1)))).toBe(false);
  });

  it("honours Retry-After: 1 on a 429 by waiting at least a second, then completes", async () => {
    const ref = newSite();
    const { provider: p, time } = provider();
    server.failNext("assets-upload-session", 1, 429, "1");
    unwrap(await p.createWorker(createRequest(ref, 1, await bundleOf({ "index.html": `429 ${ref.site}` }))));
    expect(time.waits).toHaveLength(1);
    expect(time.waits[0]).toBeGreaterThanOrEqual(1_000);
  });

  it("honours Retry-After given as an HTTP date", async () => {
    const ref = newSite();
    const { provider: p, time } = provider();
    server.failNext("script-put", 1, 429, new Date(time.now() + 3_000).toUTCString());
    unwrap(await p.createWorker(createRequest(ref, 1, await bundleOf({ "index.html": `date ${ref.site}` }))));
    expect(time.waits[0]).toBeGreaterThanOrEqual(2_000);
    expect(time.waits[0]).toBeLessThanOrEqual(3_000);
  });

  it("a 429 asking for minutes fails at once, retryable, and pauses every provider sharing the budget", async () => {
    const time = fakeTime();
    const budget = new SlidingWindowBudget({ now: time.now });
    const a = provider({ budget, now: time.now, sleep: time.sleep }).provider;
    const b = provider({ budget, now: time.now, sleep: time.sleep }).provider;
    server.failNext("script-list", 1, 429, "300");
    const listed = await a.listByTag(tenantTag(newSite().tenant));
    expect(listed.ok ? "ok" : [listed.error.code, listed.error.retryable, listed.error.retryAfterMs]).toEqual(
      ["HOSTING_RATE_LIMITED", true, 300_000],
    );
    expect(server.calls("script-list")).toBe(1);
    const other = await b.exists(workerNameFor(newSite().site, 1));
    expect(other.ok ? "ok" : other.error.code).toBe("HOSTING_RATE_LIMITED");
    expect(server.calls("script-get")).toBe(0);
    expect(time.waits).toEqual([]);
  });

  it("refuses a bad token at once with HOSTING_AUTH and never repeats the token", async () => {
    const { provider: p } = provider({ apiToken: "wrong-token-0000000000" });
    const result = await p.listByTag(tenantTag(newSite().tenant));
    expect(result.ok ? "ok" : [result.error.code, result.error.retryable]).toEqual(["HOSTING_AUTH", false]);
    expect(server.calls("script-list")).toBe(1);
    expect(JSON.stringify(result)).not.toContain("wrong-token");
  });

  it("retries network failures, then answers HOSTING_UNAVAILABLE without the token in the message", async () => {
    let calls = 0;
    const { provider: p, time } = provider({
      fetch: async () => {
        calls++;
        throw new TypeError(`fetch failed (Bearer ${TOKEN})`);
      },
    });
    const result = await p.exists(workerNameFor(newSite().site, 1));
    expect(result.ok ? "ok" : result.error.code).toBe("HOSTING_UNAVAILABLE");
    expect(calls).toBe(MAX_ATTEMPTS);
    expect(time.waits).toHaveLength(MAX_ATTEMPTS - 1);
    expect(JSON.stringify(result)).not.toContain(TOKEN);
  });

  it("an answer that is not Cloudflare's envelope is HOSTING_BAD_RESPONSE, not a crash", async () => {
    const { provider: p } = provider({
      fetch: async () => new Response("<html>gateway</html>", { status: 200 }),
    });
    const result = await p.listByTag(tenantTag(newSite().tenant));
    expect(result.ok ? "ok" : result.error.code).toBe("HOSTING_BAD_RESPONSE");
  });

  it("a 400 from Cloudflare is HOSTING_REJECTED with Cloudflare's message, not retried", async () => {
    let calls = 0;
    const { provider: p } = provider({
      fetch: async () => {
        calls++;
        return Response.json(
          {
            success: false,
            errors: [{ code: 10021, message: "tags filter is malformed" }],
            messages: [],
            result: null,
          },
          { status: 400 },
        );
      },
    });
    const result = await p.listByTag(tenantTag(newSite().tenant));
    expect(result.ok ? "ok" : [result.error.code, result.error.message]).toEqual([
      "HOSTING_REJECTED",
      expect.stringContaining("tags filter is malformed [code 10021]"),
    ]);
    expect(calls).toBe(1);
  });
});

describe("CloudflareWfPProvider stays within the account's request budget", () => {
  beforeEach(() => server.reset());

  it("waits for a free slot instead of exceeding the budget", async () => {
    const time = fakeTime();
    const budget = new SlidingWindowBudget({
      limit: 3,
      windowMs: 300_000,
      maxWaitMs: 600_000,
      now: time.now,
    });
    const { provider: p } = provider({ budget, now: time.now, sleep: time.sleep });
    const ref = newSite();
    // session + 1 upload + PUT = 3 requests: the budget is now full.
    unwrap(await p.createWorker(createRequest(ref, 1, await bundleOf({ "index.html": `b ${ref.site}` }))));
    expect(time.waits).toEqual([]);
    time.advance(1_000);
    expect(unwrap(await p.exists(workerNameFor(ref.site, 1)))).toBe(true);
    expect(time.waits).toEqual([299_000]);
  });

  it("fails HOSTING_RATE_LIMITED, sending nothing, when the wait would exceed its bound", async () => {
    const time = fakeTime();
    const budget = new SlidingWindowBudget({ limit: 1, windowMs: 300_000, maxWaitMs: 60_000, now: time.now });
    const { provider: p } = provider({ budget, now: time.now, sleep: time.sleep });
    unwrap(await p.listByTag(tenantTag(newSite().tenant)));
    const second = await p.listByTag(tenantTag(newSite().tenant));
    expect(second.ok ? "ok" : [second.error.code, second.error.retryAfterMs]).toEqual([
      "HOSTING_RATE_LIMITED",
      300_000,
    ]);
    expect(server.calls("script-list")).toBe(1);
  });
});
