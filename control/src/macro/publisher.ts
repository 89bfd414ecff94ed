/**
 * The seam between the Macro API and the publish pipeline (publish/pipeline.ts). An editor upload,
 * once assembled in R2, is published like any other bundle — there is no second door (DESIGN §3
 * Publish) — so the macro only hands over an R2 key and who asked. Tests replace the publisher to
 * observe what the macro asks for without provisioning anything.
 */

import type { SiteId, TenantShortId } from "@mini-sites/core";
import type { ControlEnv } from "../env.ts";

export interface PublishFromR2Request {
  readonly tenant: TenantShortId;
  readonly site: SiteId;
  /** R2 key (in env.BUNDLES) of the assembled bundle: a zip, or a single .html file. */
  readonly key: string;
  /** `forge:<accountId>` — an identifier for audit and `published_by`, never a credential. */
  readonly actor: string;
  /**
   * The editor's status feed choice for this version (the publisher's checkbox); undefined keeps the
   * live version's choice.
   */
  readonly statusFeed?: boolean | undefined;
}

export interface PublishAccepted {
  readonly jobId: string;
  readonly version: number;
  readonly statusUrl: string;
}

export interface MacroPublisher {
  /**
   * Validates, scans, stages and starts provisioning (the same pipeline as `POST /v1/sites/{site}/
   * versions`). Throws ApiError (app/errors.ts): BUNDLE_REJECTED with the core's errors and findings
   * for a refused bundle, RATE_LIMITED, QUOTA_*, … — the macro answers with it unchanged.
   */
  publishFromR2(env: ControlEnv, request: PublishFromR2Request): Promise<PublishAccepted>;
  /**
   * Starts the fork of a copied page's site: a new version of `toSite` with the same content as
   * `fromSite`'s version `version` (the archive is content-addressed, so nothing is re-uploaded), through
   * the same validate → stage → provision job. Optional: without it — or when it answers undefined
   * because the archive is gone — a fork starts empty (see routes.ts, Copy semantics).
   */
  copyVersion?(
    env: ControlEnv,
    request: { tenant: TenantShortId; fromSite: SiteId; version: number; toSite: SiteId; actor: string },
  ): Promise<PublishAccepted | undefined>;
}
