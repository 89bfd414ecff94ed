/**
 * The Workers for Platforms REST client: one assets-only user Worker per site version, uploaded the
 * way wrangler uploads `wrangler deploy --dispatch-namespace <ns> --assets <dir>` (DESIGN §8,
 * TOOLCHAIN "What wrangler sends"), so the local stand-in and Cloudflare see the same requests.
 *
 * 1. `POST …/dispatch/namespaces/{ns}/scripts/{name}/assets-upload-session` with the manifest
 *    `{"/path": {hash, size}}` → `{jwt, buckets}`: Cloudflare answers with the hashes it does not have
 *    yet, in buckets; empty buckets ⇒ `jwt` is already the completion token
 *    (developers.cloudflare.com/workers/static-assets/direct-upload).
 * 2. Per bucket, `POST …/workers/assets/upload?base64=true` authorized by the session JWT (never the
 *    API token), multipart with one part per file named by its hash, base64 value, part type = the
 *    type the file is served with; the upload that completes the set answers 201 with the completion
 *    JWT (valid 1 h). Only the files Cloudflare asked for are read: a re-publish that changed one
 *    file reads and sends one file.
 * 3. `PUT …/dispatch/namespaces/{ns}/scripts/{name}` multipart with only `metadata` = `{assets: {jwt,
 *    config}, compatibility_date, tags}`: for a Worker without a user script wrangler sends no
 *    `main_module`, no module part and no bindings (createWorkerUploadForm, wrangler
 *    deploy-helpers); tags ride in the metadata as the WfP tags guide allows
 *    (developers.cloudflare.com/cloudflare-for-platforms/workers-for-platforms/configuration/tags).
 *
 * Invariant 5 (no half state): the script PUT is the only step that makes anything servable, and it is
 * sent only after every upload succeeded. Invariant 7: the API token and JWTs live only in
 * `Authorization` headers; error messages are redacted.
 */

import type { ManifestEntry } from "@mini-sites/core";
import { encodeBase64 } from "./base64.ts";
import { type RequestBudget, UNLIMITED_BUDGET } from "./budget.ts";
import {
  type CreateWorkerRequest,
  fail,
  type HostedWorker,
  type HostingError,
  type HostingProvider,
  type HostingResult,
  hostingError,
  ok,
  readVerified,
  type UploadReport,
  validateCreateRequest,
  validateTag,
  validateWorkerName,
} from "./provider.ts";
import {
  backoffDelayMs,
  MAX_ATTEMPTS,
  MAX_RETRY_AFTER_MS,
  parseRetryAfterMs,
  REQUEST_TIMEOUT_MS,
} from "./retry.ts";

/**
 * Buckets uploaded at once. wrangler uses 3 (BULK_UPLOAD_CONCURRENCY, deploy-helpers
 * src/deploy/helpers/assets.ts); more would mostly spend the shared request budget faster.
 */
export const UPLOAD_CONCURRENCY = 3;
/**
 * Raw bytes of buckets in flight at once. A Worker isolate has 128 MB; a bucket is held as base64
 * (4/3 of its size) inside a FormData while it is sent, so 3 large buckets could exhaust it. A bucket
 * larger than this is still sent, alone.
 */
export const MAX_IN_FLIGHT_UPLOAD_BYTES = 24 * 1024 * 1024;
/** The date the user Workers run against; assets-only Workers run no code of ours, so it rarely matters. */
export const DEFAULT_COMPATIBILITY_DATE = "2026-11-01";
/** Longest human message taken from a Cloudflare error body. */
const MAX_MESSAGE_CHARS = 400;
/** wrangler: a falsy part type becomes application/octet-stream; `application/null` means "send no Content-Type" (direct-upload docs). */
const NO_CONTENT_TYPE = "application/null";

export interface CloudflareWfPConfig {
  /** Base such that `${apiBaseUrl}/accounts/…` are API paths: `https://api.cloudflare.com/client/v4`. */
  readonly apiBaseUrl: string;
  readonly accountId: string;
  readonly namespace: string;
  readonly apiToken: string;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  /** In [0, 1); for backoff jitter. */
  readonly random?: () => number;
  /** Shared by every provider using this token. Defaults to none (tests, dev). */
  readonly budget?: RequestBudget;
  readonly compatibilityDate?: string;
  readonly uploadConcurrency?: number;
}

interface Envelope {
  readonly success?: boolean;
  readonly errors?: readonly { readonly code?: number; readonly message?: string }[];
  readonly result?: unknown;
  readonly result_info?: {
    readonly page?: number;
    readonly per_page?: number;
    readonly total_count?: number;
  };
}

interface ApiCall {
  /** Names the step in error messages: "asset upload session". */
  readonly what: string;
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  readonly url: string;
  /** The bearer credential: the API token, or an asset-upload JWT. */
  readonly bearer: string;
  readonly body?: string | FormData;
  readonly json?: boolean;
  /** Answer 404 as a value instead of an error (exists, delete). */
  readonly notFoundIsAnswer?: boolean;
}

interface ApiAnswer {
  readonly status: number;
  readonly envelope: Envelope;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class CloudflareWfPProvider implements HostingProvider {
  readonly #config: CloudflareWfPConfig;
  readonly #fetch: typeof fetch;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #budget: RequestBudget;
  readonly #base: string;

  constructor(config: CloudflareWfPConfig) {
    this.#config = config;
    // Bound so a bare `fetch` is never called with a foreign `this` (workerd throws "Illegal invocation").
    this.#fetch = config.fetch ?? ((input, init) => fetch(input, init));
    this.#sleep = config.sleep ?? defaultSleep;
    this.#now = config.now ?? Date.now;
    this.#random = config.random ?? Math.random;
    this.#budget = config.budget ?? UNLIMITED_BUDGET;
    const base = config.apiBaseUrl.replace(/\/+$/, "");
    this.#base = `${base}/accounts/${encodeURIComponent(config.accountId)}`;
  }

  #scriptsUrl(name?: string): string {
    const ns = `${this.#base}/workers/dispatch/namespaces/${encodeURIComponent(this.#config.namespace)}/scripts`;
    return name === undefined ? ns : `${ns}/${encodeURIComponent(name)}`;
  }

  async createWorker(request: CreateWorkerRequest): Promise<HostingResult<UploadReport>> {
    const invalid = validateCreateRequest(request);
    if (invalid) return fail(invalid);
    let requests = 0;
    const counted = async (call: ApiCall) => {
      const answer = await this.#call(call);
      requests += answer.requests;
      return answer.result;
    };

    // 1. Which contents does Cloudflare not have yet?
    request.onProgress?.({ phase: "session", filesTotal: 0, filesDone: 0, bytesTotal: 0, bytesDone: 0 });
    const manifest: Record<string, { hash: string; size: number }> = {};
    for (const file of request.files) manifest[`/${file.path}`] = { hash: file.hash, size: file.size };
    const session = await counted({
      what: "asset upload session",
      method: "POST",
      url: `${this.#scriptsUrl(request.name)}/assets-upload-session`,
      bearer: this.#config.apiToken,
      body: JSON.stringify({ manifest }),
      json: true,
    });
    if (!session.ok) return session;
    const parsed = parseSession(session.value.envelope.result, request.files);
    if (!parsed.ok) return parsed;
    const { jwt: sessionJwt, buckets } = parsed.value;

    // 2. Upload what it asked for, a few buckets at a time.
    const uploads = await this.#uploadBuckets(request, sessionJwt, buckets, (n) => {
      requests += n;
    });
    if (!uploads.ok) return uploads;
    const { completionJwt, uploadedFiles, uploadedBytes } = uploads.value;

    // 3. Only now write the Worker: this is what makes the version servable.
    request.onProgress?.({
      phase: "deploy",
      filesTotal: uploadedFiles,
      filesDone: uploadedFiles,
      bytesTotal: uploadedBytes,
      bytesDone: uploadedBytes,
    });
    const form = new FormData();
    form.set(
      "metadata",
      JSON.stringify({
        compatibility_date: this.#config.compatibilityDate ?? DEFAULT_COMPATIBILITY_DATE,
        assets: {
          jwt: completionJwt,
          config: {
            not_found_handling: request.assets.notFoundHandling,
            ...(request.assets.htmlHandling ? { html_handling: request.assets.htmlHandling } : {}),
          },
        },
        tags: request.tags,
      }),
    );
    // wrangler's query: `excludeScript` keeps the script out of the answer, `bindings_inherit=strict`
    // refuses to carry over bindings of a previous upload of the same name.
    const put = await counted({
      what: "Worker upload",
      method: "PUT",
      url: `${this.#scriptsUrl(request.name)}?excludeScript=true&bindings_inherit=strict`,
      bearer: this.#config.apiToken,
      body: form,
    });
    if (!put.ok) return put;

    const uploadedHashes = new Set(buckets.flat());
    return ok({
      name: request.name,
      files: request.files.length,
      uploadedFiles,
      uploadedBytes,
      skippedFiles: request.files.filter((file) => !uploadedHashes.has(file.hash)).length,
      requests,
    });
  }

  async #uploadBuckets(
    request: CreateWorkerRequest,
    sessionJwt: string,
    buckets: readonly (readonly string[])[],
    countRequests: (n: number) => void,
  ): Promise<
    HostingResult<{
      readonly completionJwt: string;
      readonly uploadedFiles: number;
      readonly uploadedBytes: number;
    }>
  > {
    const byHash = new Map<string, ManifestEntry>();
    for (const file of request.files) if (!byHash.has(file.hash)) byHash.set(file.hash, file);
    const work = buckets
      .map((hashes) => {
        const entries = [...new Set(hashes)].map((hash) => byHash.get(hash) as ManifestEntry);
        return { entries, bytes: entries.reduce((sum, entry) => sum + entry.size, 0) };
      })
      .filter((bucket) => bucket.entries.length > 0);
    const filesTotal = work.reduce((sum, bucket) => sum + bucket.entries.length, 0);
    const bytesTotal = work.reduce((sum, bucket) => sum + bucket.bytes, 0);
    if (filesTotal === 0) return ok({ completionJwt: sessionJwt, uploadedFiles: 0, uploadedBytes: 0 });

    let filesDone = 0;
    let bytesDone = 0;
    let completionJwt = "";
    let failure: HostingError | undefined;
    let inFlightBytes = 0;
    let waiting: (() => void)[] = [];
    const release = () => {
      const wake = waiting;
      waiting = [];
      for (const resume of wake) resume();
    };
    request.onProgress?.({ phase: "upload", filesTotal, filesDone, bytesTotal, bytesDone });

    const next = work.slice();
    const runner = async (): Promise<void> => {
      while (failure === undefined) {
        const bucket = next[0];
        if (!bucket) return;
        if (inFlightBytes > 0 && inFlightBytes + bucket.bytes > MAX_IN_FLIGHT_UPLOAD_BYTES) {
          await new Promise<void>((resume) => waiting.push(resume));
          continue;
        }
        next.shift();
        inFlightBytes += bucket.bytes;
        let result: HostingResult<{ readonly jwt: string | undefined }>;
        try {
          result = await this.#uploadBucket(request, sessionJwt, bucket.entries, countRequests);
        } finally {
          inFlightBytes -= bucket.bytes;
          release();
        }
        if (!result.ok) {
          failure ??= result.error;
          return;
        }
        if (result.value.jwt) completionJwt = result.value.jwt;
        filesDone += bucket.entries.length;
        bytesDone += bucket.bytes;
        request.onProgress?.({ phase: "upload", filesTotal, filesDone, bytesTotal, bytesDone });
      }
    };
    const concurrency = Math.max(
      1,
      Math.min(this.#config.uploadConcurrency ?? UPLOAD_CONCURRENCY, work.length),
    );
    await Promise.all(Array.from({ length: concurrency }, runner));
    if (failure) return fail(failure);
    if (!completionJwt)
      return fail(
        hostingError("HOSTING_BAD_RESPONSE", "Cloudflare accepted every asset but sent no completion token."),
      );
    return ok({ completionJwt, uploadedFiles: filesTotal, uploadedBytes: bytesTotal });
  }

  async #uploadBucket(
    request: CreateWorkerRequest,
    sessionJwt: string,
    entries: readonly ManifestEntry[],
    countRequests: (n: number) => void,
  ): Promise<HostingResult<{ readonly jwt: string | undefined }>> {
    // Read once per bucket, reused by every retry: a retry never re-reads R2.
    const form = new FormData();
    for (const entry of entries) {
      const bytes = await readVerified(request, entry);
      if (!bytes.ok) return bytes;
      const type = entry.contentType || NO_CONTENT_TYPE;
      form.append(entry.hash, new Blob([encodeBase64(bytes.value)], { type }), entry.hash);
    }
    const answer = await this.#call({
      what: "asset upload",
      method: "POST",
      url: `${this.#base}/workers/assets/upload?base64=true`,
      bearer: sessionJwt,
      body: form,
    });
    countRequests(answer.requests);
    if (!answer.result.ok) return answer.result;
    const result = answer.result.value.envelope.result as { jwt?: unknown } | null | undefined;
    return ok({ jwt: typeof result?.jwt === "string" && result.jwt !== "" ? result.jwt : undefined });
  }

  async exists(name: string): Promise<HostingResult<boolean>> {
    const invalid = validateWorkerName(name);
    if (invalid) return fail(invalid);
    const answer = await this.#call({
      what: "Worker lookup",
      method: "GET",
      url: this.#scriptsUrl(name),
      bearer: this.#config.apiToken,
      notFoundIsAnswer: true,
    });
    return answer.result.ok ? ok(answer.result.value.status !== 404) : answer.result;
  }

  async listByTag(tag: string): Promise<HostingResult<readonly HostedWorker[]>> {
    const invalid = validateTag(tag);
    if (invalid) return fail(invalid);
    const workers: HostedWorker[] = [];
    for (let page = 1; ; page++) {
      const query = new URLSearchParams({ tags: `${tag}:yes` });
      if (page > 1) query.set("page", String(page));
      const answer = await this.#call({
        what: "Worker listing",
        method: "GET",
        url: `${this.#scriptsUrl()}?${query}`,
        bearer: this.#config.apiToken,
      });
      if (!answer.result.ok) return answer.result;
      const { envelope } = answer.result.value;
      if (!Array.isArray(envelope.result))
        return fail(hostingError("HOSTING_BAD_RESPONSE", "Cloudflare's Worker listing has no list."));
      for (const item of envelope.result as unknown[]) {
        const script = item as { id?: unknown; tags?: unknown };
        if (typeof script.id !== "string") continue;
        const tags = Array.isArray(script.tags)
          ? script.tags.filter((t) => typeof t === "string")
          : undefined;
        // Defence in depth for tenant isolation: when Cloudflare says which tags a Worker has, a
        // Worker without the tag asked for is never reported, whatever the filter did.
        if (tags && !tags.includes(tag)) continue;
        workers.push({ name: script.id, tags: tags ?? [tag] });
      }
      // Follow pages only while Cloudflare says there are more and echoes the page we asked for, so
      // an answer that ignores `page` cannot keep us listing (and spending the budget) forever.
      const info = envelope.result_info;
      const more =
        info?.page === page &&
        info.per_page !== undefined &&
        info.total_count !== undefined &&
        info.page * info.per_page < info.total_count &&
        envelope.result.length > 0;
      if (!more) return ok(workers);
    }
  }

  async delete(name: string): Promise<HostingResult<{ readonly deleted: boolean }>> {
    const invalid = validateWorkerName(name);
    if (invalid) return fail(invalid);
    const answer = await this.#call({
      what: "Worker delete",
      method: "DELETE",
      url: this.#scriptsUrl(name),
      bearer: this.#config.apiToken,
      notFoundIsAnswer: true,
    });
    return answer.result.ok ? ok({ deleted: answer.result.value.status !== 404 }) : answer.result;
  }

  async deleteByTag(tag: string): Promise<HostingResult<void>> {
    const invalid = validateTag(tag);
    if (invalid) return fail(invalid);
    const answer = await this.#call({
      what: "Worker delete by tag",
      method: "DELETE",
      url: `${this.#scriptsUrl()}?${new URLSearchParams({ tags: `${tag}:yes` })}`,
      bearer: this.#config.apiToken,
      notFoundIsAnswer: true,
    });
    return answer.result.ok ? ok(undefined) : answer.result;
  }

  /**
   * One API call with the budget, bounded retries and typed errors. Every attempt reserves a budget
   * slot first. Retried: network errors and timeouts, 5xx, 429. Never retried: other 4xx.
   */
  async #call(
    call: ApiCall,
  ): Promise<{ readonly result: HostingResult<ApiAnswer>; readonly requests: number }> {
    let requests = 0;
    let lastError: HostingError | undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const slot = await this.#budget.reserve();
      if (!slot.granted) {
        const seconds = Math.ceil(slot.retryAfterMs / 1000);
        return {
          result: fail(
            hostingError(
              "HOSTING_RATE_LIMITED",
              `The Cloudflare API budget for this account is used up; try again in ${seconds} s.`,
              { retryAfterMs: slot.retryAfterMs },
            ),
          ),
          requests,
        };
      }
      if (slot.waitMs > 0) await this.#sleep(slot.waitMs);

      requests++;
      let response: Response;
      try {
        response = await this.#fetch(call.url, {
          method: call.method,
          headers: {
            Authorization: `Bearer ${call.bearer}`,
            ...(call.json ? { "Content-Type": "application/json" } : {}),
          },
          ...(call.body === undefined ? {} : { body: call.body }),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
      } catch (error) {
        const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        lastError = hostingError(
          "HOSTING_UNAVAILABLE",
          this.#redact(`Cloudflare ${call.what} failed: ${reason}`),
        );
        if (attempt + 1 < MAX_ATTEMPTS) await this.#sleep(backoffDelayMs(attempt, this.#random));
        continue;
      }

      const envelope = await readEnvelope(response);
      const status = response.status;
      if (status >= 200 && status < 300) {
        if (envelope === undefined || envelope.success === false) {
          return {
            result: fail(
              hostingError(
                "HOSTING_BAD_RESPONSE",
                `Cloudflare's answer to the ${call.what} is not its API envelope.`,
                {
                  status,
                },
              ),
            ),
            requests,
          };
        }
        return { result: ok({ status, envelope }), requests };
      }
      if (status === 404 && call.notFoundIsAnswer)
        return { result: ok({ status, envelope: envelope ?? {} }), requests };

      const detail = this.#redact(describeErrors(envelope));
      if (status === 429 || status >= 500) {
        const retryAfterMs = parseRetryAfterMs(response.headers.get("Retry-After"), this.#now());
        if (status === 429) {
          // The token is blocked for every caller, not just this one: tell the shared budget.
          if (retryAfterMs !== undefined) await this.#budget.pause(retryAfterMs);
          lastError = hostingError(
            "HOSTING_RATE_LIMITED",
            `Cloudflare is rate-limiting the ${call.what} (429)${detail}.`,
            { status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
          );
        } else {
          lastError = hostingError(
            "HOSTING_UNAVAILABLE",
            `Cloudflare could not complete the ${call.what} (${status})${detail}.`,
            { status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
          );
        }
        if (retryAfterMs !== undefined && retryAfterMs > MAX_RETRY_AFTER_MS)
          return { result: fail(lastError), requests };
        if (attempt + 1 < MAX_ATTEMPTS)
          await this.#sleep(retryAfterMs ?? backoffDelayMs(attempt, this.#random));
        continue;
      }
      const code = status === 401 || status === 403 ? "HOSTING_AUTH" : "HOSTING_REJECTED";
      const message =
        code === "HOSTING_AUTH"
          ? `Cloudflare refused the credentials for the ${call.what} (${status})${detail}. Check the API token's permissions.`
          : `Cloudflare refused the ${call.what} (${status})${detail}.`;
      return { result: fail(hostingError(code, message, { status })), requests };
    }
    return {
      result: fail(
        lastError ??
          hostingError(
            "HOSTING_UNAVAILABLE",
            `Cloudflare ${call.what} failed after ${MAX_ATTEMPTS} attempts.`,
          ),
      ),
      requests,
    };
  }

  /** Invariant 7: no token or JWT in any message, whatever Cloudflare or the network layer echoed. */
  #redact(text: string): string {
    const token = this.#config.apiToken;
    let out = token === "" ? text : text.split(token).join("[redacted]");
    out = out.replace(/eyJ[\w-]*\.[\w-]*\.[\w-]*/g, "[redacted]");
    return out.length > MAX_MESSAGE_CHARS ? `${out.slice(0, MAX_MESSAGE_CHARS)}…` : out;
  }
}

async function readEnvelope(response: Response): Promise<Envelope | undefined> {
  try {
    const body: unknown = await response.json();
    return body !== null && typeof body === "object" ? (body as Envelope) : undefined;
  } catch {
    return undefined;
  }
}

function describeErrors(envelope: Envelope | undefined): string {
  const errors = envelope?.errors ?? [];
  const parts = errors
    .filter((error) => typeof error?.message === "string")
    .map((error) =>
      error.code === undefined ? `${error.message}` : `${error.message} [code ${error.code}]`,
    );
  return parts.length === 0 ? "" : `: ${parts.join("; ")}`;
}

function parseSession(
  result: unknown,
  files: readonly ManifestEntry[],
): HostingResult<{ readonly jwt: string; readonly buckets: readonly (readonly string[])[] }> {
  const session = result as { jwt?: unknown; buckets?: unknown } | null | undefined;
  const bad = (why: string) =>
    fail<{ readonly jwt: string; readonly buckets: readonly (readonly string[])[] }>(
      hostingError("HOSTING_BAD_RESPONSE", `Cloudflare's asset upload session ${why}.`),
    );
  if (typeof session?.jwt !== "string" || session.jwt === "") return bad("has no token");
  const buckets = session.buckets ?? [];
  if (
    !Array.isArray(buckets) ||
    !buckets.every((b) => Array.isArray(b) && b.every((h) => typeof h === "string"))
  )
    return bad("has malformed buckets");
  const known = new Set(files.map((file) => file.hash));
  // wrangler stops with "A file was requested that does not appear to exist": never upload a guess.
  if (!(buckets as string[][]).every((bucket) => bucket.every((hash) => known.has(hash))))
    return bad("asks for a file that is not in the manifest");
  return ok({ jwt: session.jwt, buckets: buckets as string[][] });
}
