/**
 * The dev stack's Forge stand-in (DESIGN §7): its key survives a restart (FITs minted before it still
 * verify after it), stays private to the data folder, and its FITs carry Forge's claim shape.
 */

import { stat } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEV_FORGE_INSTALLATION,
  forgeFitPayload,
  loadOrCreateFitSigner,
  signFit,
  signingKeyPath,
  startForgeJwksServer,
} from "../../../dev/src/forge/index.ts";
import { createFitVerifier } from "../../src/auth/fit.ts";
import { type ForgeStandIn, startForgeStandIn } from "./support.ts";

let forge: ForgeStandIn;
beforeAll(async () => {
  forge = await startForgeStandIn();
});
afterAll(async () => {
  await forge.close();
});

describe("the Forge stand-in", () => {
  it("keeps its key across a restart, so earlier FITs still verify", async () => {
    const token = await signFit(forge.signer, { ...DEV_FORGE_INSTALLATION, principal: "dev-user" });
    const restarted = await loadOrCreateFitSigner(forge.dataDir);
    expect(restarted.kid).toBe(forge.signer.kid);
    const jwks = await startForgeJwksServer(restarted);
    try {
      const verifier = createFitVerifier({
        jwksUrl: jwks.jwksUrl,
        allowedAppIds: [DEV_FORGE_INSTALLATION.appId],
      });
      expect((await verifier.verify(token)).ok).toBe(true);
    } finally {
      await jwks.close();
    }
  });

  it("stores the private key readable by its owner only, and publishes only public members", async () => {
    expect((await stat(signingKeyPath(forge.dataDir))).mode & 0o077).toBe(0);
    const [key] = forge.signer.jwks().keys;
    expect(Object.keys(key ?? {}).sort()).toEqual(["alg", "e", "kid", "kty", "n", "use"]);
  });

  it("serves the key set on loopback at Forge's path only", async () => {
    expect(forge.jwks.jwksUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\.well-known\/jwks\.json$/);
    expect((await fetch(`${forge.jwks.url}/other`)).status).toBe(404);
  });

  it("shapes FITs like Forge's: ARIs, ~5 minute life, context and principal only for UI calls", () => {
    const ui = forgeFitPayload(
      { ...DEV_FORGE_INSTALLATION, principal: "dev-user", context: { localId: "l1" } },
      { now: 1_000_000 },
    );
    expect(ui).toMatchObject({
      iss: "forge/invocation-token",
      aud: `ari:cloud:ecosystem::app/${DEV_FORGE_INSTALLATION.appId}`,
      iat: 1000,
      nbf: 1000,
      exp: 1300,
      principal: "dev-user",
      app: {
        id: `ari:cloud:ecosystem::app/${DEV_FORGE_INSTALLATION.appId}`,
        installationId: `ari:cloud:ecosystem::installation/${DEV_FORGE_INSTALLATION.installationId}`,
        apiBaseUrl: `https://api.atlassian.com/ex/confluence/${DEV_FORGE_INSTALLATION.cloudId}`,
        environment: { type: "DEVELOPMENT" },
      },
      context: {
        cloudId: DEV_FORGE_INSTALLATION.cloudId,
        localId: "l1",
        extension: { type: "macro", isEditing: false },
      },
    });
    const fn = forgeFitPayload({ ...DEV_FORGE_INSTALLATION, context: null });
    expect(fn.context).toBeUndefined();
    expect(fn.principal).toBeUndefined();
  });
});
