/**
 * Where an editor upload's chunks go: an R2 multipart upload under the tenant's prefix, so the control
 * Worker never holds more than one chunk (DESIGN §5: 128 MB per isolate, bundles up to 100 MiB).
 *
 * R2 multipart rules this follows (developers.cloudflare.com/r2/objects/multipart-objects): every part
 * but the last is at least 5 MiB and all non-final parts have the same size; the upload is completed
 * with the list of (part number, etag). Each accepted part's etag is written next to the upload as a
 * small marker object, so `complete` lists what the server itself stored instead of trusting etags
 * sent back by the browser.
 */

import type { SiteId, TenantShortId } from "@mini-sites/core";
import type { R2Bucket } from "../env.ts";
import { editorUploadsPrefix } from "../publish/r2.ts";

/** R2's minimum part size (all parts but the last); also the most one chunk request carries. */
export const UPLOAD_CHUNK_BYTES = 5 * 1024 * 1024;

/**
 * `t/<tenant>/editor-uploads/<site>/<nonce>/…`: every object of an editor upload under the tenant's prefix
 * (DESIGN §6.3, so a tenant purge of `t/<tenant>/` takes it), apart from the publish pipeline's own `uploads/`.
 */
export function uploadPrefix(tenant: TenantShortId, site: SiteId, nonce: string): string {
  return `${editorUploadsPrefix(tenant, site)}${nonce}`;
}

export function bundleKeyOf(prefix: string): string {
  return `${prefix}/bundle`;
}

function markerKey(bundleKey: string, part: number): string {
  return `${bundleKey.replace(/\/bundle$/, "")}/parts/${String(part).padStart(5, "0")}`;
}

export function chunkCount(size: number, chunkBytes: number): number {
  return Math.max(1, Math.ceil(size / chunkBytes));
}

/** The exact size chunk `n` (1-based) must have. */
export function expectedChunkSize(size: number, chunkBytes: number, n: number): number {
  const count = chunkCount(size, chunkBytes);
  return n < count ? chunkBytes : size - (count - 1) * chunkBytes;
}

/** Whether chunk `n` was stored already (a retried PUT is answered without storing it twice). */
export async function chunkStored(bucket: R2Bucket, ticket: { key: string }, n: number): Promise<boolean> {
  return (await bucket.head(markerKey(ticket.key, n))) !== null;
}

export async function storeChunk(
  bucket: R2Bucket,
  ticket: { key: string; uploadId: string },
  n: number,
  bytes: Uint8Array,
): Promise<void> {
  const part = await bucket.resumeMultipartUpload(ticket.key, ticket.uploadId).uploadPart(n, bytes);
  await bucket.put(
    markerKey(ticket.key, n),
    JSON.stringify({ partNumber: part.partNumber, etag: part.etag }),
  );
}

export type AssembleResult = { readonly ok: true } | { readonly ok: false; readonly missing: number[] };

/** Completes the multipart upload if every chunk arrived; idempotent once the bundle exists. */
export async function assemble(
  bucket: R2Bucket,
  ticket: { key: string; uploadId: string; size: number; chunkBytes: number },
): Promise<AssembleResult> {
  const existing = await bucket.head(ticket.key);
  if (existing !== null && existing.size === ticket.size) return { ok: true };
  const count = chunkCount(ticket.size, ticket.chunkBytes);
  const parts: { partNumber: number; etag: string }[] = [];
  const missing: number[] = [];
  for (let n = 1; n <= count; n++) {
    const marker = await bucket.get(markerKey(ticket.key, n));
    if (marker === null) {
      missing.push(n);
      continue;
    }
    parts.push(JSON.parse(await marker.text()) as { partNumber: number; etag: string });
  }
  if (missing.length > 0) return { ok: false, missing };
  await bucket.resumeMultipartUpload(ticket.key, ticket.uploadId).complete(parts);
  const markers = parts.map((part) => markerKey(ticket.key, part.partNumber));
  await bucket.delete(markers);
  return { ok: true };
}
