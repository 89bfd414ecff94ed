/**
 * The behaviour every HostingProvider must have, run against each implementation (the in-memory fake,
 * CloudflareWfPProvider against the local Cloudflare API stand-in, …). Each test makes its own
 * tenants and sites with random ids, so implementations backed by a shared store can run it.
 *
 * What it defends: tenant isolation through tags (invariant 3), no half state when a file cannot be
 * read (invariant 5), "only changed files are uploaded" (DESIGN §3 Publish), idempotent re-creates and
 * deletes (a retried provisioning step never fails for having half-succeeded before).
 */

import { siteTag, tenantTag, workerNameFor } from "@mini-sites/core";
import { beforeEach, describe, expect, it } from "vitest";
import type { HostingProvider, UploadProgress } from "../../src/hosting/provider.ts";
import { bundleOf, createRequest, newSite, unwrap } from "./helpers.ts";

export function describeHostingProviderContract(
  name: string,
  makeProvider: () => HostingProvider | Promise<HostingProvider>,
): void {
  describe(`HostingProvider contract: ${name}`, () => {
    let provider: HostingProvider;
    beforeEach(async () => {
      provider = await makeProvider();
    });

    const names = async (tag: string) =>
      unwrap(await provider.listByTag(tag))
        .map((worker) => worker.name)
        .sort();

    it("creates a Worker that then exists and is listed by its tenant and site tags", async () => {
      const ref = newSite();
      const bundle = await bundleOf({
        "index.html": `<h1>${ref.site}</h1>`,
        "assets/app.js": `log("${ref.site}")`,
      });
      const report = unwrap(await provider.createWorker(createRequest(ref, 1, bundle)));
      const name = workerNameFor(ref.site, 1);
      expect(report).toMatchObject({ name, files: 2, uploadedFiles: 2, skippedFiles: 0 });
      expect(report.uploadedBytes).toBe(bundle.files.reduce((sum, file) => sum + file.size, 0));
      expect(unwrap(await provider.exists(name))).toBe(true);
      const listed = unwrap(await provider.listByTag(tenantTag(ref.tenant)));
      expect(listed).toHaveLength(1);
      expect(listed[0]?.name).toBe(name);
      expect(listed[0]?.tags).toEqual(expect.arrayContaining([tenantTag(ref.tenant), siteTag(ref.site)]));
      expect(await names(siteTag(ref.site))).toEqual([name]);
    });

    it("says a Worker that was never created does not exist", async () => {
      expect(unwrap(await provider.exists(workerNameFor(newSite().site, 1)))).toBe(false);
    });

    it("lists nothing for a tag no Worker carries", async () => {
      expect(await names(tenantTag(newSite().tenant))).toEqual([]);
    });

    it("re-creating a Worker with the same content uploads nothing and leaves one Worker", async () => {
      const ref = newSite();
      const bundle = await bundleOf({ "index.html": "same", "a.css": "body{}" });
      unwrap(await provider.createWorker(createRequest(ref, 1, bundle)));
      bundle.reads.length = 0;
      const again = unwrap(await provider.createWorker(createRequest(ref, 1, bundle)));
      expect(again).toMatchObject({ files: 2, uploadedFiles: 0, uploadedBytes: 0, skippedFiles: 2 });
      expect(bundle.reads).toEqual([]);
      expect(await names(siteTag(ref.site))).toEqual([workerNameFor(ref.site, 1)]);
    });

    it("a new version that changes one file reads and uploads exactly that file", async () => {
      const ref = newSite();
      const unchanged = { "app.js": `let a = "${ref.site}"`, "logo.svg": `<svg id="${ref.site}"/>` };
      const v1 = await bundleOf({ "index.html": `v1 ${ref.site}`, ...unchanged });
      unwrap(await provider.createWorker(createRequest(ref, 1, v1)));
      const v2 = await bundleOf({ "index.html": `v2 ${ref.site}!`, ...unchanged });
      const report = unwrap(await provider.createWorker(createRequest(ref, 2, v2)));
      const changedBytes = v2.files.find((file) => file.path === "index.html")?.size;
      expect(report).toMatchObject({
        files: 3,
        uploadedFiles: 1,
        uploadedBytes: changedBytes,
        skippedFiles: 2,
      });
      expect(v2.reads).toEqual(["index.html"]);
      expect(await names(siteTag(ref.site))).toEqual([
        workerNameFor(ref.site, 1),
        workerNameFor(ref.site, 2),
      ]);
    });

    it("files with identical content are read and uploaded once", async () => {
      const ref = newSite();
      const same = `same("${ref.site}")`;
      const bundle = await bundleOf({ "index.html": `x ${ref.site}`, "a/b.js": same, "c/d.js": same });
      const report = unwrap(await provider.createWorker(createRequest(ref, 1, bundle)));
      expect(report).toMatchObject({ files: 3, uploadedFiles: 2, skippedFiles: 0 });
      expect(bundle.reads.filter((path) => path.endsWith(".js"))).toHaveLength(1);
    });

    it("listing one tenant's tag never returns another tenant's Workers", async () => {
      const a = newSite();
      const b = newSite();
      const bundle = await bundleOf({ "index.html": "shared content across tenants" });
      unwrap(await provider.createWorker(createRequest(a, 1, bundle)));
      unwrap(await provider.createWorker(createRequest(b, 1, bundle)));
      expect(await names(tenantTag(a.tenant))).toEqual([workerNameFor(a.site, 1)]);
      expect(await names(tenantTag(b.tenant))).toEqual([workerNameFor(b.site, 1)]);
    });

    it("deletes one Worker, leaving the site's other versions", async () => {
      const ref = newSite();
      const bundle = await bundleOf({ "index.html": "x" });
      unwrap(await provider.createWorker(createRequest(ref, 1, bundle)));
      unwrap(await provider.createWorker(createRequest(ref, 2, bundle)));
      expect(unwrap(await provider.delete(workerNameFor(ref.site, 1)))).toEqual({ deleted: true });
      expect(unwrap(await provider.exists(workerNameFor(ref.site, 1)))).toBe(false);
      expect(unwrap(await provider.exists(workerNameFor(ref.site, 2)))).toBe(true);
      expect(await names(siteTag(ref.site))).toEqual([workerNameFor(ref.site, 2)]);
    });

    it("deleting a Worker that is not there succeeds and says so", async () => {
      expect(unwrap(await provider.delete(workerNameFor(newSite().site, 3)))).toEqual({ deleted: false });
    });

    it("deleting by a tenant tag removes all of that tenant's Workers and none of another's", async () => {
      const a1 = newSite();
      const a2 = newSite(a1.tenant);
      const b = newSite();
      const bundle = await bundleOf({ "index.html": "purge me" });
      for (const ref of [a1, a2, b]) unwrap(await provider.createWorker(createRequest(ref, 1, bundle)));
      unwrap(await provider.deleteByTag(tenantTag(a1.tenant)));
      expect(await names(tenantTag(a1.tenant))).toEqual([]);
      expect(unwrap(await provider.exists(workerNameFor(a1.site, 1)))).toBe(false);
      expect(unwrap(await provider.exists(workerNameFor(a2.site, 1)))).toBe(false);
      expect(await names(tenantTag(b.tenant))).toEqual([workerNameFor(b.site, 1)]);
    });

    it("deleting by a site tag removes every version of that site only", async () => {
      const ref = newSite();
      const sibling = newSite(ref.tenant);
      const bundle = await bundleOf({ "index.html": "x" });
      unwrap(await provider.createWorker(createRequest(ref, 1, bundle)));
      unwrap(await provider.createWorker(createRequest(ref, 2, bundle)));
      unwrap(await provider.createWorker(createRequest(sibling, 1, bundle)));
      unwrap(await provider.deleteByTag(siteTag(ref.site)));
      expect(await names(tenantTag(ref.tenant))).toEqual([workerNameFor(sibling.site, 1)]);
    });

    it("deleting by a tag no Worker carries succeeds", async () => {
      unwrap(await provider.deleteByTag(tenantTag(newSite().tenant)));
    });

    it("a file that cannot be read fails typed and leaves no Worker", async () => {
      const ref = newSite();
      const bundle = await bundleOf({ "index.html": `unreadable ${ref.site}` });
      const result = await provider.createWorker(
        createRequest(ref, 1, bundle, {
          readFile: async () => {
            throw new Error("R2 said no");
          },
        }),
      );
      expect(result.ok ? "ok" : result.error.code).toBe("HOSTING_SOURCE_FAILED");
      expect(unwrap(await provider.exists(workerNameFor(ref.site, 1)))).toBe(false);
    });

    it("bytes that do not match their manifest hash are refused and leave no Worker", async () => {
      const ref = newSite();
      const bundle = await bundleOf({ "index.html": `honest ${ref.site}` });
      const forged = new TextEncoder().encode(`forged ${ref.site}`.padEnd(bundle.files[0]?.size ?? 0, "x"));
      const result = await provider.createWorker(
        createRequest(ref, 1, bundle, { readFile: async () => forged.slice(0, bundle.files[0]?.size) }),
      );
      expect(result.ok ? "ok" : result.error.code).toBe("HOSTING_SOURCE_FAILED");
      expect(unwrap(await provider.exists(workerNameFor(ref.site, 1)))).toBe(false);
    });

    it.each([
      ["more than 8 tags", { tags: ["tenant-aaaaa", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8"] }],
      ["no tenant tag", { tags: ["site-abc"] }],
      ["two tenant tags", { tags: ["tenant-aaaaa", "tenant-bbbbb"] }],
      ["a tag that would rewrite the tag filter", { tags: ["tenant-aaaaa", "x:no,y"] }],
      ["a Worker name with a path in it", { name: "../scripts" }],
      ["no files", { files: [] }],
    ])("refuses a Worker with %s, creating nothing", async (_label, override) => {
      const ref = newSite();
      const bundle = await bundleOf({ "index.html": "x" });
      const result = await provider.createWorker(createRequest(ref, 1, bundle, override));
      expect(result.ok ? "ok" : result.error.code).toBe("HOSTING_INVALID_INPUT");
      expect(result.ok || result.error.retryable).toBe(false);
      expect(bundle.reads).toEqual([]);
      expect(unwrap(await provider.exists(workerNameFor(ref.site, 1)))).toBe(false);
    });

    it("refuses to list or delete by a tag that is not a plain tag", async () => {
      for (const tag of ["", "tenant-a:no", "a,b", "tenant-a&tags=x:yes"]) {
        const listed = await provider.listByTag(tag);
        const deleted = await provider.deleteByTag(tag);
        expect(listed.ok ? "ok" : listed.error.code).toBe("HOSTING_INVALID_INPUT");
        expect(deleted.ok ? "ok" : deleted.error.code).toBe("HOSTING_INVALID_INPUT");
      }
    });

    it("reports upload progress ending with every file done", async () => {
      const ref = newSite();
      const bundle = await bundleOf({
        "index.html": `p ${ref.site}`,
        "a.js": `a ${ref.site}`,
        "b.js": `b ${ref.site}`,
      });
      const progress: UploadProgress[] = [];
      unwrap(
        await provider.createWorker(createRequest(ref, 1, bundle, { onProgress: (p) => progress.push(p) })),
      );
      const last = progress.at(-1);
      expect(last?.phase).toBe("deploy");
      expect(last).toMatchObject({ filesTotal: 3, filesDone: 3 });
      expect(progress.some((p) => p.phase === "upload")).toBe(true);
    });
  });
}
