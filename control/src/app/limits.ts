/**
 * Request body caps (DESIGN §6.9 abuse bounds), one number per kind of body the route policy names
 * (policy/table.ts `body`), each with its reason. app/body-limit.ts enforces them while the body
 * streams, not after it has been read.
 */

import { DEFAULT_LIMITS } from "@mini-sites/core";
import { UPLOAD_CHUNK_BYTES } from "../macro/uploads.ts";
import type { BodyKind } from "../policy/table.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * JSON API bodies (site settings, rollback, token creation, macro calls). The largest legitimate
 * one is a few hundred bytes; 64 KiB leaves room for long names and messages while keeping a flood of
 * large JSON from costing CPU in JSON.parse and zod.
 */
export const MAX_JSON_BODY_BYTES = 64 * KiB;

/**
 * Zip overhead on top of the bundle's own bytes: per entry a 30-byte local header, a 46-byte central
 * directory record, the path twice (≤ 1 KiB each, DEFAULT_LIMITS.maxPathBytes) and a data descriptor,
 * for up to DEFAULT_LIMITS.maxFiles entries — about 4.3 MiB at the defaults; 8 MiB is a round margin
 * that also covers multipart boundaries and headers.
 */
export const UPLOAD_OVERHEAD_BYTES = 8 * MiB;

/**
 * A bundle upload (`POST /v1/sites/{site}/versions`, zip or multipart): the largest bundle the core
 * accepts, stored uncompressed, plus framing. The core enforces its own limits while reading; this cap
 * stops the bytes at the door. (Cloudflare itself refuses bodies over 100 MB on Free/Pro plans —
 * developers.cloudflare.com/workers/platform/limits — so on those plans that is the effective cap.)
 */
export const MAX_UPLOAD_BODY_BYTES = DEFAULT_LIMITS.maxBundleBytes + UPLOAD_OVERHEAD_BYTES;

/**
 * A list of a bundle's files by hash (`POST /v1/sites/{site}/files/missing`, and a publish's
 * `manifest` field): an entry is a path of at most maxPathBytes, a 32-character hash, a size and
 * JSON punctuation — under 1.2 KiB at worst — for up to maxFiles entries: about 2.2 MiB. Real lists
 * are far smaller (a path is typically tens of bytes); the JSON cap above would refuse a few hundred files.
 */
export const MAX_FILE_LIST_BYTES = DEFAULT_LIMITS.maxFiles * (DEFAULT_LIMITS.maxPathBytes + 128);

/**
 * One chunk of an editor upload is exactly its size (macro/uploads.ts). It may come as one multipart
 * file part — the only form in which Forge's `requestRemote` carries binary (the bridge sends other
 * bodies as text) — so the cap leaves room for one part's boundaries and headers, nothing more.
 */
export const CHUNK_MULTIPART_OVERHEAD_BYTES = 8 * KiB;
export const MAX_CHUNK_BODY_BYTES = UPLOAD_CHUNK_BYTES + CHUNK_MULTIPART_OVERHEAD_BYTES;

/** Routes that take no body still get a small cap: a body they ignore must not be streamed for long. */
export const MAX_NO_BODY_BYTES = 1 * KiB;

export const BODY_CAPS: Readonly<Record<BodyKind, number>> = {
  none: MAX_NO_BODY_BYTES,
  json: MAX_JSON_BODY_BYTES,
  fileList: MAX_FILE_LIST_BYTES,
  upload: MAX_UPLOAD_BODY_BYTES,
  chunk: MAX_CHUNK_BODY_BYTES,
};
