/**
 * Where an upload enters R2: the request body streams into the tenant's `uploads/` prefix with the
 * byte cap enforced while it streams (never after), then the core checks it through ranged R2 reads,
 * and only a bundle that passed is archived per file (r2.ts has the layout and why).
 *
 * Memory: a zip or HTML body is cut into fixed-size parts of an R2 multipart upload (R2 wants every
 * part but the last the same size, ≥ 5 MiB), so at most one part is held; a folder upload holds one
 * file at a time (multipart.ts). The core then reads one entry at a time.
 *
 * Upload only what the server lacks (DESIGN §3, "only changed files are uploaded"): a folder upload
 * may carry a `manifest` field listing EVERY file of the bundle with its asset hash, and send as parts
 * only the files the site's archive lacks (`POST /v1/sites/{site}/files/missing` says which). The
 * rest are read from that site's own archive by hash — never another site's or tenant's — and the
 * whole bundle is then checked and scanned exactly like a full upload: a file taken from the archive
 * is re-read, re-hashed and re-scanned, so naming a hash proves nothing and skips no rule.
 */

import {
  type AcceptedFinding,
  type BundleInput,
  bundleError,
  type CheckReport,
  checkBundle,
  DEFAULT_LIMITS,
  hexEncode,
  type InputFile,
  type ManifestEntry,
  readBundle,
  type SiteId,
  type TenantShortId,
} from "@mini-sites/core";
import { z } from "zod";
import { ApiError } from "../app/errors.ts";
import { MAX_FILE_LIST_BYTES } from "../app/limits.ts";
import type { R2Bucket, R2MultipartUpload } from "../env.ts";
import type { PublishConfig } from "./config.ts";
import { bundleRejected } from "./errors.ts";
import { boundaryOf, MultipartError, readMultipart } from "./multipart.ts";
import { archivedFileSizes, fileKey, manifestKey, r2Source, uploadFileKey, uploadKey } from "./r2.ts";

/** R2 multipart part size: above R2's 5 MiB minimum, small enough that one part in memory is cheap. */
export const UPLOAD_PART_BYTES = 8 * 1024 * 1024;

/** Form fields that are not files (everything else with a body is a file of the bundle). */
export const FORM_FIELDS = ["message", "name", "notFoundHandling", "statusFeed", "manifest"] as const;

/** An asset hash as core/src/bundle/hash.ts makes it. */
export const ASSET_HASH = /^[0-9a-f]{32}$/;

/** One file of a bundle named by its asset hash: a `manifest` entry, or a `files/missing` question. */
export const ManifestFileSchema = z
  .object({
    path: z.string().min(1).max(DEFAULT_LIMITS.maxPathBytes),
    hash: z.string().regex(ASSET_HASH, "must be an asset hash: 32 lowercase hex characters"),
    size: z.number().int().min(0),
  })
  .strict();
export type ManifestFile = z.infer<typeof ManifestFileSchema>;

/** At most this many missing files are named in a FILES_MISSING answer (the count says the rest). */
const MISSING_LISTED = 100;
type FormField = (typeof FORM_FIELDS)[number];

export interface ReceivedUpload {
  readonly input: BundleInput;
  /** Form fields of a multipart upload (message, name, notFoundHandling, statusFeed). */
  readonly fields: Partial<Record<FormField, string>>;
  /** Every R2 key this upload wrote under `uploads/`: deleted once the upload is staged or refused. */
  readonly keys: readonly string[];
}

function tooLarge(limit: number): ApiError {
  return new ApiError(
    "BODY_TOO_LARGE",
    `The upload is larger than this deployment accepts (${limit} bytes).`,
  );
}

/** Streams `body` into one R2 object, aborting (and keeping nothing) the moment it passes `limit`. */
export async function streamToR2(
  bucket: R2Bucket,
  key: string,
  body: ReadableStream<Uint8Array>,
  limit: number,
  partBytes = UPLOAD_PART_BYTES,
): Promise<number> {
  const reader = body.getReader();
  let part = new Uint8Array(partBytes);
  let filled = 0;
  let total = 0;
  let multipart: R2MultipartUpload | undefined;
  const parts: { partNumber: number; etag: string }[] = [];
  try {
    for (;;) {
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } catch (error) {
        // The app's own body cap (app/body-limit.ts) errors the stream the same way.
        if (error instanceof Error && error.name === "BodyTooLarge") throw tooLarge(limit);
        throw error;
      }
      if (next.done) break;
      let chunk = next.value;
      total += chunk.length;
      if (total > limit) throw tooLarge(limit);
      while (chunk.length > 0) {
        const take = Math.min(chunk.length, partBytes - filled);
        part.set(chunk.subarray(0, take), filled);
        filled += take;
        chunk = chunk.subarray(take);
        if (filled === partBytes) {
          multipart ??= await bucket.createMultipartUpload(key);
          parts.push(await multipart.uploadPart(parts.length + 1, part));
          part = new Uint8Array(partBytes);
          filled = 0;
        }
      }
    }
    if (multipart === undefined) {
      await bucket.put(key, part.subarray(0, filled));
    } else {
      if (filled > 0) parts.push(await multipart.uploadPart(parts.length + 1, part.subarray(0, filled)));
      await multipart.complete(parts);
    }
    return total;
  } catch (error) {
    await reader.cancel().catch(() => {});
    await multipart?.abort().catch(() => {});
    throw error;
  }
}

export function newUploadId(): string {
  return hexEncode(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * Receives the body of `POST /v1/sites/{site}/versions` into R2. Zip: `application/zip` (or
 * `application/x-zip-compressed`, `application/octet-stream`); one HTML file: `text/html`
 * (`htmlName` names it); a folder: `multipart/form-data`, one part per file, and with a `manifest`
 * the files left out are taken from `site`'s archive (undefined for a new site: it has none).
 */
export async function receiveUpload(
  bucket: R2Bucket,
  tenant: TenantShortId,
  request: Request,
  config: PublishConfig,
  htmlName = "index.html",
  site?: SiteId,
): Promise<ReceivedUpload> {
  const body = request.body;
  if (body === null)
    throw new ApiError(
      "INVALID_REQUEST",
      "The request has no body: send a zip, an HTML file or a folder as multipart/form-data.",
    );
  const contentType = (request.headers.get("content-type") ?? "").toLowerCase();
  const mediaType = contentType.split(";")[0]?.trim() ?? "";
  const uploadId = newUploadId();

  if (mediaType === "multipart/form-data") {
    const boundary = boundaryOf(request.headers.get("content-type") ?? "");
    if (boundary === undefined)
      throw new ApiError("INVALID_REQUEST", "multipart/form-data without a boundary.");
    return receiveForm(bucket, tenant, uploadId, body, boundary, config, site);
  }
  const kind =
    mediaType === "text/html"
      ? "html"
      : ["application/zip", "application/x-zip-compressed", "application/octet-stream"].includes(mediaType)
        ? "zip"
        : undefined;
  if (kind === undefined)
    throw new ApiError(
      "UNSUPPORTED_MEDIA_TYPE",
      "Send the bundle as application/zip, text/html (one self-contained page) or multipart/form-data (a folder).",
    );
  const key = uploadKey(tenant, uploadId);
  await streamToR2(bucket, key, body, config.maxUploadBytes);
  const source = await r2Source(bucket, key);
  if (source === undefined)
    throw new ApiError("UNAVAILABLE", "The upload could not be read back from storage; try again.");
  return {
    input: kind === "zip" ? { kind: "zip", source } : { kind: "html", name: htmlName, source },
    fields: {},
    keys: [key],
  };
}

async function receiveForm(
  bucket: R2Bucket,
  tenant: TenantShortId,
  uploadId: string,
  body: ReadableStream<Uint8Array>,
  boundary: string,
  config: PublishConfig,
  site: SiteId | undefined,
): Promise<ReceivedUpload> {
  const files: InputFile[] = [];
  const keys: string[] = [];
  const fields: Partial<Record<FormField, string>> = {};
  let total = 0;
  try {
    const maxParts = config.bundle.maxFiles + FORM_FIELDS.length;
    for await (const part of readMultipart(body, boundary, config.bundle.maxFileBytes, { maxParts })) {
      total += part.bytes.length;
      if (total > config.maxUploadBytes) throw tooLarge(config.maxUploadBytes);
      if (part.filename === undefined && (FORM_FIELDS as readonly string[]).includes(part.name)) {
        if (part.name === "manifest" && part.bytes.length > MAX_FILE_LIST_BYTES)
          throw new ApiError(
            "INVALID_REQUEST",
            `The manifest is larger than ${MAX_FILE_LIST_BYTES} bytes; a bundle has at most ${config.bundle.maxFiles} files.`,
          );
        fields[part.name as FormField] = new TextDecoder().decode(part.bytes);
        continue;
      }
      if (files.length >= config.bundle.maxFiles) {
        throw bundleRejected(
          [
            bundleError(
              "TOO_MANY_FILES",
              "",
              `A mini-site may have at most ${config.bundle.maxFiles} files.`,
            ),
          ],
          [],
        );
      }
      const key = uploadFileKey(tenant, uploadId, files.length);
      await bucket.put(key, part.bytes);
      keys.push(key);
      const size = part.bytes.length;
      files.push({
        path: part.filename !== undefined && part.filename !== "" ? part.filename : part.name,
        size,
        read: async () => {
          const object = await bucket.get(key);
          if (object === null) throw new Error("an uploaded file vanished from storage");
          return new Uint8Array(await object.arrayBuffer());
        },
      });
    }
    if (fields.manifest !== undefined) {
      const listed = parseManifest(fields.manifest, config);
      return {
        input: { kind: "files", files: await completeFromArchive(bucket, tenant, site, listed, files) },
        fields,
        keys,
      };
    }
  } catch (error) {
    await bucket.delete(keys).catch(() => {});
    if (error instanceof MultipartError) {
      if (error.kind === "part-too-large")
        throw bundleRejected(
          [
            bundleError(
              "FILE_TOO_LARGE",
              error.partName,
              `This file is larger than ${config.bundle.maxFileBytes} bytes, the most one file may be.`,
            ),
          ],
          [],
        );
      throw new ApiError("INVALID_REQUEST", error.message);
    }
    if (error instanceof Error && error.name === "BodyTooLarge") throw tooLarge(config.maxUploadBytes);
    throw error;
  }
  return { input: { kind: "files", files }, fields, keys };
}

function parseManifest(text: string, config: PublishConfig): ManifestFile[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ApiError("INVALID_REQUEST", "The manifest field is not valid JSON.", [
      { path: "form.manifest", message: "Malformed JSON" },
    ]);
  }
  const parsed = z.array(ManifestFileSchema).safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = ["form.manifest", ...(issue?.path ?? []).map(String)].join(".");
    throw new ApiError(
      "INVALID_REQUEST",
      `${where}: ${issue?.message ?? "not a list of {path, hash, size}"}`,
      [{ path: where, message: issue?.message ?? "invalid" }],
    );
  }
  if (parsed.data.length > config.bundle.maxFiles)
    throw bundleRejected(
      [bundleError("TOO_MANY_FILES", "", `A mini-site may have at most ${config.bundle.maxFiles} files.`)],
      [],
    );
  return parsed.data;
}

/**
 * The bundle a manifest describes: each listed file from its part when one was sent, else from the
 * site's archive by hash. Every sent part must be listed (a part the manifest does not name would be
 * a file the caller did not mean to publish). A listed file that was neither sent nor archived is
 * FILES_MISSING, before anything is checked or staged: never a partial bundle.
 */
async function completeFromArchive(
  bucket: R2Bucket,
  tenant: TenantShortId,
  site: SiteId | undefined,
  listed: readonly ManifestFile[],
  sent: readonly InputFile[],
): Promise<InputFile[]> {
  const sentPaths = new Set(sent.map((file) => file.path));
  const listedPaths = new Set(listed.map((entry) => entry.path));
  const stray = sent.find((file) => !listedPaths.has(file.path));
  if (stray !== undefined)
    throw new ApiError(
      "INVALID_REQUEST",
      `"${stray.path}" was sent but is not in the manifest; the manifest lists every file of the bundle.`,
    );
  const wanted = listed.filter((entry) => !sentPaths.has(entry.path));
  const archived =
    wanted.length === 0 || site === undefined
      ? new Map<string, number>()
      : await archivedFileSizes(bucket, tenant, site);
  const missing = wanted.filter((entry) => archived.get(entry.hash) !== entry.size);
  if (missing.length > 0)
    throw new ApiError(
      "FILES_MISSING",
      `${missing.length} file${missing.length === 1 ? " is" : "s are"} in the manifest but neither sent nor stored for this site (first: ${missing[0]?.path}); send ${missing.length === 1 ? "it" : "them"} and publish again.`,
      {
        extra: {
          detail: {
            count: missing.length,
            missing: missing.slice(0, MISSING_LISTED).map(({ path, hash }) => ({ path, hash })),
          },
        },
      },
    );
  // Every sent part as sent (the core sees duplicates among them), then the listed files left out.
  const fromArchive = wanted.map(
    (entry): InputFile => ({
      path: entry.path,
      size: entry.size,
      read: async () => {
        const object = await bucket.get(fileKey(tenant, site as SiteId, entry.hash));
        if (object === null)
          throw new ApiError("FILES_MISSING", `${entry.path} is no longer stored; publish again.`);
        return new Uint8Array(await object.arrayBuffer());
      },
    }),
  );
  return [...sent, ...fromArchive];
}

/**
 * Runs the one pipeline (DESIGN §3: read → validate → secret-scan) over the staged upload, with the
 * findings the tenant's admins accepted (db/accepted-findings.ts): those are reported, never refusing.
 */
export async function checkUpload(
  upload: ReceivedUpload,
  config: PublishConfig,
  accepted: readonly AcceptedFinding[] = [],
): Promise<CheckReport> {
  const report = await checkBundle(upload.input, { limits: config.bundle, accepted });
  if (!report.ok) throw bundleRejected(report.errors, report.findings);
  return report;
}

/**
 * R2 writes of one archive in flight at once. Each write is a round trip (to R2, or to the local
 * stand-in's disk); a bundle of hundreds of small files written one after another spent seconds
 * waiting. The file bytes held meanwhile are bounded by this many files.
 */
export const ARCHIVE_WRITES_IN_FLIGHT = 8;
/**
 * And at most this many bytes: a bundle of a few 20 MiB files must not hold them all at once in a
 * 128 MB Worker (one file larger than this is still written, alone).
 */
export const ARCHIVE_BYTES_IN_FLIGHT = 16 * 1024 * 1024;

/**
 * Archives a checked bundle per file (content-addressed, skipping files the site already has) and
 * writes its manifest last, so a manifest in R2 always names files that are there. Reads the upload a
 * second time rather than writing during the check: nothing of a refused bundle (a secret) is kept.
 * What is already archived comes from one listing of the site's prefix, not a HEAD per file.
 */
export async function archiveUpload(
  bucket: R2Bucket,
  tenant: TenantShortId,
  site: SiteId,
  upload: ReceivedUpload,
  report: CheckReport,
  config: PublishConfig,
): Promise<{ stored: number }> {
  const existing = await bucket.head(manifestKey(tenant, site, report.bundleHash));
  if (existing !== null) return { stored: 0 };
  const archived = await archivedFileSizes(bucket, tenant, site);
  const byHash = new Map<string, ManifestEntry>(report.files.map((f) => [f.hash, f]));
  const writes = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let stored = 0;
  let bytesInFlight = 0;
  const write = (key: string, bytes: Uint8Array) => {
    bytesInFlight += bytes.length;
    const settle = () => {
      bytesInFlight -= bytes.length;
      writes.delete(pending);
    };
    const pending: Promise<void> = bucket.put(key, bytes).then(
      () => {
        stored += 1;
        settle();
      },
      (error: unknown) => {
        failure ??= { error };
        settle();
      },
    );
    writes.add(pending);
  };
  try {
    await readBundle(upload.input, {
      limits: config.bundle,
      onFile: async (entry, bytes) => {
        if (failure !== undefined) throw failure.error;
        if (!byHash.has(entry.hash)) throw new Error("the upload changed between check and archive");
        // Same hash, same size: the same bytes are there (a bundle naming one hash twice writes it once).
        if (archived.get(entry.hash) === entry.size) return;
        archived.set(entry.hash, entry.size);
        // Room first (count and bytes), so at most one oversized file is ever held beyond the cap.
        while (
          writes.size >= ARCHIVE_WRITES_IN_FLIGHT ||
          (writes.size > 0 && bytesInFlight + bytes.length > ARCHIVE_BYTES_IN_FLIGHT)
        )
          await Promise.race(writes);
        write(fileKey(tenant, site, entry.hash), bytes);
      },
    });
  } finally {
    await Promise.all(writes);
  }
  if (failure !== undefined) throw failure.error;
  await bucket.put(manifestKey(tenant, site, report.bundleHash), JSON.stringify(report.files), {
    httpMetadata: { contentType: "application/json" },
  });
  return { stored };
}
