/**
 * FITs shaped like Forge's (DESIGN §8; Forge remote contract, developer.atlassian.com/platform/forge/
 * remote/essentials; the `app` block as the Forge invocation-context API returns it): `iss`
 * `forge/invocation-token`, `aud` and `app.id` the app's ARI, `app.installationId` the installation's
 * ARI, `app.apiBaseUrl`, `app.environment`, `context` for UI calls (absent for a Forge function's
 * invokeRemote), `principal` (the user's account id; absent for functions), ~5 minute life.
 */

import { randomUUID } from "node:crypto";
import type { JWTPayload } from "jose";
import type { FitSigner } from "./signer.ts";

export const FORGE_FIT_ISSUER = "forge/invocation-token";
export const APP_ARI_PREFIX = "ari:cloud:ecosystem::app/";
export const INSTALLATION_ARI_PREFIX = "ari:cloud:ecosystem::installation/";
export const ENVIRONMENT_ARI_PREFIX = "ari:cloud:ecosystem::environment/";
export const DEFAULT_FIT_TTL_SECONDS = 5 * 60;

/** The Confluence macro's side of a UI call. */
export interface FitPageContext {
  readonly localId?: string;
  readonly moduleKey?: string;
  readonly siteUrl?: string;
  /** Defaults to "macro". */
  readonly extensionType?: string;
  readonly content?: { readonly id: string; readonly type: string };
  readonly space?: { readonly key: string; readonly id?: string };
  readonly isEditing?: boolean;
}

export interface FitClaimsInput {
  /** Bare app id (uuid); the FIT carries `ari:cloud:ecosystem::app/<appId>`. */
  readonly appId: string;
  /** Bare installation id (uuid). */
  readonly installationId: string;
  readonly cloudId: string;
  /** Defaults to Forge's `https://api.atlassian.com/ex/confluence/<cloudId>`; the dev stack passes its Confluence stand-in. */
  readonly apiBaseUrl?: string;
  readonly environment?: { readonly type: string; readonly id: string };
  /**
   * `app.license`, as Forge sends it for a paid app in PRODUCTION (omit for development, staging, free
   * apps). Lets the dev stack and tests toggle the license.
   */
  readonly license?: { readonly isActive: boolean };
  /** The user's account id; omit for a Forge function's call (no principal). */
  readonly principal?: string;
  /** The page side; `null` for a Forge function's call (no context at all). */
  readonly context?: FitPageContext | null;
}

export interface SignFitOptions {
  /** Milliseconds since the epoch; defaults to now. */
  readonly now?: number;
  readonly ttlSeconds?: number;
}

/** The claims Forge would sign for `input` (exported so tests can alter one field and re-sign). */
export function forgeFitPayload(input: FitClaimsInput, options: SignFitOptions = {}): JWTPayload {
  const issuedAt = Math.floor((options.now ?? Date.now()) / 1000);
  const appAri = APP_ARI_PREFIX + input.appId;
  const page = input.context === undefined ? {} : input.context;
  const payload: JWTPayload = {
    iss: FORGE_FIT_ISSUER,
    aud: appAri,
    iat: issuedAt,
    nbf: issuedAt,
    exp: issuedAt + (options.ttlSeconds ?? DEFAULT_FIT_TTL_SECONDS),
    jti: randomUUID(),
    app: {
      id: appAri,
      installationId: INSTALLATION_ARI_PREFIX + input.installationId,
      apiBaseUrl: input.apiBaseUrl ?? `https://api.atlassian.com/ex/confluence/${input.cloudId}`,
      environment: input.environment ?? {
        type: "DEVELOPMENT",
        id: `${ENVIRONMENT_ARI_PREFIX}${input.appId}/00000000-0000-4000-8000-000000000001`,
      },
      ...(page?.moduleKey === undefined ? {} : { module: { key: page.moduleKey, type: "xen:macro" } }),
      ...(input.license === undefined ? {} : { license: { ...input.license } }),
    },
  };
  if (page !== null) {
    payload.context = {
      cloudId: input.cloudId,
      ...(page.localId === undefined ? {} : { localId: page.localId }),
      ...(page.moduleKey === undefined ? {} : { moduleKey: page.moduleKey }),
      ...(page.siteUrl === undefined ? {} : { siteUrl: page.siteUrl }),
      extension: {
        type: page.extensionType ?? "macro",
        ...(page.content === undefined ? {} : { content: { ...page.content } }),
        ...(page.space === undefined ? {} : { space: { ...page.space } }),
        isEditing: page.isEditing ?? false,
      },
    };
  }
  if (input.principal !== undefined) payload.principal = input.principal;
  return payload;
}

/** A FIT for `input`, signed by the stand-in's key. */
export function signFit(
  signer: FitSigner,
  input: FitClaimsInput,
  options: SignFitOptions = {},
): Promise<string> {
  return signer.signPayload(forgeFitPayload(input, options));
}

/**
 * The dev stack's default Forge app and installation (stable, so `dev.json`, persisted data and FITs
 * minted before a restart keep naming the same tenant). `ALLOWED_FORGE_APP_IDS` must list `appId`.
 */
export const DEV_FORGE_INSTALLATION = {
  appId: "de7f0a9e-0000-4000-8000-00000000f0a1",
  installationId: "de7f0a9e-0000-4000-8000-00000000f1a2",
  cloudId: "de7fc10d-0000-4000-8000-00000000c1d3",
} as const;
