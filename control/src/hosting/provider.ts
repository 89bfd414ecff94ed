/**
 * Where a site version's bytes are hosted: one user Worker per version (DESIGN §2), created from a
 * manifest whose files are read one at a time, on demand, from the staged bundle (R2 in production).
 *
 * Threats this boundary is shaped by:
 * - half state (invariant 5): `createWorker` either ends with a complete, servable Worker or reports an
 *   error having deployed nothing new; the Worker script is written only after every asset is uploaded;
 * - tenant isolation (invariant 3): every Worker carries exactly one `tenant-…` tag, and listing or
 *   deleting by a tag never touches a Worker without that tag;
 * - secret leakage (invariant 7): errors are values with a stable code and a human message that never
 *   contains an API token or upload JWT;
 * - amplifying an outage (invariant 9): implementations retry boundedly and report `retryable` so the
 *   provisioning Workflow decides when to try again.
 */

import { assetHash, type ManifestEntry } from "@mini-sites/core";

// --- Errors -----------------------------------------------------------------------------------

export const HOSTING_ERROR_CODES = [
  /** The API token (or an upload JWT) was refused: a configuration problem, never retried. */
  "HOSTING_AUTH",
  /** Cloudflare said 429, or our own request budget would have to wait longer than allowed. */
  "HOSTING_RATE_LIMITED",
  /** 5xx or network failure after the bounded retries: try again later; nothing was half-deployed. */
  "HOSTING_UNAVAILABLE",
  /** Cloudflare refused the request as invalid (a 4xx other than 401/403/404/429). */
  "HOSTING_REJECTED",
  /** The caller asked for something no provider accepts (bad name, tags, manifest): a bug upstream. */
  "HOSTING_INVALID_INPUT",
  /** Reading a file's bytes failed, or they did not match the manifest's size and hash. */
  "HOSTING_SOURCE_FAILED",
  /** Cloudflare answered 2xx with something that does not follow its documented shape. */
  "HOSTING_BAD_RESPONSE",
] as const;

export type HostingErrorCode = (typeof HOSTING_ERROR_CODES)[number];

export interface HostingError {
  readonly code: HostingErrorCode;
  /** For people (CLI, Forge UI, audit log). Never contains a token or a JWT. */
  readonly message: string;
  /** True when the same call may succeed later unchanged (rate limit, outage). */
  readonly retryable: boolean;
  /** The HTTP status that caused it, when there was one. */
  readonly status?: number;
  /** How long Cloudflare (or the budget) asked us to wait, when it said. */
  readonly retryAfterMs?: number;
}

const RETRYABLE: ReadonlySet<HostingErrorCode> = new Set(["HOSTING_RATE_LIMITED", "HOSTING_UNAVAILABLE"]);

export function hostingError(
  code: HostingErrorCode,
  message: string,
  extra: { readonly status?: number; readonly retryAfterMs?: number } = {},
): HostingError {
  return {
    code,
    message,
    retryable: RETRYABLE.has(code),
    ...(extra.status === undefined ? {} : { status: extra.status }),
    ...(extra.retryAfterMs === undefined ? {} : { retryAfterMs: extra.retryAfterMs }),
  };
}

/** Every provider method answers with a value, never by throwing for an expected failure. */
export type HostingResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: HostingError };

export function ok<T>(value: T): HostingResult<T> {
  return { ok: true, value };
}

export function fail<T = never>(error: HostingError): HostingResult<T> {
  return { ok: false, error };
}

// --- Requests and reports ---------------------------------------------------------------------

/**
 * What happens to a request that matches no file (Workers Static Assets `not_found_handling`,
 * developers.cloudflare.com/workers/static-assets/routing): the site's SPA fallback to `/index.html`,
 * its own `404.html`, or a bare 404.
 */
export type NotFoundHandling = "single-page-application" | "404-page" | "none";

/** Workers Static Assets `html_handling` (trailing slashes and `.html` resolution); Cloudflare's default is `auto-trailing-slash`. */
export type HtmlHandling = "auto-trailing-slash" | "force-trailing-slash" | "drop-trailing-slash" | "none";

export interface StaticAssetsConfig {
  readonly notFoundHandling: NotFoundHandling;
  readonly htmlHandling?: HtmlHandling;
}

export interface UploadProgress {
  /** `session`: asking which files are new; `upload`: sending them; `deploy`: writing the Worker. */
  readonly phase: "session" | "upload" | "deploy";
  /** Distinct contents to send in this publish (files the host already has are not counted). */
  readonly filesTotal: number;
  readonly filesDone: number;
  readonly bytesTotal: number;
  readonly bytesDone: number;
}

export interface CreateWorkerRequest {
  /** The user Worker's name: `workerNameFor(siteId, version)`. */
  readonly name: string;
  /** Every hosted file of the version (paths unique, no leading slash). */
  readonly files: readonly ManifestEntry[];
  /**
   * The bytes of one file, read when (and only when) the host does not have its content yet. Called
   * at most once per distinct hash per attempt; the bytes are dropped once sent.
   */
  readFile(entry: ManifestEntry): Promise<Uint8Array>;
  /** Exactly one `tenant-…` tag, usually a `site-…` tag; at most `MAX_WORKER_TAGS`. */
  readonly tags: readonly string[];
  readonly assets: StaticAssetsConfig;
  readonly onProgress?: (progress: UploadProgress) => void;
}

/** What a `createWorker` did: the numbers a benchmark or a test asserts ("one file changed ⇒ one uploaded"). */
export interface UploadReport {
  readonly name: string;
  /** Entries in the manifest. */
  readonly files: number;
  /** Distinct contents sent (one multipart part each): files with equal bytes and extension share one. */
  readonly uploadedFiles: number;
  readonly uploadedBytes: number;
  /** Manifest entries whose content the host already had, so they were neither read nor sent. */
  readonly skippedFiles: number;
  /** HTTP requests made, retries included (0 for in-memory providers). */
  readonly requests: number;
}

export interface HostedWorker {
  readonly name: string;
  readonly tags: readonly string[];
}

export interface HostingProvider {
  /**
   * Creates (or replaces) the user Worker `name` serving exactly `files`. On failure nothing new is
   * servable: a previous Worker of that name, if any, is left as it was.
   */
  createWorker(request: CreateWorkerRequest): Promise<HostingResult<UploadReport>>;
  exists(name: string): Promise<HostingResult<boolean>>;
  /** Every Worker carrying `tag`, and no other. */
  listByTag(tag: string): Promise<HostingResult<readonly HostedWorker[]>>;
  /** Idempotent: deleting a Worker that is not there answers `{ deleted: false }`. */
  delete(name: string): Promise<HostingResult<{ readonly deleted: boolean }>>;
  /** Deletes every Worker carrying `tag` (a tenant purge, a site delete). */
  deleteByTag(tag: string): Promise<HostingResult<void>>;
}

// --- Validation shared by every implementation ----------------------------------------------

/** Cloudflare allows at most eight tags per script (DESIGN §8; WfP "Tags", developers.cloudflare.com/cloudflare-for-platforms/workers-for-platforms/configuration/tags). */
export const MAX_WORKER_TAGS = 8;
/** Cloudflare refuses an asset over 25 MiB (developers.cloudflare.com/workers/platform/limits; wrangler MAX_ASSET_SIZE). */
export const MAX_ASSET_BYTES = 25 * 1024 * 1024;
export const TENANT_TAG_PREFIX = "tenant-";

/**
 * Script names: lowercase letters, digits and dashes, at most 63 (a DNS label, as `workerNameFor`
 * makes them). Anything else could smuggle `/`, `?` or `..` into an API path.
 */
const WORKER_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/**
 * Tags travel in `?tags=<tag>:yes[,<tag>:no]`: a `,` or `:` in a tag would rewrite the filter (a
 * "tenant-a:no" tag could turn a purge of one tenant into a purge of all others).
 */
const TAG = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ASSET_HASH = /^[0-9a-f]{32}$/;

export function validateWorkerName(name: string): HostingError | undefined {
  return WORKER_NAME.test(name)
    ? undefined
    : hostingError("HOSTING_INVALID_INPUT", `"${name}" is not a valid Worker name (a-z, 0-9, "-", ≤ 63).`);
}

export function validateTag(tag: string): HostingError | undefined {
  return TAG.test(tag)
    ? undefined
    : hostingError("HOSTING_INVALID_INPUT", `"${tag}" is not a valid tag (a-z, 0-9, "-", ≤ 63).`);
}

export function validateCreateRequest(request: CreateWorkerRequest): HostingError | undefined {
  const nameError = validateWorkerName(request.name);
  if (nameError) return nameError;
  if (request.tags.length > MAX_WORKER_TAGS)
    return hostingError("HOSTING_INVALID_INPUT", `A Worker has at most ${MAX_WORKER_TAGS} tags.`);
  for (const tag of request.tags) {
    const tagError = validateTag(tag);
    if (tagError) return tagError;
  }
  if (new Set(request.tags).size !== request.tags.length)
    return hostingError("HOSTING_INVALID_INPUT", "A tag is listed twice.");
  const tenantTags = request.tags.filter((tag) => tag.startsWith(TENANT_TAG_PREFIX));
  if (tenantTags.length !== 1)
    return hostingError(
      "HOSTING_INVALID_INPUT",
      `A Worker carries exactly one "${TENANT_TAG_PREFIX}…" tag (it has ${tenantTags.length}).`,
    );
  if (request.files.length === 0)
    return hostingError("HOSTING_INVALID_INPUT", "A version with no files cannot be hosted.");
  const paths = new Set<string>();
  for (const file of request.files) {
    if (file.path === "" || file.path.startsWith("/") || paths.has(file.path))
      return hostingError("HOSTING_INVALID_INPUT", `"${file.path}" is empty, absolute or listed twice.`);
    paths.add(file.path);
    if (!ASSET_HASH.test(file.hash))
      return hostingError("HOSTING_INVALID_INPUT", `"${file.path}" has no 32-hex-character hash.`);
    if (!Number.isSafeInteger(file.size) || file.size < 0 || file.size > MAX_ASSET_BYTES)
      return hostingError("HOSTING_INVALID_INPUT", `"${file.path}" is larger than 25 MiB or has no size.`);
  }
  return undefined;
}

/**
 * Reads one file and checks it against its manifest entry. The hash is checked, not only the size:
 * hosts deduplicate by hash, so bytes uploaded under a wrong hash would be served to every site that
 * later publishes the content the hash names.
 */
export async function readVerified(
  request: CreateWorkerRequest,
  entry: ManifestEntry,
): Promise<HostingResult<Uint8Array>> {
  let bytes: Uint8Array;
  try {
    bytes = await request.readFile(entry);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return fail(hostingError("HOSTING_SOURCE_FAILED", `Could not read "${entry.path}": ${reason}`));
  }
  if (bytes.length !== entry.size || (await assetHash(entry.path, bytes)) !== entry.hash)
    return fail(
      hostingError(
        "HOSTING_SOURCE_FAILED",
        `"${entry.path}" does not match its manifest entry (size or hash).`,
      ),
    );
  return ok(bytes);
}
