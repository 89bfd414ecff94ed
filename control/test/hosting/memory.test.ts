import { tenantTag, workerNameFor } from "@mini-sites/core";
import { describe, expect, it } from "vitest";
import { InMemoryHostingProvider } from "../../src/hosting/memory.ts";
import { hostingError } from "../../src/hosting/provider.ts";
import { describeHostingProviderContract } from "./contract.ts";
import { bundleOf, createRequest, newSite, unwrap } from "./helpers.ts";

describeHostingProviderContract("InMemoryHostingProvider", () => new InMemoryHostingProvider());

describe("InMemoryHostingProvider as a test double", () => {
  it("serves the bytes a version was created with", async () => {
    const provider = new InMemoryHostingProvider();
    const ref = newSite();
    const bundle = await bundleOf({ "index.html": "<p>hello</p>" });
    unwrap(await provider.createWorker(createRequest(ref, 1, bundle)));
    const served = provider.readAsset(workerNameFor(ref.site, 1), "index.html");
    expect(new TextDecoder().decode(served)).toBe("<p>hello</p>");
    expect(provider.worker(workerNameFor(ref.site, 1))?.assets.notFoundHandling).toBe(
      "single-page-application",
    );
  });

  it("fails the next calls it is told to, having changed nothing, then recovers", async () => {
    const provider = new InMemoryHostingProvider();
    const ref = newSite();
    const bundle = await bundleOf({ "index.html": "x" });
    provider.failNext("createWorker", hostingError("HOSTING_UNAVAILABLE", "injected"), 2);
    for (let i = 0; i < 2; i++) {
      const result = await provider.createWorker(createRequest(ref, 1, bundle));
      expect(result.ok ? "ok" : [result.error.code, result.error.retryable]).toEqual([
        "HOSTING_UNAVAILABLE",
        true,
      ]);
    }
    expect(unwrap(await provider.listByTag(tenantTag(ref.tenant)))).toEqual([]);
    unwrap(await provider.createWorker(createRequest(ref, 1, bundle)));
    expect(unwrap(await provider.exists(workerNameFor(ref.site, 1)))).toBe(true);
  });
});
