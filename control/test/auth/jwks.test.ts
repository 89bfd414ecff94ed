/**
 * DESIGN §6 invariant 2: "JWKS cached with a cooldown; JWKS outage ⇒ deny". Counts requests on the
 * stand-in's key set to show that neither forged `kid`s nor an outage turn into a refetch storm.
 */

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createEphemeralFitSigner, forgeFitPayload, signFit } from "../../../dev/src/forge/index.ts";
import {
  JWKS_CACHE_MAX_AGE_MS,
  JWKS_FAILURE_COOLDOWN_MS,
  JWKS_REFETCH_COOLDOWN_MS,
  MAX_JWKS_BYTES,
} from "../../src/auth/constants.ts";
import { createFitVerifier } from "../../src/auth/fit.ts";
import { APP_ID, type ForgeStandIn, macroClaims, startForgeStandIn } from "./support.ts";

let forge: ForgeStandIn;
beforeAll(async () => {
  forge = await startForgeStandIn();
});
afterAll(async () => {
  await forge.close();
});
afterEach(() => {
  forge.jwks.setFault("none");
  vi.useRealTimers();
});

/** Only Date is faked: sockets and timers stay real. */
function freezeClock(): (ms: number) => void {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.now());
  return (ms) => vi.setSystemTime(Date.now() + ms);
}

const code = (r: { ok: boolean; failure?: { code: string } }) => (r.ok ? "OK" : r.failure?.code);

describe("the key set cache", () => {
  it("fetches once and then verifies from cache", async () => {
    const verifier = forge.verifier();
    const before = forge.jwks.requests;
    for (let i = 0; i < 10; i++) {
      expect(code(await verifier.verify(await signFit(forge.signer, macroClaims())))).toBe("OK");
    }
    expect(forge.jwks.requests - before).toBe(1);
  });

  it("keeps verifying from a fresh cache while the key set is down", async () => {
    const advance = freezeClock();
    const verifier = forge.verifier();
    const token = await signFit(forge.signer, macroClaims());
    expect(code(await verifier.verify(token))).toBe("OK");
    forge.jwks.setFault("unavailable");
    advance(JWKS_CACHE_MAX_AGE_MS / 2);
    const before = forge.jwks.requests;
    expect(code(await verifier.verify(await signFit(forge.signer, macroClaims())))).toBe("OK");
    expect(forge.jwks.requests).toBe(before);
  });

  it("denies once the cache is older than its maximum age and the key set is still down (fail closed)", async () => {
    const advance = freezeClock();
    const verifier = forge.verifier();
    expect(code(await verifier.verify(await signFit(forge.signer, macroClaims())))).toBe("OK");
    forge.jwks.setFault("unavailable");
    advance(JWKS_CACHE_MAX_AGE_MS + 1000);
    expect(code(await verifier.verify(await signFit(forge.signer, macroClaims())))).toBe(
      "AUTH_JWKS_UNAVAILABLE",
    );
  });

  it("forged kids trigger at most one refetch per cooldown", async () => {
    const advance = freezeClock();
    const verifier = forge.verifier();
    expect(code(await verifier.verify(await signFit(forge.signer, macroClaims())))).toBe("OK");
    const before = forge.jwks.requests;
    const stranger = await createEphemeralFitSigner();
    for (let i = 0; i < 25; i++) {
      const forged = await stranger.signPayload(forgeFitPayload(macroClaims()), { kid: `forged-${i}` });
      expect(code(await verifier.verify(forged))).toBe("AUTH_UNKNOWN_KEY");
    }
    expect(forge.jwks.requests - before).toBe(0);
    advance(JWKS_REFETCH_COOLDOWN_MS + 1000);
    const late = await stranger.signPayload(forgeFitPayload(macroClaims()), { kid: "forged-after-cooldown" });
    expect(code(await verifier.verify(late))).toBe("AUTH_UNKNOWN_KEY");
    expect(forge.jwks.requests - before).toBe(1);
  });
});

describe("a key set outage with nothing cached", () => {
  for (const fault of ["unavailable", "reset"] as const) {
    it(`denies with AUTH_JWKS_UNAVAILABLE (${fault}) and does not refetch in a storm`, async () => {
      const advance = freezeClock();
      forge.jwks.setFault(fault);
      const verifier = forge.verifier();
      const token = await signFit(forge.signer, macroClaims());
      const before = forge.jwks.requests;
      const results = await Promise.all(Array.from({ length: 5 }, () => verifier.verify(token)));
      for (let i = 0; i < 30; i++) results.push(await verifier.verify(token));
      expect(results.map(code)).toEqual(results.map(() => "AUTH_JWKS_UNAVAILABLE"));
      // jose shares one in-flight fetch outside Workers; the failure cooldown covers the rest.
      expect(forge.jwks.requests - before).toBe(1);

      advance(JWKS_FAILURE_COOLDOWN_MS + 1);
      forge.jwks.setFault("none");
      expect(code(await verifier.verify(token))).toBe("OK");
      expect(forge.jwks.requests - before).toBe(2);
    });
  }

  it("denies when nothing listens at the key set URL", async () => {
    const verifier = createFitVerifier({
      jwksUrl: "http://127.0.0.1:9/.well-known/jwks.json",
      allowedAppIds: [APP_ID],
    });
    expect(code(await verifier.verify(await signFit(forge.signer, macroClaims())))).toBe(
      "AUTH_JWKS_UNAVAILABLE",
    );
  });
});

describe("what the key set may contain", () => {
  const serve =
    (body: string, init: ResponseInit = {}) =>
    async () =>
      new Response(body, { status: 200, ...init });

  it("a key set that is not JSON, has no keys array, or is oversized ⇒ AUTH_JWKS_UNAVAILABLE", async () => {
    const token = await signFit(forge.signer, macroClaims());
    const jwksUrl = "https://forge.test/.well-known/jwks.json";
    for (const body of [
      "<html>",
      "{}",
      '{"keys":{}}',
      JSON.stringify({ keys: [], pad: "x".repeat(MAX_JWKS_BYTES) }),
    ]) {
      const verifier = createFitVerifier({ jwksUrl, allowedAppIds: [APP_ID] }, { fetch: serve(body) });
      expect(code(await verifier.verify(token))).toBe("AUTH_JWKS_UNAVAILABLE");
    }
  });

  it("symmetric or encryption keys in the key set are never used", async () => {
    const trusted = forge.signer.jwks().keys[0] as Record<string, unknown>;
    const keys = [
      { kty: "oct", k: "c2VjcmV0", kid: forge.signer.kid, alg: "HS256" },
      { ...trusted, use: "enc" },
    ];
    const verifier = createFitVerifier(
      { jwksUrl: "https://forge.test/jwks.json", allowedAppIds: [APP_ID] },
      { fetch: serve(JSON.stringify({ keys })) },
    );
    expect(code(await verifier.verify(await signFit(forge.signer, macroClaims())))).toBe("AUTH_UNKNOWN_KEY");
  });

  it("a redirect is not followed (the key set must be served where it is configured)", async () => {
    const verifier = createFitVerifier(
      { jwksUrl: "https://forge.test/jwks.json", allowedAppIds: [APP_ID] },
      { fetch: async () => new Response(null, { status: 302, headers: { location: forge.jwks.jwksUrl } }) },
    );
    expect(code(await verifier.verify(await signFit(forge.signer, macroClaims())))).toBe(
      "AUTH_JWKS_UNAVAILABLE",
    );
  });
});
