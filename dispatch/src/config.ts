/**
 * The gateway's configuration, read once per env object and kept (env is stable per isolate), with
 * everything derived from it alone (the CSP, the injected script) built at the same time, so a
 * request pays one WeakMap lookup for all of it.
 *
 * Every value that ends up in a header is checked here, so a var with a `;`, a comma or a line
 * break can never add a CSP directive or a header: such a deployment refuses to serve (fail closed)
 * and says which variable is wrong.
 */

import type { DispatchEnv } from "./env.ts";
import { bootstrapScript } from "./inject.ts";

/** DESIGN §3 Serve: the default CDN allow-list (jsDelivr, unpkg, cdnjs, Google Fonts). */
export const DEFAULT_CDN_ALLOW_LIST: readonly string[] = [
  "https://cdn.jsdelivr.net",
  "https://unpkg.com",
  "https://cdnjs.cloudflare.com",
  "https://fonts.googleapis.com",
  "https://fonts.gstatic.com",
];

/**
 * A tenant's allow-list change reaches a viewer within this long (plus Workers KV's own propagation,
 * docs/security.md): long enough that a busy isolate reads KV once per tenant per half minute, short
 * enough that an admin sees the change in about a minute.
 */
export const DEFAULT_TENANT_CSP_CACHE_SECONDS = 30;
/** Upper bound for TENANT_CSP_CACHE_SECONDS: a removed source must not live on for long. */
export const MAX_TENANT_CSP_CACHE_SECONDS = 300;

/** With no EMBED_ANCESTORS nobody may frame a site: refusing to render beats rendering anywhere. */
export const DEFAULT_EMBED_ANCESTORS: readonly string[] = ["'none'"];

export interface GatewayConfig {
  /** Lowercase, no leading dot. */
  readonly sitesDomain: string;
  /** Host name (no port) of DISPATCH_BASE_URL, or undefined when unset. */
  readonly gatewayHost: string | undefined;
  readonly embedAncestors: readonly string[];
  /** A serialized origin (`https://x.example`), or undefined: then links are not forwarded. */
  readonly embedOrigin: string | undefined;
  readonly cdnAllowList: readonly string[];
  readonly connectAllowList: readonly string[];
  /** How long an isolate keeps a tenant's allow-lists before reading them again (tenant-csp.ts). */
  readonly tenantCspCacheSeconds: number;
  /** The full Content-Security-Policy value, built once. */
  readonly csp: string;
  /** The `<script>` element injected into HTML documents (inject.ts), built once. */
  readonly bootstrapScript: string;
}

export type ConfigState =
  | { readonly ok: true; readonly config: GatewayConfig }
  | { readonly ok: false; readonly variable: string; readonly message: string };

/** A CSP source expression: printable ASCII, no whitespace, `;` or `,` (CSP3 §2.2.1 separators). */
const CSP_SOURCE = /^[\x21-\x2b\x2d-\x3a\x3c-\x7e]+$/;
/** A host name: lowercase DNS labels. */
const DOMAIN = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function sources(value: unknown, fallback: readonly string[]): readonly string[] | undefined {
  if (typeof value !== "string" || value.trim() === "") return fallback;
  const list = value.trim().split(/[ \t]+/);
  return list.every((source) => CSP_SOURCE.test(source)) ? list : undefined;
}

/**
 * TENANT_CSP_CACHE_SECONDS: a whole number 0–MAX (0 reads KV on every site request: tests only).
 * Unlike the CSP variables it cannot widen a policy, so an unusable value takes the default instead
 * of refusing to serve.
 */
function cacheSeconds(value: unknown): number {
  if (typeof value !== "string" || !/^[0-9]{1,6}$/.test(value.trim()))
    return DEFAULT_TENANT_CSP_CACHE_SECONDS;
  const seconds = Number(value.trim());
  return seconds <= MAX_TENANT_CSP_CACHE_SECONDS ? seconds : DEFAULT_TENANT_CSP_CACHE_SECONDS;
}

/** The sources a policy is built from (a config, or a config with a tenant's lists added). */
export type CspSources = Pick<GatewayConfig, "cdnAllowList" | "connectAllowList" | "embedAncestors">;

export function contentSecurityPolicy(c: CspSources): string {
  const cdn = c.cdnAllowList.join(" ");
  const join = (...parts: string[]) => parts.filter((part) => part !== "").join(" ");
  return [
    "default-src 'self'",
    join("script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:", cdn),
    join("style-src 'self' 'unsafe-inline'", cdn),
    join("img-src 'self' data: blob:", cdn),
    join("font-src 'self' data:", cdn),
    join("connect-src 'self'", c.connectAllowList.join(" ")),
    "media-src 'self' data: blob:",
    "worker-src 'self' blob:",
    "frame-src 'self' blob: data:",
    "form-action 'self'",
    "base-uri 'self'",
    "object-src 'none'",
    `frame-ancestors ${c.embedAncestors.join(" ")}`,
  ].join("; ");
}

function parse(env: DispatchEnv): ConfigState {
  const bad = (variable: string, message: string): ConfigState => ({ ok: false, variable, message });
  const sitesDomain = typeof env.SITES_DOMAIN === "string" ? env.SITES_DOMAIN.trim().toLowerCase() : "";
  if (!DOMAIN.test(sitesDomain))
    return bad("SITES_DOMAIN", "SITES_DOMAIN must be a host name, e.g. sites.example.");

  let gatewayHost: string | undefined;
  if (typeof env.DISPATCH_BASE_URL === "string" && env.DISPATCH_BASE_URL.trim() !== "") {
    const url = URL.parse(env.DISPATCH_BASE_URL.trim());
    if (url === null || (url.protocol !== "https:" && url.protocol !== "http:")) {
      return bad("DISPATCH_BASE_URL", "DISPATCH_BASE_URL must be an http(s) URL.");
    }
    gatewayHost = url.hostname;
  }

  let embedOrigin: string | undefined;
  if (typeof env.EMBED_ORIGIN === "string" && env.EMBED_ORIGIN.trim() !== "") {
    const url = URL.parse(env.EMBED_ORIGIN.trim());
    if (url === null || url.origin === "null") return bad("EMBED_ORIGIN", "EMBED_ORIGIN must be an origin.");
    embedOrigin = url.origin;
  }

  const embedAncestors = sources(env.EMBED_ANCESTORS, DEFAULT_EMBED_ANCESTORS);
  if (!embedAncestors) return bad("EMBED_ANCESTORS", "EMBED_ANCESTORS must be space-separated CSP sources.");
  const cdnAllowList = sources(env.CDN_ALLOW_LIST, DEFAULT_CDN_ALLOW_LIST);
  if (!cdnAllowList) return bad("CDN_ALLOW_LIST", "CDN_ALLOW_LIST must be space-separated CSP sources.");
  const connectAllowList = sources(env.CONNECT_ALLOW_LIST, []);
  if (!connectAllowList)
    return bad("CONNECT_ALLOW_LIST", "CONNECT_ALLOW_LIST must be space-separated CSP sources.");

  const partial = {
    sitesDomain,
    gatewayHost,
    embedAncestors,
    embedOrigin,
    cdnAllowList,
    connectAllowList,
    tenantCspCacheSeconds: cacheSeconds(env.TENANT_CSP_CACHE_SECONDS),
  };
  return {
    ok: true,
    config: {
      ...partial,
      csp: contentSecurityPolicy(partial),
      bootstrapScript: bootstrapScript(embedOrigin),
    },
  };
}

const cache = new WeakMap<object, ConfigState>();

export function readConfig(env: DispatchEnv): ConfigState {
  let state = cache.get(env);
  if (state === undefined) {
    state = parse(env);
    cache.set(env, state);
  }
  return state;
}

/** Headers for responses sent before the config could be read: no frame may show them. */
export const FALLBACK_CSP = contentSecurityPolicy({
  embedAncestors: ["'none'"],
  cdnAllowList: [],
  connectAllowList: [],
});
