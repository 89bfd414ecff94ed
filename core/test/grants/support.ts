/** Shared fixtures for the grant and identity tests: deployments, keyrings and ids built for real. */

import { KEY_PURPOSE, type Keyring, keyringFor, requireIdentity } from "../../src/identity/index.ts";
import { parseSiteId, parseTenantShortId, type SiteId, type TenantShortId } from "../../src/ids.ts";

export const PSK = "0123456789abcdef0123456789abcdef-this-deployment";
export const OTHER_PSK = "fedcba9876543210fedcba9876543210-another-deployment";
export const K_GRANT = "legacy-k-grant-0123456789abcdef0123456789abcdef";

export const SITE_A = parseSiteId("aaaaaaaaaaaaa") as SiteId;
export const SITE_B = parseSiteId("b234567bcdefg") as SiteId;
export const TENANT = parseTenantShortId("tnnta") as TenantShortId;

/** 2024-06-01T00:00:00Z, in Unix milliseconds. */
export const NOW = 1_717_200_000_000;

export function sharedKeyring(psk = PSK, pid = "app-1", previous?: string): Promise<Keyring> {
  const env =
    previous === undefined
      ? { APP_PID: pid, APP_PSK: psk }
      : { APP_PID: pid, APP_PSK: psk, APP_PSK_PREVIOUS: previous };
  return keyringFor(requireIdentity(env), KEY_PURPOSE.grant);
}
