/**
 * Archiving a checked bundle to R2 (control/src/publish/upload.ts archiveUpload) against a real local
 * R2: every file lands under its hash, already-archived files are not written again, writes overlap
 * but never hold more than ARCHIVE_BYTES_IN_FLIGHT (a few large files must not exhaust a 128 MB
 * Worker), and a failed write leaves no manifest naming files that are not there.
 */

import { checkBundle, type InputFile, type SiteId } from "@mini-sites/core";
import { describe, expect, it } from "vitest";
import type { R2Bucket } from "../../src/env.ts";
import { DEFAULT_PUBLISH_CONFIG } from "../../src/publish/config.ts";
import { fileKey, manifestKey } from "../../src/publish/r2.ts";
import { ARCHIVE_BYTES_IN_FLIGHT, archiveUpload, type ReceivedUpload } from "../../src/publish/upload.ts";
import { newTenant, testEnv } from "./helpers.ts";

const bucket = testEnv.BUNDLES as unknown as R2Bucket;
const MiB = 1024 * 1024;

function file(path: string, size: number, fill: number): InputFile {
  return { path, size, read: async () => new Uint8Array(size).fill(fill) };
}

/** R2 with its writes watched: most bytes in flight at once, and a put that can be made to fail. */
function watched(inner: R2Bucket, options: { failOn?: string } = {}) {
  let inFlight = 0;
  let most = 0;
  let puts = 0;
  const proxy = new Proxy(inner, {
    get(target, property, receiver) {
      if (property === "put")
        return async (key: string, value: Uint8Array | string, opts?: unknown) => {
          const size = typeof value === "string" ? value.length : value.length;
          inFlight += size;
          most = Math.max(most, inFlight);
          puts += 1;
          try {
            await new Promise((resolve) => setTimeout(resolve, 5));
            if (options.failOn !== undefined && key.endsWith(options.failOn))
              throw new Error("injected R2 failure");
            return await target.put(key, value, opts as never);
          } finally {
            inFlight -= size;
          }
        };
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { bucket: proxy, most: () => most, puts: () => puts };
}

async function checked(files: InputFile[]) {
  const upload: ReceivedUpload = { input: { kind: "files", files }, fields: {}, keys: [] };
  const report = await checkBundle(upload.input, { limits: DEFAULT_PUBLISH_CONFIG.bundle });
  expect(report.ok, JSON.stringify(report.errors)).toBe(true);
  return { upload, report };
}

const site = () => `s${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}` as SiteId;

describe("archiveUpload", () => {
  it("keeps the bytes of large files in flight under the cap, and writes each file once", async () => {
    const tenant = await newTenant();
    const id = site();
    const files = [
      file("index.html", 100, 60),
      ...Array.from({ length: 6 }, (_, i) => file(`media/clip-${i}.bin`, 6 * MiB, i + 1)),
    ];
    const { upload, report } = await checked(files);
    const r2 = watched(bucket);
    expect(await archiveUpload(r2.bucket, tenant, id, upload, report, DEFAULT_PUBLISH_CONFIG)).toEqual({
      stored: 7,
    });
    // At most the cap plus the manifest (written alone, last).
    expect(r2.most()).toBeLessThanOrEqual(ARCHIVE_BYTES_IN_FLIGHT);
    for (const entry of report.files)
      expect((await bucket.head(fileKey(tenant, id, entry.hash)))?.size).toBe(entry.size);
    expect(await bucket.head(manifestKey(tenant, id, report.bundleHash))).not.toBeNull();

    // The same files again in another bundle: only what is new is written.
    const more = await checked([...files, file("extra.txt", 10, 7)]);
    const again = watched(bucket);
    expect(
      await archiveUpload(again.bucket, tenant, id, more.upload, more.report, DEFAULT_PUBLISH_CONFIG),
    ).toEqual({
      stored: 1,
    });
    expect(again.puts()).toBe(2); // the new file and the manifest
  });

  it("writes no manifest when a file's write fails", async () => {
    const tenant = await newTenant();
    const id = site();
    const files = Array.from({ length: 12 }, (_, i) => file(`f${i}.txt`, 1000 + i, i + 1));
    const { upload, report } = await checked([file("index.html", 10, 1), ...files]);
    const victim = report.files.find((f) => f.path === "f5.txt");
    const r2 = watched(bucket, { failOn: victim?.hash as string });
    await expect(
      archiveUpload(r2.bucket, tenant, id, upload, report, DEFAULT_PUBLISH_CONFIG),
    ).rejects.toThrow("injected R2 failure");
    expect(await bucket.head(manifestKey(tenant, id, report.bundleHash))).toBeNull();
  });
});
