/**
 * Request body caps (DESIGN §6.9 abuse bounds). One table, so a reader sees every cap and its reason
 * in one place; app/body-limit.ts enforces them while the body streams, not after it has been read.
 */

import { DEFAULT_LIMITS } from "@mini-sites/core";

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

/** Which requests may carry large bodies; everything else gets MAX_JSON_BODY_BYTES. */
const UPLOAD_ROUTES: readonly { method: string; path: RegExp }[] = [
  { method: "POST", path: /^\/v1\/sites\/[^/]+\/versions$/ },
  { method: "PUT", path: /^\/v1\/macro\/uploads\/[^/]+\/chunks\/[^/]+$/ },
];

export function bodyCapFor(method: string, pathname: string): number {
  return UPLOAD_ROUTES.some((route) => route.method === method && route.path.test(pathname))
    ? MAX_UPLOAD_BODY_BYTES
    : MAX_JSON_BODY_BYTES;
}
