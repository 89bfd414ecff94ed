/**
 * What the control Worker is given (wrangler-control.toml). Bindings are typed with the small
 * interfaces in db/d1.ts and below rather than @cloudflare/workers-types globals, so the same code
 * typechecks for workerd and for Node (dev stack, tests).
 */

import type { IdentityEnv } from "@mini-sites/core";
import type { D1Database } from "./db/d1.ts";

/** The R2 calls the control Worker makes (archived bundles under `t/<tenant>/…`); grows with the publish pipeline. */
export interface R2Bucket {
  head(key: string): Promise<{ readonly key: string; readonly size: number } | null>;
  delete(keys: string | string[]): Promise<void>;
}

/** A Workflow binding (ProvisionVersion); grows with the publish pipeline. */
export interface WorkflowBinding<Params = unknown> {
  create(options?: { id?: string; params?: Params }): Promise<{ readonly id: string }>;
  get(id: string): Promise<{ readonly id: string; status(): Promise<{ status: string }> }>;
}

export interface ControlEnv extends IdentityEnv {
  readonly DB: D1Database;
  readonly BUNDLES: R2Bucket;
  readonly PROVISION_VERSION?: WorkflowBinding;
  readonly WFP_ACCOUNT_ID?: string;
  readonly WFP_NAMESPACE?: string;
  /** The dispatch Worker's own origin; view URLs and smoke checks go through it. */
  readonly DISPATCH_BASE_URL?: string;
  /** Sites live at `s-<siteId>.<SITES_DOMAIN>`. */
  readonly SITES_DOMAIN?: string;
  /** Comma-separated Forge app ids accepted in a FIT's `aud`. */
  readonly ALLOWED_FORGE_APP_IDS?: string;
  readonly FORGE_JWKS_URL?: string;
  /** Secret: the Cloudflare API token for the dispatch namespace. */
  readonly WFP_API_TOKEN_PROVISIONING?: string;
  /** Secret: CI / smoke tests only. */
  readonly CONTROL_SHARED_SECRET?: string;
}

/** Secrets whose presence (never value) `/.well-known/mini-sites` reports, for `mini-sites doctor`. */
export const CONTROL_SECRETS = ["WFP_API_TOKEN_PROVISIONING", "CONTROL_SHARED_SECRET"] as const;
