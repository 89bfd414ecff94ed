/**
 * The numbers the Cloudflare API stand-in enforces, each with where it comes from. A limit Cloudflare
 * does not publish is marked as our choice, so nobody mistakes it for a platform fact.
 */

const MiB = 1024 * 1024;

/** Largest single static asset (developers.cloudflare.com/workers/platform/limits; wrangler refuses more). */
export const MAX_ASSET_BYTES = 25 * MiB;

/** Files in one Worker version's assets manifest (Workers Static Assets limit on the free plan). */
export const MAX_MANIFEST_ENTRIES = 20_000;

/** Tags per script (developers.cloudflare.com/cloudflare-for-platforms/workers-for-platforms/configuration/tags). */
export const MAX_TAGS = 8;

/**
 * Upload and completion tokens live one hour: the direct-upload guide says so of the completion token
 * (developers.cloudflare.com/workers/static-assets/direct-upload) and wrangler treats the upload token
 * the same way (deploy-helpers `isJwtExpired` before giving up on a bucket).
 */
export const TOKEN_TTL_SECONDS = 60 * 60;

/**
 * How the stand-in groups missing hashes into upload requests. Cloudflare does not document its
 * grouping (clients must just follow `buckets`); these bounds are our choice: a bucket stays under the
 * request body cap below even after base64 (4/3) inflation, and a lone 25 MiB asset still fits.
 */
export const MAX_BUCKET_FILES = 5_000;
export const MAX_BUCKET_BYTES = 32 * MiB;

/** Request bodies larger than this are refused with 413 before being buffered (our choice). */
export const MAX_REQUEST_BODY_BYTES = 64 * MiB;

/** ext4 and most file systems refuse longer names; a longer segment could never be materialized. */
export const MAX_PATH_SEGMENT_BYTES = 255;

/** Most recent calls kept for `GET /__stand-in/stats` (enough to see one wrangler deploy whole). */
export const RECENT_CALLS_KEPT = 200;
