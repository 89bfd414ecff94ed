/**
 * What the control Worker is given (wrangler-control.toml). Bindings are typed with the small
 * interfaces in db/d1.ts and below rather than @cloudflare/workers-types globals, so the same code
 * typechecks for workerd and for Node (dev stack, tests). ONE definition per binding: the publish
 * pipeline, the Macro API and the Workflow all take this env.
 */

import type { IdentityEnv } from "@mini-sites/core";
import type { D1Database } from "./db/d1.ts";
import type { BudgetNamespace } from "./hosting/budget.ts";
import type { MonitorVars } from "./monitors/config.ts";
import type { PrivacyVars } from "./privacy/report.ts";
import type { PublishVars } from "./publish/config.ts";

// --- R2 (shapes follow @cloudflare/workers-types; only the calls this Worker makes) ---------------

export interface R2Object {
  readonly key: string;
  readonly size: number;
}

export interface R2ObjectBody extends R2Object {
  readonly body: ReadableStream<Uint8Array>;
  arrayBuffer(): Promise<ArrayBuffer>;
  text(): Promise<string>;
}

export interface R2UploadedPart {
  partNumber: number;
  etag: string;
}

export interface R2MultipartUpload {
  readonly key: string;
  readonly uploadId: string;
  uploadPart(partNumber: number, value: Uint8Array | ArrayBuffer | string): Promise<R2UploadedPart>;
  complete(parts: R2UploadedPart[]): Promise<R2Object>;
  abort(): Promise<void>;
}

/**
 * The BUNDLES bucket: uploads as received, archived files and manifests, editor uploads — all under
 * `t/<tenant>/` (publish/r2.ts has the layout). Ranged GETs let the core read a zip without the
 * Worker ever holding it whole; multipart uploads let a body stream in one part at a time.
 */
export interface R2Bucket {
  head(key: string): Promise<R2Object | null>;
  get(key: string, options?: { range?: { offset: number; length: number } }): Promise<R2ObjectBody | null>;
  put(
    key: string,
    value: Uint8Array | ArrayBuffer | string | ReadableStream<Uint8Array>,
    options?: { httpMetadata?: { contentType?: string } },
  ): Promise<R2Object | null>;
  delete(keys: string | string[]): Promise<void>;
  list(options?: { prefix?: string; cursor?: string; limit?: number }): Promise<{
    objects: R2Object[];
    truncated: boolean;
    cursor?: string;
  }>;
  createMultipartUpload(key: string): Promise<R2MultipartUpload>;
  resumeMultipartUpload(key: string, uploadId: string): R2MultipartUpload;
}

// --- Workers KV ---------------------------------------------------------------------------------------

/** A Workers KV namespace (a subset of workers-types `KVNamespace`: the calls this Worker makes). */
export interface KvNamespace {
  get(key: string, options: { type: "text" }): Promise<string | null>;
  put(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
}

/** The part of a Workers KV binding site-feeds.ts calls: KvNamespace's, plus listing by prefix. */
export interface SiteFeedStore extends KvNamespace {
  list(options: { prefix: string; cursor?: string }): Promise<{
    keys: readonly { name: string }[];
    list_complete: boolean;
    cursor?: string;
  }>;
}

// --- Workflows and services --------------------------------------------------------------------------

/** The ProvisionVersion Workflow binding (a subset of workers-types `Workflow`). */
export interface WorkflowBinding<Params = unknown> {
  create(options?: { id?: string; params?: Params }): Promise<{ readonly id: string }>;
  get(id: string): Promise<WorkflowInstance>;
}

export interface WorkflowInstance {
  readonly id: string;
  status(): Promise<{ status: string; error?: unknown }>;
  restart(): Promise<void>;
  terminate(): Promise<void>;
}

/** A Worker-to-Worker binding (service binding or workerd `external` service). */
export interface Fetcher {
  fetch(input: Request | string | URL, init?: RequestInit): Promise<Response>;
}

export interface ControlEnv extends IdentityEnv, PublishVars, PrivacyVars, MonitorVars {
  readonly DB: D1Database;
  readonly BUNDLES: R2Bucket;
  /**
   * Each tenant's CSP allow-lists for the dispatch Worker, which reads the same namespace
   * (tenant-csp.ts). Saving allow-lists answers NOT_CONFIGURED without it.
   */
  readonly TENANT_CSP?: KvNamespace;
  /**
   * The tenants' monitor feeds and the versions that opted in to read them, for the dispatch Worker,
   * which reads the same namespace (site-feeds.ts). A publish with `statusFeed` answers NOT_CONFIGURED
   * without it; the feed is then simply not copied.
   */
  readonly SITE_FEEDS?: SiteFeedStore;
  readonly PROVISION_VERSION?: WorkflowBinding;
  /**
   * The Cloudflare API budget shared by every call of this Worker (hosting/budget-object.ts): one
   * Durable Object per provisioning token. Provisioning refuses to run without it.
   */
  readonly CLOUDFLARE_API_BUDGET?: BudgetNamespace;
  /**
   * The dispatch Worker, for smoke checks. Production: a `[[services]]` binding (no DNS, no public
   * round trip). Dev and tests: a fetcher that forwards to the gateway's loopback address keeping the
   * `s-<site>.localhost:<port>` Host, which Node's resolver could not resolve. Unset: the smoke check
   * fetches the public site URL.
   */
  readonly DISPATCH?: Fetcher;
  readonly WFP_ACCOUNT_ID?: string;
  readonly WFP_NAMESPACE?: string;
  /**
   * Atlassian's API base for the personal data reporting API (privacy/report.ts); default
   * https://api.atlassian.com. The dev stack points it at its Atlassian stand-in.
   */
  readonly ATLASSIAN_API_BASE_URL?: string;
  /** The WfP REST API base; default Cloudflare's. The dev stack points it at its stand-in. */
  readonly CLOUDFLARE_API_BASE_URL?: string;
  /** The dispatch Worker's own origin; view URLs and smoke checks go through it. */
  readonly DISPATCH_BASE_URL?: string;
  /** Sites live at `s-<siteId>.<SITES_DOMAIN>`. */
  readonly SITES_DOMAIN?: string;
  /** Comma-separated Forge app ids accepted in a FIT's `aud`. */
  readonly ALLOWED_FORGE_APP_IDS?: string;
  readonly FORGE_JWKS_URL?: string;
  /**
   * "true" in the dev stack only: plain http to loopback for the Confluence API base URL (the
   * stand-in) and for `*.localhost` site origins (grants.ts). Unset in staging and production.
   */
  readonly DEV_ALLOW_LOOPBACK_HTTP?: string;
  /** Secret: the Cloudflare API token for the dispatch namespace. */
  readonly WFP_API_TOKEN_PROVISIONING?: string;
  /** Secret: CI / smoke tests only. */
  readonly CONTROL_SHARED_SECRET?: string;
}

/** Secrets whose presence (never value) `/.well-known/mini-sites` reports, for `mini-sites doctor`. */
export const CONTROL_SECRETS = ["WFP_API_TOKEN_PROVISIONING", "CONTROL_SHARED_SECRET"] as const;
