/**
 * Test helpers: mint grants with this deployment's (or a foreign deployment's) key, and send requests
 * through the real dispatch Worker with the real namespace stand-in behind it.
 */

import { env } from "cloudflare:test";
import {
  KEY_PURPOSE,
  type Keyring,
  keyringFor,
  mintGrant,
  requireIdentity,
  type SiteId,
  type TenantShortId,
} from "@mini-sites/core";
import { expect } from "vitest";
import worker, { type DispatchEnv } from "../../src/index.ts";
import { OTHER_APP_PSK, SITES_DOMAIN, TENANT, TEST_APP_PID, TEST_APP_PSK } from "./fixtures.ts";

export const testEnv: DispatchEnv = env;

let ours: Promise<Keyring> | undefined;
let theirs: Promise<Keyring> | undefined;

export function ourKeyring(): Promise<Keyring> {
  ours ??= keyringFor(requireIdentity({ APP_PID: TEST_APP_PID, APP_PSK: TEST_APP_PSK }), KEY_PURPOSE.grant);
  return ours;
}

export function foreignKeyring(): Promise<Keyring> {
  theirs ??= keyringFor(
    requireIdentity({ APP_PID: TEST_APP_PID, APP_PSK: OTHER_APP_PSK }),
    KEY_PURPOSE.grant,
  );
  return theirs;
}

export interface MintOptions {
  readonly version?: number;
  readonly ttlSeconds?: number;
  /** Unix ms; a past value makes an expired grant. */
  readonly now?: number;
  readonly keyring?: Keyring;
  /** The tenant the grant names (its CSP allow-lists apply); the fixtures' TENANT unless told. */
  readonly tenantId?: TenantShortId;
}

export async function grantFor(siteId: SiteId, options: MintOptions = {}): Promise<string> {
  const keyring = options.keyring ?? (await ourKeyring());
  const minted = await mintGrant(
    keyring,
    {
      siteId,
      version: options.version ?? 1,
      tenantId: options.tenantId ?? TENANT,
      ttlSeconds: options.ttlSeconds,
    },
    options.now ?? Date.now(),
  );
  return minted.text;
}

export const siteOrigin = (siteId: SiteId) => `http://s-${siteId}.${SITES_DOMAIN}:8787`;
export const grantOrigin = (grant: string) => `http://g-${grant}.${SITES_DOMAIN}:8787`;

/** Headers a browser sends for a same-origin subresource fetch. */
export const SAME_ORIGIN_FETCH = {
  "sec-fetch-mode": "cors",
  "sec-fetch-site": "same-origin",
  "sec-fetch-dest": "empty",
};
/** Headers a browser sends for a navigation of a cross-site iframe. */
export const FRAME_NAVIGATION = {
  "sec-fetch-mode": "navigate",
  "sec-fetch-site": "cross-site",
  "sec-fetch-dest": "iframe",
  accept: "text/html,application/xhtml+xml",
};

export function cookieHeader(grant: string): Record<string, string> {
  return { cookie: `__Host-ms=${grant}` };
}

export async function send(
  url: string,
  init: RequestInit = {},
  environment: DispatchEnv = testEnv,
): Promise<Response> {
  return worker.fetch(new Request(url, { redirect: "manual", ...init }), environment);
}

/** The headers DESIGN §3 requires on every response. */
export function expectSecurityHeaders(response: Response): void {
  const csp = response.headers.get("content-security-policy") ?? "";
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("frame-ancestors http://localhost:8788 https://*.atlassian.net");
  expect(csp).toContain("object-src 'none'");
  expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  expect(response.headers.get("referrer-policy")).toBe("no-referrer");
  expect(response.headers.get("cross-origin-resource-policy")).toBe("same-origin");
  expect(response.headers.get("strict-transport-security")).toBe("max-age=31536000");
}
