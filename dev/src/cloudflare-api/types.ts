/**
 * The public shapes of the Cloudflare API stand-in: what `npm run dev` and tests see of it.
 */

/** One entry of an assets manifest: Cloudflare's `{ hash, size }` per `/path`. */
export interface AssetManifestEntry {
  /** 32 lowercase hex characters; opaque to Cloudflare (and to us). */
  readonly hash: string;
  /** Decoded size in bytes. */
  readonly size: number;
}

export type AssetManifest = Readonly<Record<string, AssetManifestEntry>>;

export type HtmlHandling = "auto-trailing-slash" | "force-trailing-slash" | "drop-trailing-slash" | "none";
export type NotFoundHandling = "none" | "404-page" | "single-page-application";

/** `metadata.assets.config` of a script upload, kept as sent (unknown keys included). */
export interface AssetConfig {
  readonly html_handling?: HtmlHandling;
  readonly not_found_handling?: NotFoundHandling;
  readonly [key: string]: unknown;
}

/** A user Worker in the dispatch namespace, materialized on disk and ready to be served. */
export interface NamespaceScript {
  readonly name: string;
  readonly tags: readonly string[];
  readonly assets: { readonly manifest: AssetManifest; readonly config: AssetConfig };
  /** Absolute folder holding every manifest file at its path: serve it with Workers Static Assets. */
  readonly directory: string;
  /** ISO 8601. */
  readonly createdOn: string;
  /** ISO 8601; changes on every successful upload. */
  readonly modifiedOn: string;
  /** Identifies this upload (Cloudflare's `deployment_id` in the PUT answer). */
  readonly versionId: string;
  readonly etag: string;
  readonly compatibilityDate?: string;
  /** Set only for a Worker uploaded with code; Mini-Sites user Workers are assets-only. */
  readonly mainModule?: string;
}

/** Names of the endpoints as counted by the stats and addressed by the fault switch. */
export type EndpointName =
  | "assets-upload-session"
  | "assets-upload"
  | "script-put"
  | "script-get"
  | "script-settings"
  | "script-delete"
  | "script-list"
  | "scripts-delete-by-tag"
  | "namespace-get"
  | "unknown";

export const ENDPOINT_NAMES: readonly EndpointName[] = [
  "assets-upload-session",
  "assets-upload",
  "script-put",
  "script-get",
  "script-settings",
  "script-delete",
  "script-list",
  "scripts-delete-by-tag",
  "namespace-get",
  "unknown",
];

export type FaultStatus = 429 | 500 | 502 | 503;

export interface FaultSpec {
  readonly endpoint: Exclude<EndpointName, "unknown">;
  /** How many of the next calls to that endpoint are affected. Default 1. */
  readonly count?: number;
  /** Answer this status instead of handling the call. Omitted: only delay, then handle normally. */
  readonly status?: FaultStatus;
  /** `Retry-After` header, in seconds (Cloudflare sends it on 429). */
  readonly retryAfter?: number;
  /** Wait this long before answering (or before handling, when no status is set). */
  readonly delayMs?: number;
}

export interface FaultSwitch {
  failNext(spec: FaultSpec): void;
  clear(): void;
  /** Faults still armed, with their remaining counts. */
  pending(): FaultSpec[];
}

export interface RecentCall {
  readonly method: string;
  /** Path and query as received. */
  readonly path: string;
  readonly endpoint: EndpointName;
  readonly status: number;
}

export interface CloudflareApiStats {
  /** Calls per endpoint, including the ones a fault answered (Cloudflare counts those too). */
  readonly requests: Readonly<Record<EndpointName, number>>;
  /** Every call under the API base (what the 1,200 per 5 minutes budget counts). */
  readonly totalRequests: number;
  /** Asset files accepted by `assets/upload` (a re-upload of a stored hash counts again). */
  readonly assetsUploaded: number;
  readonly assetBytesUploaded: number;
  /** The latest calls, oldest first. */
  readonly recent: readonly RecentCall[];
}

export interface CloudflareApiOptions {
  /** Everything the stand-in keeps (assets, scripts, upload sessions) lives under this folder. */
  readonly dataDir: string;
  readonly accountId: string;
  readonly namespace: string;
  /** The API token every non-upload call must present as `Authorization: Bearer …`. */
  readonly apiToken: string;
  /** Loopback port; 0 (the default) picks a free one. */
  readonly port?: number;
  /** HS256 key for upload and completion tokens. Default: a random key persisted in `dataDir`. */
  readonly jwtSecret?: string;
  /**
   * Called with every script after each change (and once at start-up); an upload or delete answers
   * success only after it resolves, so "success" means servable.
   */
  readonly onScriptsChanged?: (scripts: readonly NamespaceScript[]) => Promise<void> | void;
  /** Clock in milliseconds (tests move it to expire tokens). Default `Date.now`. */
  readonly now?: () => number;
  /** Where unknown paths and failures are reported. Default: a line on stderr. */
  readonly log?: (line: string) => void;
}

export interface CloudflareApi {
  /** API base: `${url}/accounts/…` are the API paths, e.g. `http://127.0.0.1:PORT/client/v4`. */
  readonly url: string;
  /** The server root; test-only controls live at `${origin}/__stand-in/…`. */
  readonly origin: string;
  scripts(): NamespaceScript[];
  /** Where the asset with this hash is (or would be) stored. */
  assetPath(hash: string): string;
  readonly faults: FaultSwitch;
  stats(): CloudflareApiStats;
  resetStats(): void;
  close(): Promise<void>;
}
