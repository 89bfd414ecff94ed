/**
 * Where a version's bytes live in R2, and how the pipeline reads them back by ranges.
 *
 * Layout (every key under the tenant's prefix, so a tenant purge is one prefix delete — DESIGN §6.3):
 *
 *   t/<tenant>/uploads/<uploadId>           a zip or single-HTML upload as received (deleted after staging)
 *   t/<tenant>/uploads/<uploadId>/f/<n>     the n-th file of a multipart upload (idem)
 *   t/<tenant>/sites/<site>/files/<assetHash>            one hosted file, content-addressed (bytes + extension)
 *   t/<tenant>/sites/<site>/manifests/<bundleHash>.json  a version's manifest: ManifestEntry[]
 *   t/<tenant>/editor-uploads/<site>/<nonce>/…           an editor's chunked upload (macro/uploads.ts)
 *
 * Why per file rather than the uploaded zip: provisioning hands the HostingProvider a `readFile(entry)`
 * that Cloudflare's upload session calls only for files it lacks — one GET by hash answers it with no
 * zip parsing or inflating inside the Workflow; a re-publish that changes one file stores one object;
 * a zip upload, a folder upload and a single HTML file all end up the same; the download endpoint
 * rebuilds a zip on the fly (fflate streaming). Dedupe is per site, not per tenant: deleting a site is
 * then one prefix delete with no reference counting across sites. The manifest is addressed by the bundle hash, which
 * is the version's `content_hash`, so no extra column is needed to find it.
 */

import type { ManifestEntry, RandomAccessSource, SiteId, TenantShortId } from "@mini-sites/core";
import type { R2Bucket } from "../env.ts";

// --- Keys ------------------------------------------------------------------------------------------

export const tenantPrefix = (tenant: TenantShortId): string => `t/${tenant}/`;
export const uploadKey = (tenant: TenantShortId, uploadId: string): string =>
  `t/${tenant}/uploads/${uploadId}`;
export const uploadFileKey = (tenant: TenantShortId, uploadId: string, n: number): string =>
  `t/${tenant}/uploads/${uploadId}/f/${n}`;
export const sitePrefix = (tenant: TenantShortId, site: SiteId): string => `t/${tenant}/sites/${site}/`;
export const fileKey = (tenant: TenantShortId, site: SiteId, hash: string): string =>
  `${sitePrefix(tenant, site)}files/${hash}`;
export const editorUploadsPrefix = (tenant: TenantShortId, site: SiteId): string =>
  `t/${tenant}/editor-uploads/${site}/`;
export const manifestKey = (tenant: TenantShortId, site: SiteId, bundleHash: string): string =>
  `${sitePrefix(tenant, site)}manifests/${bundleHash}.json`;

/** R2 deletes at most 1,000 keys per call (developers.cloudflare.com/r2/api/workers/workers-api-reference). */
export const R2_DELETE_BATCH = 1_000;

/** Deletes every object under `prefix`, page by page. */
export async function deletePrefix(bucket: R2Bucket, prefix: string): Promise<number> {
  let deleted = 0;
  let cursor: string | undefined;
  do {
    const page = await bucket.list({
      prefix,
      limit: R2_DELETE_BATCH,
      ...(cursor === undefined ? {} : { cursor }),
    });
    const keys = page.objects.map((o) => o.key);
    if (keys.length > 0) await bucket.delete(keys);
    deleted += keys.length;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  return deleted;
}

// --- Reading back ------------------------------------------------------------------------------------

/**
 * A zip's reader asks for many tiny ranges (a 30-byte local header per entry, then its data), and
 * reads several entries at once (core's read-ahead): one R2 GET each would cost a round trip per
 * header. Reads shorter than a block are served from aligned blocks of this size, kept in a small
 * LRU (concurrent reads of one block share one GET); larger reads go straight through.
 */
export const READ_BLOCK_BYTES = 256 * 1024;
/** Blocks kept per source: 6 MiB, enough for a typical bundle whole and for the read-ahead's spread. */
export const READ_BLOCKS_KEPT = 24;

/** A RandomAccessSource over one R2 object: `size` from HEAD, `read` by ranged GETs through a block cache. */
export async function r2Source(bucket: R2Bucket, key: string): Promise<RandomAccessSource | undefined> {
  const head = await bucket.head(key);
  if (head === null) return undefined;
  const size = head.size;
  const fetchRange = async (offset: number, length: number): Promise<Uint8Array> => {
    if (length === 0) return new Uint8Array(0);
    const object = await bucket.get(key, { range: { offset, length } });
    if (object === null) throw new Error(`R2 object ${key} vanished while it was being read`);
    return new Uint8Array(await object.arrayBuffer());
  };
  const blocks = new Map<number, Promise<Uint8Array>>();
  const block = (index: number): Promise<Uint8Array> => {
    let loading = blocks.get(index);
    if (loading === undefined) {
      const offset = index * READ_BLOCK_BYTES;
      loading = fetchRange(offset, Math.min(READ_BLOCK_BYTES, size - offset));
      // A failed GET is not kept: the next read asks again.
      loading.catch(() => blocks.delete(index));
      if (blocks.size >= READ_BLOCKS_KEPT) blocks.delete(blocks.keys().next().value as number);
    } else blocks.delete(index);
    blocks.set(index, loading);
    return loading;
  };
  return {
    size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0)
        throw new RangeError(`invalid read(${offset}, ${length})`);
      const start = Math.min(offset, size);
      const end = Math.min(size, start + length);
      if (end === start) return new Uint8Array(0);
      if (end - start >= READ_BLOCK_BYTES) return fetchRange(start, end - start);
      const first = Math.floor(start / READ_BLOCK_BYTES);
      const last = Math.floor((end - 1) / READ_BLOCK_BYTES);
      const firstBlock = await block(first);
      const from = start - first * READ_BLOCK_BYTES;
      if (first === last) return firstBlock.subarray(from, from + (end - start));
      // Straddles two blocks (a read is shorter than one block, so never more).
      const lastBlock = await block(last);
      const out = new Uint8Array(end - start);
      out.set(firstBlock.subarray(from), 0);
      out.set(lastBlock.subarray(0, end - last * READ_BLOCK_BYTES), firstBlock.length - from);
      return out;
    },
  };
}

/** The bytes of one archived file, checked by the provider against its manifest entry. */
export async function readArchivedFile(
  bucket: R2Bucket,
  tenant: TenantShortId,
  site: SiteId,
  entry: ManifestEntry,
): Promise<Uint8Array> {
  const object = await bucket.get(fileKey(tenant, site, entry.hash));
  if (object === null) throw new Error(`archived file ${entry.path} (${entry.hash}) is missing from R2`);
  return new Uint8Array(await object.arrayBuffer());
}

/**
 * Hash → size of every file archived for one site: what a publish may leave out and name by hash
 * (upload.ts `manifest`, `POST /v1/sites/{site}/files/missing`). Listed page by page under the
 * site's own prefix — never another site's or tenant's — which costs one R2 call per 1,000 files
 * instead of one HEAD per file asked about.
 */
export async function archivedFileSizes(
  bucket: R2Bucket,
  tenant: TenantShortId,
  site: SiteId,
): Promise<Map<string, number>> {
  const prefix = `${sitePrefix(tenant, site)}files/`;
  const sizes = new Map<string, number>();
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, limit: 1_000, ...(cursor === undefined ? {} : { cursor }) });
    for (const object of page.objects) sizes.set(object.key.slice(prefix.length), object.size);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  return sizes;
}

export async function readManifest(
  bucket: R2Bucket,
  tenant: TenantShortId,
  site: SiteId,
  bundleHash: string,
): Promise<ManifestEntry[] | undefined> {
  const object = await bucket.get(manifestKey(tenant, site, bundleHash));
  if (object === null) return undefined;
  return JSON.parse(await object.text()) as ManifestEntry[];
}
