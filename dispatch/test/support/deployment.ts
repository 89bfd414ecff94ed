/** Grants for Node-side tests, from the same fixtures the workerd tests use. */

import { KEY_PURPOSE, keyringFor, mintGrant, requireIdentity, type SiteId } from "@mini-sites/core";
import { TENANT, TEST_APP_PID, TEST_APP_PSK } from "../workerd/fixtures.ts";

export async function mint(siteId: SiteId, version = 1, ttlSeconds = 600): Promise<string> {
  const keyring = await keyringFor(
    requireIdentity({ APP_PID: TEST_APP_PID, APP_PSK: TEST_APP_PSK }),
    KEY_PURPOSE.grant,
  );
  return (await mintGrant(keyring, { siteId, version, tenantId: TENANT, ttlSeconds }, Date.now())).text;
}
