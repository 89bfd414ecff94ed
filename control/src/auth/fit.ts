/**
 * Forge Invocation Token (FIT) verification: the only way a Confluence user or the Forge app reaches
 * the control Worker (DESIGN §6 invariants 2–4, §8).
 *
 * Threat model, in the order the checks run:
 * - Anonymous callers send anything: size cap, then shape, then jose with RS256 as the only algorithm
 *   (`none`, HS/RS confusion, ES/PS all refused before a key is chosen), the key chosen by `kid` from
 *   Forge's key set only (jwks.ts: cached, cooldowns, outage ⇒ deny).
 * - A real FIT for another app (a sibling app on the same site, or any Forge app at all — every Forge
 *   app's FITs are signed by the same keys): `aud` and `app.id` must both name an app in
 *   ALLOWED_FORGE_APP_IDS.
 * - Stale or replayed FITs: `exp`/`nbf`/`iat` with a small tolerance and an age ceiling.
 * - Tenant confusion: the tenant is derived from signed claims only (`app.id`, `app.installationId`,
 *   `context.cloudId`); this module never sees the request, so no parameter or header can change it.
 * - Over-trusting context: Forge documents `accountId` (our `principal`) and the installation context
 *   as the fields safe for authorization (developer.atlassian.com/platform/forge/app-context-security);
 *   page fields (`content`, `space`, `localId`, `isEditing`) are signed but not documented as
 *   permission-checked (Forge RFC-138 separates "trusted" from frontend context). So ForgeContext keeps
 *   them under `page`, and a route may use them only to find a binding and then must check the user's
 *   permission on that page with the user's own token (DESIGN §6 invariant 4) — never authorize on them
 *   alone, and never on `isEditing`.
 */

import { ACCOUNT_ID_PATTERN, base64urlDecode } from "@mini-sites/core";
import { errors, jwtVerify } from "jose";
import { isLoopbackHost } from "../http.ts";
import {
  FIT_ALGORITHMS,
  FIT_CLOCK_TOLERANCE_SECONDS,
  FORGE_APP_ARI_PREFIX,
  FORGE_FIT_ISSUER,
  FORGE_INSTALLATION_ARI_PREFIX,
  FORGE_PRODUCTION_JWKS_URL,
  MAX_CLAIM_ID_LENGTH,
  MAX_FIT_AGE_SECONDS,
  MAX_FIT_BYTES,
} from "./constants.ts";
import { type AuthErrorCode, type AuthResult, denied } from "./errors.ts";
import {
  createForgeKeySet,
  type ForgeKeySet,
  type ForgeKeySetOptions,
  JwksUnavailableError,
} from "./jwks.ts";

// --- Configuration ------------------------------------------------------------------------------

export interface FitEnv {
  readonly FORGE_JWKS_URL?: unknown;
  readonly ALLOWED_FORGE_APP_IDS?: unknown;
}

export interface FitConfig {
  readonly jwksUrl: string;
  /** Bare app ids (the `<uuid>` of `ari:cloud:ecosystem::app/<uuid>`). Never empty. */
  readonly allowedAppIds: readonly string[];
}

export type FitConfigState =
  | { readonly status: "ready"; readonly config: FitConfig }
  | { readonly status: "invalid"; readonly variable: keyof FitEnv; readonly message: string };

/** Ids we put into tenant keys: no `:` or `/`, so `forge:<app>:<installation>:<cloud>` parses one way. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function isId(value: unknown): value is string {
  return typeof value === "string" && value.length <= MAX_CLAIM_ID_LENGTH && ID_PATTERN.test(value);
}

/** `<uuid>` or `ari:cloud:ecosystem::app/<uuid>` → `<uuid>`; anything else → undefined. */
export function bareAppId(value: string): string | undefined {
  const id = value.startsWith(FORGE_APP_ARI_PREFIX) ? value.slice(FORGE_APP_ARI_PREFIX.length) : value;
  return isId(id) ? id : undefined;
}

/** HTTPS anywhere; plain HTTP only to loopback (the dev stand-ins), never across a network. */
function isAcceptableUrl(text: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.username !== "" || url.password !== "") return undefined;
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && isLoopbackHost(url.hostname)) return url;
  return undefined;
}

/** Reads the FIT configuration from a Worker env. Never throws. */
export function readFitConfig(env: FitEnv): FitConfigState {
  const rawUrl = typeof env.FORGE_JWKS_URL === "string" ? env.FORGE_JWKS_URL.trim() : "";
  const jwksUrl = rawUrl === "" ? FORGE_PRODUCTION_JWKS_URL : rawUrl;
  if (isAcceptableUrl(jwksUrl) === undefined) {
    return {
      status: "invalid",
      variable: "FORGE_JWKS_URL",
      message: "FORGE_JWKS_URL must be an https URL (plain http is accepted for loopback only).",
    };
  }
  const rawIds = typeof env.ALLOWED_FORGE_APP_IDS === "string" ? env.ALLOWED_FORGE_APP_IDS : "";
  const entries = rawIds
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  if (entries.length === 0) {
    return {
      status: "invalid",
      variable: "ALLOWED_FORGE_APP_IDS",
      message:
        "ALLOWED_FORGE_APP_IDS is not set, so no Forge Invocation Token can be accepted. Set it to the Forge app " +
        "id(s) this deployment serves (comma-separated; `<uuid>` or `ari:cloud:ecosystem::app/<uuid>`).",
    };
  }
  const ids: string[] = [];
  for (const entry of entries) {
    const id = bareAppId(entry);
    if (id === undefined) {
      return {
        status: "invalid",
        variable: "ALLOWED_FORGE_APP_IDS",
        message: "ALLOWED_FORGE_APP_IDS has an entry that is neither an app id nor an app ARI.",
      };
    }
    if (!ids.includes(id)) ids.push(id);
  }
  return { status: "ready", config: { jwksUrl, allowedAppIds: ids } };
}

export class FitConfigError extends Error {
  readonly variable: keyof FitEnv;
  constructor(state: Extract<FitConfigState, { status: "invalid" }>) {
    super(state.message);
    this.name = "FitConfigError";
    this.variable = state.variable;
  }
}

/** For start-up code that should refuse to run misconfigured. */
export function requireFitConfig(env: FitEnv): FitConfig {
  const state = readFitConfig(env);
  if (state.status === "ready") return state.config;
  throw new FitConfigError(state);
}

// --- The verified context -----------------------------------------------------------------------

declare const forgeTenantKeyBrand: unique symbol;
/**
 * `forge:<appId>:<installationId>:<cloudId>`, every part from signed claims. Obtain one only from a
 * verified FIT (or `forgeTenantKey` for tests and migrations), never from request input.
 */
export type ForgeTenantKey = string & { readonly [forgeTenantKeyBrand]: true };

export function forgeTenantKey(appId: string, installationId: string, cloudId: string): ForgeTenantKey {
  for (const part of [appId, installationId, cloudId]) {
    if (!isId(part)) throw new RangeError("tenant key parts are ids without ':' or '/'");
  }
  return `forge:${appId}:${installationId}:${cloudId}` as ForgeTenantKey;
}

/**
 * Page-bound fields. Signed by Forge, but not documented as permission-checked: use them to find a
 * macro binding, then authorize with a Confluence permission check made with the user's own token.
 */
export interface ForgePageContext {
  readonly siteUrl?: string;
  readonly moduleKey?: string;
  readonly localId?: string;
  readonly extensionType?: string;
  readonly content?: { readonly id: string; readonly type: string };
  readonly spaceKey?: string;
  /** Whether the macro is rendered in the editor. A UI hint only: it grants nothing. */
  readonly isEditing: boolean;
}

export interface ForgeContext {
  readonly tenantKey: ForgeTenantKey;
  /** Bare app id. */
  readonly appId: string;
  /** Bare installation id. */
  readonly installationId: string;
  readonly cloudId: string;
  /** Where this installation's product APIs live (`{apiBaseUrl}/wiki/api/v2/…`). */
  readonly apiBaseUrl: string;
  readonly environment?: { readonly type: string; readonly id: string };
  /**
   * `app.license`: present only for paid apps in the PRODUCTION environment (Forge remote contract,
   * developer.atlassian.com/platform/forge/remote/essentials). Absent = not licensed through the
   * Marketplace at all (development, staging, free) — which is not the same as inactive.
   */
  readonly license?: { readonly isActive: boolean; readonly isEvaluation?: boolean };
  /** The Atlassian account id of the user; absent when a Forge function (not a UI) invoked us. */
  readonly accountId?: string;
  /** False when the FIT carries no `context` at all (a Forge function's invokeRemote, DESIGN §8). */
  readonly hasContext: boolean;
  readonly page: ForgePageContext;
  /** `jti`, for audit and replay analysis. */
  readonly tokenId?: string;
  /** `exp`, seconds since the epoch. */
  readonly expiresAt: number;
}

// --- Verification -------------------------------------------------------------------------------

export interface FitVerifier {
  /** `token` is the bearer value alone (no `Bearer `). */
  verify(token: string): Promise<AuthResult<ForgeContext>>;
}

export interface FitVerifierOptions extends ForgeKeySetOptions {
  /** Reuse a key set (and its cache) across verifiers; one is made from `config.jwksUrl` otherwise. */
  readonly keySet?: ForgeKeySet;
}

/** base64url segments: header.payload.signature (the signature may be empty, so `alg:none` gets its own code). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function createFitVerifier(config: FitConfig, options: FitVerifierOptions = {}): FitVerifier {
  const keySet = options.keySet ?? createForgeKeySet(config.jwksUrl, options);
  const now = options.now ?? Date.now;
  const audiences = config.allowedAppIds.map((id) => FORGE_APP_ARI_PREFIX + id);

  return {
    async verify(token) {
      if (typeof token !== "string" || token === "") return denied("AUTH_MISSING");
      if (token.length > MAX_FIT_BYTES) return denied("AUTH_TOO_LARGE");
      if (!COMPACT_JWS.test(token)) return denied("AUTH_MALFORMED");
      // One spelling per token: base64url with non-zero trailing bits decodes to the same bytes as the
      // canonical text, so without this a signature's last character could be altered and still verify.
      if (token.split(".").some((segment) => base64urlDecode(segment) === undefined)) {
        return denied("AUTH_MALFORMED");
      }
      let payload: Record<string, unknown>;
      try {
        const result = await jwtVerify(token, keySet, {
          algorithms: [...FIT_ALGORITHMS],
          issuer: FORGE_FIT_ISSUER,
          audience: audiences,
          clockTolerance: FIT_CLOCK_TOLERANCE_SECONDS,
          maxTokenAge: MAX_FIT_AGE_SECONDS,
          requiredClaims: ["exp", "iat"],
          currentDate: new Date(now()),
        });
        if (typeof result.protectedHeader.kid !== "string") return denied("AUTH_UNKNOWN_KEY");
        payload = result.payload as Record<string, unknown>;
      } catch (error) {
        return denied(codeForJoseError(error));
      }
      return readForgeClaims(payload, config.allowedAppIds);
    },
  };
}

/** Maps jose's (and our key set's) errors to codes. Unknown errors deny as malformed, never allow. */
function codeForJoseError(error: unknown): AuthErrorCode {
  if (error instanceof JwksUnavailableError) return "AUTH_JWKS_UNAVAILABLE";
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid)
    return "AUTH_JWKS_UNAVAILABLE";
  if (error instanceof errors.JOSEAlgNotAllowed) return "AUTH_ALGORITHM_NOT_ALLOWED";
  if (error instanceof errors.JWKSNoMatchingKey) return "AUTH_UNKNOWN_KEY";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "AUTH_BAD_SIGNATURE";
  if (error instanceof errors.JWTExpired) return "AUTH_EXPIRED";
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === "missing") return "AUTH_MALFORMED";
    switch (error.claim) {
      case "iss":
        return "AUTH_WRONG_ISSUER";
      case "aud":
        return "AUTH_WRONG_APP";
      case "nbf":
      case "iat":
        return error.reason === "check_failed" ? "AUTH_NOT_YET_VALID" : "AUTH_MALFORMED";
      default:
        return "AUTH_MALFORMED";
    }
  }
  return "AUTH_MALFORMED";
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function optionalString(value: unknown, max = MAX_CLAIM_ID_LENGTH): string | undefined | null {
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" && value.length <= max ? value : null;
}

/** Content and space ids are numbers in some Confluence payloads and strings in others. */
function idLike(value: unknown): string | undefined | null {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return String(value);
  return isId(value) ? value : null;
}

/** `/ex/confluence/<cloudId>` in an apiBaseUrl (api.atlassian.com/ex/confluence/<cloudId>). */
function cloudIdInApiBaseUrl(url: URL): string | undefined {
  const match = /^\/ex\/[a-z]+\/([^/]+)\/?$/.exec(url.pathname);
  return match?.[1];
}

/**
 * Turns verified claims into a ForgeContext. Signature, issuer, audience and times are already
 * checked; this checks the claims Forge's contract promises and that we build the tenant from.
 */
function readForgeClaims(
  payload: Record<string, unknown>,
  allowedAppIds: readonly string[],
): AuthResult<ForgeContext> {
  const app = asObject(payload.app);
  if (app === undefined || typeof app.id !== "string") return denied("AUTH_MALFORMED");
  // `aud` was checked against the allow-list by jose; `app.id` must name the same single app.
  if (typeof payload.aud !== "string" || payload.aud !== app.id) return denied("AUTH_WRONG_APP");
  const appId = bareAppId(app.id);
  if (appId === undefined || !app.id.startsWith(FORGE_APP_ARI_PREFIX) || !allowedAppIds.includes(appId)) {
    return denied("AUTH_WRONG_APP");
  }

  if (typeof app.installationId !== "string") return denied("AUTH_MALFORMED");
  const installationId = app.installationId.startsWith(FORGE_INSTALLATION_ARI_PREFIX)
    ? app.installationId.slice(FORGE_INSTALLATION_ARI_PREFIX.length)
    : app.installationId;
  if (!isId(installationId)) return denied("AUTH_MALFORMED");

  if (typeof app.apiBaseUrl !== "string" || app.apiBaseUrl.length > 2048) return denied("AUTH_MALFORMED");
  const apiBaseUrl = isAcceptableUrl(app.apiBaseUrl);
  if (apiBaseUrl === undefined) return denied("AUTH_MALFORMED");

  let environment: ForgeContext["environment"];
  const env = asObject(app.environment);
  if (env !== undefined) {
    const type = optionalString(env.type);
    const id = optionalString(env.id);
    if (type === null || id === null) return denied("AUTH_MALFORMED");
    if (type !== undefined && id !== undefined) environment = { type, id };
  } else if (app.environment !== undefined) {
    return denied("AUTH_MALFORMED");
  }

  let license: ForgeContext["license"];
  const rawLicense = asObject(app.license);
  if (rawLicense !== undefined) {
    if (typeof rawLicense.isActive !== "boolean") return denied("AUTH_MALFORMED");
    license = {
      isActive: rawLicense.isActive,
      ...(typeof rawLicense.isEvaluation === "boolean" ? { isEvaluation: rawLicense.isEvaluation } : {}),
    };
  } else if (app.license !== undefined && app.license !== null) {
    return denied("AUTH_MALFORMED");
  }

  let accountId: string | undefined;
  if (payload.principal !== undefined && payload.principal !== null) {
    if (!isAccountId(payload.principal)) return denied("AUTH_MALFORMED");
    accountId = payload.principal;
  }

  const context = asObject(payload.context);
  if (context === undefined && payload.context !== undefined && payload.context !== null) {
    return denied("AUTH_MALFORMED");
  }

  // The cloud: `context.cloudId` when the FIT has context; a Forge function's FIT has none, and then
  // the cloud comes from the installation's signed apiBaseUrl. When both exist they must agree.
  const urlCloudId = cloudIdInApiBaseUrl(apiBaseUrl);
  let cloudId: string | undefined;
  if (context?.cloudId !== undefined) {
    if (!isId(context.cloudId)) return denied("AUTH_MALFORMED");
    if (urlCloudId !== undefined && urlCloudId !== context.cloudId) return denied("AUTH_MALFORMED");
    cloudId = context.cloudId;
  } else {
    cloudId = urlCloudId !== undefined && isId(urlCloudId) ? urlCloudId : undefined;
  }
  if (cloudId === undefined) return denied("AUTH_MALFORMED");

  const page = readPageContext(context);
  if (page === null) return denied("AUTH_MALFORMED");

  const tokenId = optionalString(payload.jti);
  if (tokenId === null) return denied("AUTH_MALFORMED");

  return {
    ok: true,
    value: {
      tenantKey: forgeTenantKey(appId, installationId, cloudId),
      appId,
      installationId,
      cloudId,
      apiBaseUrl: app.apiBaseUrl.replace(/\/+$/, ""),
      ...(environment === undefined ? {} : { environment }),
      ...(license === undefined ? {} : { license }),
      ...(accountId === undefined ? {} : { accountId }),
      hasContext: context !== undefined,
      page,
      ...(tokenId === undefined ? {} : { tokenId }),
      expiresAt: payload.exp as number,
    },
  };
}

/** Atlassian account ids (core ACCOUNT_ID_PATTERN): `557058:…` or 24 hex characters. */
function isAccountId(value: unknown): value is string {
  return typeof value === "string" && ACCOUNT_ID_PATTERN.test(value);
}

function readPageContext(context: Record<string, unknown> | undefined): ForgePageContext | null {
  if (context === undefined) return { isEditing: false };
  const siteUrl = optionalString(context.siteUrl, 2048);
  const moduleKey = optionalString(context.moduleKey);
  const localId = optionalString(context.localId);
  if (siteUrl === null || moduleKey === null || localId === null) return null;
  const extension = asObject(context.extension);
  if (extension === undefined && context.extension !== undefined && context.extension !== null) return null;

  let extensionType: string | undefined;
  let content: ForgePageContext["content"];
  let spaceKey: string | undefined;
  let isEditing = false;
  if (extension !== undefined) {
    const type = optionalString(extension.type);
    if (type === null) return null;
    extensionType = type;
    const rawContent = asObject(extension.content);
    if (rawContent !== undefined) {
      const id = idLike(rawContent.id);
      const contentType = optionalString(rawContent.type);
      if (id === null || contentType === null) return null;
      if (id !== undefined && contentType !== undefined) content = { id, type: contentType };
    }
    const space = asObject(extension.space);
    if (space !== undefined) {
      const key = optionalString(space.key);
      if (key === null) return null;
      spaceKey = key;
    }
    if (extension.isEditing !== undefined && typeof extension.isEditing !== "boolean") return null;
    isEditing = extension.isEditing === true;
  }
  return {
    ...(siteUrl === undefined ? {} : { siteUrl }),
    ...(moduleKey === undefined ? {} : { moduleKey }),
    ...(localId === undefined ? {} : { localId }),
    ...(extensionType === undefined ? {} : { extensionType }),
    ...(content === undefined ? {} : { content }),
    ...(spaceKey === undefined ? {} : { spaceKey }),
    isEditing,
  };
}

// --- One verifier per configuration per isolate ---------------------------------------------------

/**
 * Verifiers (and so their key caches) live as long as the isolate. Keyed by configuration, so a Worker
 * whose env changes between deployments never mixes key sets. A handful of entries at most.
 */
const verifiers = new Map<string, FitVerifier>();

/** The FIT verifier for this env, or the configuration problem that makes every FIT be denied. */
export function fitVerifierFor(
  env: FitEnv,
): { readonly verifier: FitVerifier } | { readonly problem: Extract<FitConfigState, { status: "invalid" }> } {
  const state = readFitConfig(env);
  if (state.status !== "ready") return { problem: state };
  const key = `${state.config.jwksUrl}\n${state.config.allowedAppIds.join(",")}`;
  let verifier = verifiers.get(key);
  if (verifier === undefined) {
    verifier = createFitVerifier(state.config);
    verifiers.set(key, verifier);
  }
  return { verifier };
}
