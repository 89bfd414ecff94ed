/**
 * The deployment the workerd tests run against, shared by vitest.config.ts (Node: which user Workers
 * to start) and the tests (workerd: which grants to mint). Pure values, no I/O.
 */

import {
  type SiteId,
  siteIdFromBytes,
  type TenantShortId,
  tenantShortIdFromBytes,
  workerNameFor,
} from "@mini-sites/core";

/** Test-only deployment secrets (≥ 32 bytes); "other" plays a sibling deployment with its own key. */
export const TEST_APP_PID = "mini-sites-test";
export const TEST_APP_PSK = "test-only-psk-0123456789abcdefghijklmnopqrstuvwxyz";
export const OTHER_APP_PSK = "other-deployment-psk-0123456789abcdefghijklmnopq";

export const SITES_DOMAIN = "localhost";
export const DISPATCH_HOST = "gw.localhost";
export const EMBED_ORIGIN = "http://localhost:8788";
export const EMBED_ANCESTORS = "http://localhost:8788 https://*.atlassian.net";

export const SITE_A: SiteId = siteIdFromBytes(new Uint8Array([1, 1, 1, 1, 1, 1, 1, 1]));
export const SITE_B: SiteId = siteIdFromBytes(new Uint8Array([2, 2, 2, 2, 2, 2, 2, 2]));
/** A site with a valid id and no user Worker at all. */
export const SITE_GONE: SiteId = siteIdFromBytes(new Uint8Array([3, 3, 3, 3, 3, 3, 3, 3]));
export const TENANT: TenantShortId = tenantShortIdFromBytes(new Uint8Array([9, 9, 9]));

/** User Workers in the namespace stand-in: fixture folder → Worker name. */
export const USER_WORKERS = [
  { folder: "site-a-v1", name: workerNameFor(SITE_A, 1), notFoundHandling: "404-page" },
  { folder: "site-a-v2", name: workerNameFor(SITE_A, 2), notFoundHandling: "none" },
  { folder: "site-b-v1", name: workerNameFor(SITE_B, 1), notFoundHandling: "single-page-application" },
] as const;
