/**
 * `GET /v1/sites/{site}/versions/{n}/bundle`: the version as a zip, built on the fly from the per-file
 * archive with fflate's streaming Zip. A pull-based stream reads one archived file per pull, so the
 * Worker holds one file (and its deflated chunks) at a time however large the bundle.
 */

import type { ManifestEntry, SiteId, TenantShortId } from "@mini-sites/core";
import { Zip, ZipDeflate } from "fflate";
import type { R2Bucket } from "../env.ts";
import { readArchivedFile } from "./r2.ts";

/** Deflate level: 6 is zlib's default balance; downloads are rare, CPU per request is capped. */
export const DOWNLOAD_DEFLATE_LEVEL = 6;

export function zipStream(
  bucket: R2Bucket,
  tenant: TenantShortId,
  site: SiteId,
  files: readonly ManifestEntry[],
): ReadableStream<Uint8Array> {
  const zip = new Zip();
  let index = 0;
  let controllerRef: ReadableStreamDefaultController<Uint8Array> | undefined;
  zip.ondata = (error, chunk, final) => {
    const controller = controllerRef as ReadableStreamDefaultController<Uint8Array>;
    if (error) {
      controller.error(error);
      return;
    }
    if (chunk.length > 0) controller.enqueue(chunk);
    if (final) controller.close();
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controllerRef = controller;
    },
    async pull() {
      const entry = files[index];
      index += 1;
      if (entry === undefined) {
        zip.end();
        return;
      }
      const bytes = await readArchivedFile(bucket, tenant, site, entry);
      const file = new ZipDeflate(entry.path, { level: DOWNLOAD_DEFLATE_LEVEL });
      zip.add(file);
      file.push(bytes, true);
    },
  });
}
