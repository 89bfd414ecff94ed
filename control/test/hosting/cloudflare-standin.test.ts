/**
 * CloudflareWfPProvider against the dev stack's Cloudflare API stand-in (dev/src/cloudflare-api): the
 * contract, the retry and no-half-state paths through its fault switch, and "one file changed ⇒ one
 * file uploaded" read from its own stats. Loopback only; a temporary data folder per run.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { workerNameFor } from "@mini-sites/core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type CloudflareApi, startCloudflareApi } from "../../../dev/src/cloudflare-api/index.ts";
import type { CloudflareWfPConfig } from "../../src/hosting/cloudflare.ts";
import { MAX_ATTEMPTS } from "../../src/hosting/retry.ts";
import { describeHostingProviderContract } from "./contract.ts";
import { bundleOf, createRequest, newSite, testProvider, unwrap } from "./helpers.ts";

const ACCOUNT = "fedcba9876543210fedcba9876543210";
const NAMESPACE = "mini-sites-dev";
// Assembled (and plainly fake) so the repository's own secret scan does not flag this test.
const TOKEN = ["standin", "test", "token", "hosting"].join("-");

let api: CloudflareApi;
let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "mini-sites-hosting-"));
  api = await startCloudflareApi({
    dataDir,
    accountId: ACCOUNT,
    namespace: NAMESPACE,
    apiToken: TOKEN,
    log: () => {},
  });
});
afterAll(async () => {
  await api?.close();
  await rm(dataDir, { recursive: true, force: true });
});

function provider(extra: Partial<CloudflareWfPConfig> = {}) {
  return testProvider(
    { apiBaseUrl: api.url, accountId: ACCOUNT, namespace: NAMESPACE, apiToken: TOKEN },
    extra,
  );
}

describeHostingProviderContract(
  "CloudflareWfPProvider against the Cloudflare API stand-in",
  () => provider().provider,
);

describe("CloudflareWfPProvider against the Cloudflare API stand-in", () => {
  beforeEach(() => {
    api.faults.clear();
    api.resetStats();
  });

  it("materializes the Worker with its tags and static-assets config", async () => {
    const ref = newSite();
    const bundle = await bundleOf({ "index.html": `<h1>${ref.site}</h1>`, "404.html": "gone" });
    const request = createRequest(ref, 1, bundle, { assets: { notFoundHandling: "404-page" } });
    unwrap(await provider().provider.createWorker(request));
    const script = api.scripts().find((s) => s.name === workerNameFor(ref.site, 1));
    expect(script?.tags).toEqual(request.tags);
    expect(script?.assets.config.not_found_handling).toBe("404-page");
    expect(script?.mainModule).toBeUndefined();
    expect(Object.keys(script?.assets.manifest ?? {}).sort()).toEqual(["/404.html", "/index.html"]);
  });

  it("a one-file change re-publish uploads exactly one file, by the report and by the stand-in's count", async () => {
    const ref = newSite();
    const files: Record<string, string> = {};
    for (let i = 0; i < 30; i++) files[`assets/c${i}.js`] = `export default "${ref.site}-${i}";`;
    unwrap(
      await provider().provider.createWorker(
        createRequest(ref, 1, await bundleOf({ ...files, "index.html": "a" })),
      ),
    );
    api.resetStats();
    const v2 = await bundleOf({ ...files, "index.html": `b ${ref.site}` });
    const report = unwrap(await provider().provider.createWorker(createRequest(ref, 2, v2)));
    expect(report).toMatchObject({ files: 31, uploadedFiles: 1, skippedFiles: 30 });
    const stats = api.stats();
    expect(stats.assetsUploaded).toBe(1);
    expect(stats.requests["assets-upload"]).toBe(1);
    expect(stats.totalRequests).toBe(report.requests);
  });

  it("completes after two 503s on the asset upload", async () => {
    const ref = newSite();
    const { provider: p, time } = provider();
    api.faults.failNext({ endpoint: "assets-upload", count: 2, status: 503 });
    unwrap(await p.createWorker(createRequest(ref, 1, await bundleOf({ "index.html": `503 ${ref.site}` }))));
    expect(api.stats().requests["assets-upload"]).toBe(3);
    expect(time.waits).toHaveLength(2);
    expect(unwrap(await p.exists(workerNameFor(ref.site, 1)))).toBe(true);
  });

  it("503 forever: HOSTING_UNAVAILABLE after bounded attempts, no script PUT, nothing servable", async () => {
    const ref = newSite();
    const { provider: p } = provider();
    api.faults.failNext({ endpoint: "assets-upload", count: 100, status: 503 });
    const result = await p.createWorker(
      createRequest(ref, 1, await bundleOf({ "index.html": `down ${ref.site}` })),
    );
    expect(result.ok ? "ok" : [result.error.code, result.error.retryable]).toEqual([
      "HOSTING_UNAVAILABLE",
      true,
    ]);
    expect(api.stats().requests["assets-upload"]).toBe(MAX_ATTEMPTS);
    expect(api.stats().requests["script-put"]).toBe(0);
    expect(api.scripts().some((s) => s.name === workerNameFor(ref.site, 1))).toBe(false);
    api.faults.clear();
    expect(unwrap(await p.exists(workerNameFor(ref.site, 1)))).toBe(false);
  });

  it("429 with Retry-After: 1 waits at least a second (on the injected clock) and completes", async () => {
    const ref = newSite();
    const { provider: p, time } = provider();
    api.faults.failNext({ endpoint: "script-put", count: 1, status: 429, retryAfter: 1 });
    unwrap(await p.createWorker(createRequest(ref, 1, await bundleOf({ "index.html": `429 ${ref.site}` }))));
    expect(time.waits).toEqual([1_000]);
    expect(api.stats().requests["script-put"]).toBe(2);
  });
});
