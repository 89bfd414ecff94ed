/**
 * The control API as the CLI and the MCP server see it: one `request` that sends the API token and
 * turns every answer that is not a success into a typed value — `ApiFailure` with the server's code
 * (`control/src/app/errors.ts` is the one table of them), or `Unreachable` with the URL that was
 * tried — so each command says what happened and what to do instead of printing a stack trace.
 */

export interface ApiErrorBody {
  readonly code: string;
  readonly message: string;
  readonly errors?: readonly { code: string; path: string; message: string }[];
  readonly findings?: readonly Record<string, unknown>[];
  readonly detail?: Record<string, unknown>;
  readonly requestId?: string;
}

/** The server answered with `{"error": {...}}`. */
export class ApiFailure extends Error {
  override name = "ApiFailure";
  readonly status: number;
  readonly code: string;
  readonly body: ApiErrorBody;
  readonly retryAfter: number | undefined;
  constructor(status: number, body: ApiErrorBody, retryAfter?: number) {
    super(body.message);
    this.status = status;
    this.code = body.code;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

/** No answer at all: refused, no route, DNS, TLS, a timeout. */
export class Unreachable extends Error {
  override name = "Unreachable";
  readonly url: string;
  constructor(url: string, cause: unknown) {
    const reason = causeOf(cause);
    super(`could not reach ${url}${reason === "" ? "" : ` (${reason})`}`, { cause });
    this.url = url;
  }
}

/** The request was cancelled (Ctrl-C): what was in flight was abandoned. */
export class Cancelled extends Error {
  override name = "Cancelled";
}

/** The most specific reason Node gives: a system error code (ECONNREFUSED, ENOTFOUND), else the innermost message. */
function causeOf(error: unknown): string {
  let current: unknown = error;
  let message = error instanceof Error ? error.message : "";
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return code;
    message = current.message;
    current = current.cause ?? (current instanceof AggregateError ? current.errors[0] : undefined);
  }
  return message;
}

export interface RequestOptions {
  readonly json?: unknown;
  readonly body?: RequestInit["body"];
  readonly headers?: Record<string, string>;
  readonly query?: Record<string, string | number | undefined>;
  readonly signal?: AbortSignal | undefined;
}

export interface ApiClientOptions {
  /** Called with one line per request and answer (`--debug`). */
  readonly trace?: (line: string) => void;
  readonly signal?: AbortSignal | undefined;
  readonly userAgent?: string;
}

export class ApiClient {
  readonly baseUrl: string;
  readonly #token: string;
  readonly #options: ApiClientOptions;

  constructor(baseUrl: string, token: string, options: ApiClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.#token = token;
    this.#options = options;
  }

  url(path: string, query: RequestOptions["query"] = {}): string {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [key, value] of Object.entries(query))
      if (value !== undefined) url.searchParams.set(key, String(value));
    return url.href;
  }

  /** The raw response of a successful request (2xx); failures are thrown as typed errors. */
  async fetch(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const url = this.url(path, options.query);
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#token}`,
      accept: "application/json",
      ...(this.#options.userAgent === undefined ? {} : { "user-agent": this.#options.userAgent }),
      ...(options.json === undefined ? {} : { "content-type": "application/json" }),
      ...options.headers,
    };
    const signal = anySignal(options.signal, this.#options.signal);
    const body = options.json === undefined ? options.body : JSON.stringify(options.json);
    const started = Date.now();
    this.#options.trace?.(`→ ${method} ${url}`);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        // A streamed body (an upload) needs half duplex in Node's fetch.
        ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
        ...(signal === undefined ? {} : { signal }),
      } as RequestInit);
    } catch (error) {
      if (signal?.aborted) throw new Cancelled("cancelled", { cause: error });
      throw new Unreachable(this.baseUrl, error);
    }
    this.#options.trace?.(`← ${response.status} ${method} ${url} (${Date.now() - started} ms)`);
    if (response.ok) return response;
    const text = await response.text().catch(() => "");
    let error: ApiErrorBody | undefined;
    try {
      error = (JSON.parse(text) as { error?: ApiErrorBody }).error;
    } catch {
      error = undefined;
    }
    const retryAfter = Number(response.headers.get("retry-after") ?? Number.NaN);
    throw new ApiFailure(
      response.status,
      error !== undefined && typeof error.code === "string"
        ? error
        : {
            code: `HTTP_${response.status}`,
            message: `${this.baseUrl} answered ${response.status} ${response.statusText} without a Mini-Sites error: is this the control API's URL?`,
          },
      Number.isFinite(retryAfter) ? retryAfter : undefined,
    );
  }

  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.fetch(method, path, options);
    const text = await response.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiFailure(response.status, {
        code: "UNEXPECTED_ANSWER",
        message: `${this.baseUrl} answered ${method} ${path} with something that is not JSON: is this the control API's URL?`,
      });
    }
  }
}

function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  if (present.length <= 1) return present[0];
  return AbortSignal.any(present);
}

// --- The shapes the CLI reads (control/src/routes, GET /v1/openapi.json) -------------------------

export interface Site {
  readonly id: string;
  readonly name: string;
  readonly enabled: boolean;
  readonly liveVersion: number | null;
  readonly notFoundHandling: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface Version {
  readonly number: number;
  readonly status: string;
  readonly failureCode: string | null;
  readonly message: string | null;
  readonly sizeBytes: number;
  readonly fileCount: number;
  readonly publishedBy: string;
  readonly contentHash: string;
  readonly createdAt: string;
  readonly live: boolean;
  /** May read the tenant's monitor feed; absent from servers older than the option. */
  readonly statusFeed?: boolean;
}

export interface Job {
  readonly jobId: string;
  readonly siteId: string;
  readonly version: number;
  readonly kind: string;
  readonly state: "queued" | "running" | "succeeded" | "failed";
  readonly step: string | null;
  readonly progress: number;
  readonly error: { code: string; message: string } | null;
}

export interface Accepted {
  readonly jobId: string;
  readonly version: number;
  readonly siteId: string;
  readonly statusUrl: string;
  readonly replayed?: boolean;
  readonly files?: number;
  readonly bytes?: number;
  readonly externalHosts?: readonly string[];
}

export interface ViewUrl {
  readonly url: string;
  readonly version: number;
  readonly expiresAt: string;
}

export interface WhoAmI {
  readonly tenant: { id: string; cloudId: string; createdAt: string };
  readonly kind: string;
  readonly actor: string;
  readonly scopes: readonly string[];
  readonly token: { id: string; label: string; displayPrefix: string } | null;
}

export interface ApiToken {
  readonly id: string;
  readonly displayPrefix: string;
  readonly label: string;
  readonly scopes: readonly string[];
  readonly createdAt: string;
  readonly createdBy: string | null;
  readonly expiresAt: string | null;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

/** Every page of a cursor listing (`sites`, `versions`, `tokens`). */
export async function allPages<T>(
  api: ApiClient,
  path: string,
  key: string,
  signal?: AbortSignal,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.json<Record<string, unknown> & { nextCursor: string | null }>("GET", path, {
      query: { limit: 100, cursor },
      signal,
    });
    items.push(...((page[key] as T[] | undefined) ?? []));
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return items;
}

/** Polls a job until it ends, reporting each change; ~4 polls a second at first, then one a second. */
export async function followJob(
  api: ApiClient,
  jobId: string,
  onChange: (job: Job) => void,
  signal?: AbortSignal,
): Promise<Job> {
  let last = "";
  for (let poll = 0; ; poll++) {
    const job = await api.json<Job>("GET", `/v1/jobs/${encodeURIComponent(jobId)}`, { signal });
    const seen = `${job.state}/${job.step}/${job.progress}`;
    if (seen !== last) onChange(job);
    last = seen;
    if (job.state === "succeeded" || job.state === "failed") return job;
    await sleep(poll < 20 ? 250 : 1000, signal);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Cancelled("cancelled"));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Cancelled("cancelled"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
