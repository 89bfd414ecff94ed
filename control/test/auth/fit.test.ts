/**
 * DESIGN §6 invariant 2, Forge Invocation Tokens: RS256 only against Forge's key set, iss, aud in the
 * allow-list, exp/nbf with a small skew, oversized tokens refused, and a tenant taken from signed
 * claims only. Every token here is signed by the dev stack's Forge stand-in, which the control Worker
 * verifies exactly as production FITs.
 */

import { createHmac, createPublicKey } from "node:crypto";
import { generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEphemeralFitSigner, forgeFitPayload, signFit } from "../../../dev/src/forge/index.ts";
import { FIT_CLOCK_TOLERANCE_SECONDS, MAX_FIT_AGE_SECONDS, MAX_FIT_BYTES } from "../../src/auth/constants.ts";
import { readFitConfig } from "../../src/auth/fit.ts";
import { callerKindOf } from "../../src/policy/kinds.ts";
import {
  ACCOUNT_ID,
  APP_ID,
  b64url,
  CLOUD_ID,
  type ForgeStandIn,
  INSTALLATION_ID,
  macroClaims,
  OTHER_CLOUD_ID,
  SIBLING_APP_ID,
  startForgeStandIn,
} from "./support.ts";

let forge: ForgeStandIn;
beforeAll(async () => {
  forge = await startForgeStandIn();
});
afterAll(async () => {
  await forge.close();
});

const nowSeconds = () => Math.floor(Date.now() / 1000);

async function codeOf(token: string, verifier = forge.verifier()): Promise<string> {
  const result = await verifier.verify(token);
  return result.ok ? "OK" : result.failure.code;
}

describe("a valid FIT from the Forge stand-in", () => {
  it("verifies and yields the tenant, page and principal from its signed claims", async () => {
    const result = await forge.verifier().verify(await signFit(forge.signer, macroClaims()));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const ctx = result.value;
    expect(ctx.tenantKey).toBe(`forge:${APP_ID}:${INSTALLATION_ID}:${CLOUD_ID}`);
    expect(ctx).toMatchObject({
      appId: APP_ID,
      installationId: INSTALLATION_ID,
      cloudId: CLOUD_ID,
      apiBaseUrl: `https://api.atlassian.com/ex/confluence/${CLOUD_ID}`,
      environment: { type: "DEVELOPMENT" },
      accountId: ACCOUNT_ID,
      hasContext: true,
      page: {
        localId: "b2c5e6f0-macro-local-id",
        moduleKey: "mini-sites-macro",
        siteUrl: "https://example.atlassian.net",
        extensionType: "macro",
        content: { id: "98765", type: "page" },
        spaceKey: "ENG",
        isEditing: false,
      },
    });
    expect(typeof ctx.tokenId).toBe("string");
  });

  it("is accepted whether ALLOWED_FORGE_APP_IDS lists the bare id or the app ARI", () => {
    for (const listed of [APP_ID, `ari:cloud:ecosystem::app/${APP_ID}`, ` ${SIBLING_APP_ID} , ${APP_ID} `]) {
      const state = readFitConfig({ ALLOWED_FORGE_APP_IDS: listed });
      expect(state.status).toBe("ready");
      if (state.status === "ready") expect(state.config.allowedAppIds).toContain(APP_ID);
    }
  });

  it("from a Forge function (no context, no principal) still names its tenant, through the signed apiBaseUrl", async () => {
    const token = await signFit(forge.signer, macroClaims({ context: null, principal: undefined }));
    const result = await forge.verifier().verify(token);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.hasContext).toBe(false);
    expect(result.value.cloudId).toBe(CLOUD_ID);
    expect(result.value.accountId).toBeUndefined();
    // A Forge function's call: the policy gives it only the routes made for Forge functions.
    expect(callerKindOf({ kind: "forge", ctx: result.value })).toBe("forgeApp");
  });

  it("without a principal is never a user: without a context it is the app's function, with one nothing", async () => {
    const anonymous = await forge
      .verifier()
      .verify(await signFit(forge.signer, macroClaims({ principal: undefined })));
    expect(anonymous.ok).toBe(true);
    if (!anonymous.ok) return;
    // A macro's context and no user (anonymous access): never the app's own function.
    expect(callerKindOf({ kind: "forge", ctx: anonymous.value })).toBe("forgeOther");
    const fn = await forge
      .verifier()
      .verify(await signFit(forge.signer, { ...macroClaims({ principal: undefined }), context: null }));
    expect(fn.ok).toBe(true);
    if (!fn.ok) return;
    expect(callerKindOf({ kind: "forge", ctx: fn.value })).toBe("forgeApp");
  });

  it("with a context of up to several KiB (large Forge contexts) is not refused", async () => {
    const claims = forgeFitPayload(macroClaims());
    (claims.context as Record<string, unknown>).references = Array.from({ length: 80 }, (_, i) => ({
      id: `ref-${i}`,
      type: "page",
      title: "x".repeat(60),
    }));
    const token = await forge.signer.signPayload(claims);
    expect(token.length).toBeGreaterThan(8 * 1024);
    expect(token.length).toBeLessThan(MAX_FIT_BYTES);
    expect(await codeOf(token)).toBe("OK");
  });
});

describe("algorithm attacks are refused before any key is used", () => {
  it("alg:none (no signature) ⇒ AUTH_ALGORITHM_NOT_ALLOWED", async () => {
    const payload = forgeFitPayload(macroClaims());
    const token = `${b64url({ alg: "none", typ: "JWT", kid: forge.signer.kid })}.${b64url(payload)}.`;
    expect(await codeOf(token)).toBe("AUTH_ALGORITHM_NOT_ALLOWED");
  });

  it("HS256 signed with the RSA public key (HS/RS confusion) ⇒ AUTH_ALGORITHM_NOT_ALLOWED", async () => {
    const jwk = forge.signer.jwks().keys[0];
    const pem = createPublicKey({ key: jwk as never, format: "jwk" }).export({ type: "spki", format: "pem" });
    const payload = forgeFitPayload(macroClaims());
    for (const secret of [pem, JSON.stringify(jwk), Buffer.from(String(jwk?.n), "base64url")]) {
      const input = `${b64url({ alg: "HS256", typ: "JWT", kid: forge.signer.kid })}.${b64url(payload)}`;
      const signature = createHmac("sha256", secret).update(input).digest("base64url");
      expect(await codeOf(`${input}.${signature}`)).toBe("AUTH_ALGORITHM_NOT_ALLOWED");
    }
  });

  it("ES256 and PS256 tokens naming the trusted kid ⇒ AUTH_ALGORITHM_NOT_ALLOWED", async () => {
    const payload = forgeFitPayload(macroClaims());
    const es = await generateKeyPair("ES256");
    const ps = await generateKeyPair("PS256");
    const esToken = await new SignJWT(payload)
      .setProtectedHeader({ alg: "ES256", kid: forge.signer.kid })
      .sign(es.privateKey);
    const psToken = await new SignJWT(payload)
      .setProtectedHeader({ alg: "PS256", kid: forge.signer.kid })
      .sign(ps.privateKey);
    expect(await codeOf(esToken)).toBe("AUTH_ALGORITHM_NOT_ALLOWED");
    expect(await codeOf(psToken)).toBe("AUTH_ALGORITHM_NOT_ALLOWED");
  });
});

describe("keys", () => {
  it("RS256 signed by another key that claims the trusted kid ⇒ AUTH_BAD_SIGNATURE", async () => {
    const impostor = await createEphemeralFitSigner(forge.signer.kid);
    expect(await codeOf(await signFit(impostor, macroClaims()))).toBe("AUTH_BAD_SIGNATURE");
  });

  it("a kid the key set does not hold ⇒ AUTH_UNKNOWN_KEY", async () => {
    const stranger = await createEphemeralFitSigner("not-a-forge-key");
    expect(await codeOf(await signFit(stranger, macroClaims()))).toBe("AUTH_UNKNOWN_KEY");
  });

  it("a token without a kid ⇒ refused", async () => {
    const unnamed = await createEphemeralFitSigner();
    const payload = forgeFitPayload(macroClaims());
    const token = await unnamed.signPayload(payload, { kid: "" });
    expect(await codeOf(token)).not.toBe("OK");
  });
});

describe("claims", () => {
  it("a wrong issuer ⇒ AUTH_WRONG_ISSUER", async () => {
    const payload = { ...forgeFitPayload(macroClaims()), iss: "forge/invocation-token-not" };
    expect(await codeOf(await forge.signer.signPayload(payload))).toBe("AUTH_WRONG_ISSUER");
  });

  it("a FIT for a sibling app on the same site (not allowed here) ⇒ AUTH_WRONG_APP", async () => {
    expect(await codeOf(await signFit(forge.signer, macroClaims({ appId: SIBLING_APP_ID })))).toBe(
      "AUTH_WRONG_APP",
    );
  });

  it("an allowed aud with a different app.id ⇒ AUTH_WRONG_APP", async () => {
    const payload = forgeFitPayload(macroClaims());
    (payload.app as Record<string, unknown>).id = `ari:cloud:ecosystem::app/${SIBLING_APP_ID}`;
    expect(await codeOf(await forge.signer.signPayload(payload))).toBe("AUTH_WRONG_APP");
  });

  it("an aud array smuggling the allowed app next to another ⇒ AUTH_WRONG_APP", async () => {
    const payload = forgeFitPayload(macroClaims());
    payload.aud = [`ari:cloud:ecosystem::app/${APP_ID}`, `ari:cloud:ecosystem::app/${SIBLING_APP_ID}`];
    expect(await codeOf(await forge.signer.signPayload(payload))).toBe("AUTH_WRONG_APP");
  });

  it("context.cloudId disagreeing with the installation's apiBaseUrl ⇒ refused", async () => {
    const payload = forgeFitPayload(macroClaims());
    (payload.context as Record<string, unknown>).cloudId = OTHER_CLOUD_ID;
    expect(await codeOf(await forge.signer.signPayload(payload))).toBe("AUTH_MALFORMED");
  });

  it("a tenant part that could forge a tenant key (':' in installationId) ⇒ refused", async () => {
    const payload = forgeFitPayload(macroClaims());
    (payload.app as Record<string, unknown>).installationId = `x:${OTHER_CLOUD_ID}`;
    expect(await codeOf(await forge.signer.signPayload(payload))).toBe("AUTH_MALFORMED");
  });

  it("an apiBaseUrl that is plain http off loopback ⇒ refused (the user's token is sent there)", async () => {
    const token = await signFit(
      forge.signer,
      macroClaims({ apiBaseUrl: `http://evil.example/ex/confluence/${CLOUD_ID}` }),
    );
    expect(await codeOf(token)).toBe("AUTH_MALFORMED");
  });

  it("a principal that is not an Atlassian account id ⇒ AUTH_MALFORMED (it could not be pseudonymized or reported)", async () => {
    for (const principal of ["user_1", "forge:~abc", "a~b", "", "x".repeat(129), "557058:abc def"])
      expect(await codeOf(await signFit(forge.signer, macroClaims({ principal }))), principal).toBe(
        "AUTH_MALFORMED",
      );
  });

  it("missing exp or iat ⇒ AUTH_MALFORMED", async () => {
    for (const claim of ["exp", "iat"]) {
      const payload = forgeFitPayload(macroClaims()) as Record<string, unknown>;
      delete payload[claim];
      expect(await codeOf(await forge.signer.signPayload(payload))).toBe("AUTH_MALFORMED");
    }
  });
});

describe("time", () => {
  const at = (offsetSeconds: number) => (nowSeconds() + offsetSeconds) * 1000;

  it("expired beyond the tolerance ⇒ AUTH_EXPIRED; within it ⇒ accepted", async () => {
    const expired = await signFit(forge.signer, macroClaims(), {
      now: at(-300 - FIT_CLOCK_TOLERANCE_SECONDS - 5),
    });
    const withinSkew = await signFit(forge.signer, macroClaims(), {
      now: at(-300 - FIT_CLOCK_TOLERANCE_SECONDS + 20),
    });
    expect(await codeOf(expired)).toBe("AUTH_EXPIRED");
    expect(await codeOf(withinSkew)).toBe("OK");
  });

  it("nbf in the future beyond the tolerance ⇒ AUTH_NOT_YET_VALID; within it ⇒ accepted", async () => {
    const future = await signFit(forge.signer, macroClaims(), { now: at(FIT_CLOCK_TOLERANCE_SECONDS + 30) });
    const slightlyAhead = await signFit(forge.signer, macroClaims(), {
      now: at(FIT_CLOCK_TOLERANCE_SECONDS - 20),
    });
    expect(await codeOf(future)).toBe("AUTH_NOT_YET_VALID");
    expect(await codeOf(slightlyAhead)).toBe("OK");
  });

  it("a token older than the age ceiling is refused even when its exp is far away", async () => {
    const payload = forgeFitPayload(macroClaims(), {
      now: at(-MAX_FIT_AGE_SECONDS - FIT_CLOCK_TOLERANCE_SECONDS - 10),
    });
    payload.exp = nowSeconds() + 600;
    expect(await codeOf(await forge.signer.signPayload(payload))).toBe("AUTH_EXPIRED");
  });
});

describe("size and structure", () => {
  it("a token over the cap ⇒ AUTH_TOO_LARGE, refused without fetching the key set", async () => {
    const payload = forgeFitPayload(macroClaims());
    (payload.context as Record<string, unknown>).padding = "x".repeat(MAX_FIT_BYTES);
    const verifier = forge.verifier();
    const before = forge.jwks.requests;
    expect(await codeOf(await forge.signer.signPayload(payload), verifier)).toBe("AUTH_TOO_LARGE");
    expect(forge.jwks.requests).toBe(before);
  });

  it("truncated, tampered or re-assembled tokens never verify", async () => {
    const token = await signFit(forge.signer, macroClaims());
    const other = await signFit(forge.signer, macroClaims({ cloudId: OTHER_CLOUD_ID }));
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const [, otherPayload] = other.split(".") as [string, string, string];
    const tamperedPayload = b64url({ ...forgeFitPayload(macroClaims()), principal: "someone-else" });
    const variants = [
      token.slice(0, -1),
      token.slice(0, -10),
      `${header}.${payload}`,
      `${header}.${payload}.`,
      `${header}.${otherPayload}.${signature}`,
      `${header}.${tamperedPayload}.${signature}`,
      `${token}.`,
      `${token}x`,
      ` ${token}`,
      token.replace(/\./g, ".."),
    ];
    for (const variant of variants) expect(await codeOf(variant)).not.toBe("OK");
  });

  it("a non-canonical spelling of the same signature is refused (one spelling per token)", async () => {
    const token = await signFit(forge.signer, macroClaims());
    const last = token.at(-1) as string;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // RSA-2048 signatures are 256 bytes = 342 characters: the last carries 2 bits and 4 unused ones.
    const sibling = alphabet[alphabet.indexOf(last) ^ 1] as string;
    expect(await codeOf(token.slice(0, -1) + sibling)).toBe("AUTH_MALFORMED");
  });

  it("an empty or non-string token ⇒ AUTH_MISSING", async () => {
    expect(await codeOf("")).toBe("AUTH_MISSING");
    expect(await codeOf(undefined as unknown as string)).toBe("AUTH_MISSING");
  });
});

describe("configuration fails closed", () => {
  it("unset or invalid ALLOWED_FORGE_APP_IDS accepts no FIT at all", () => {
    for (const value of [undefined, "", " , ", "ari:cloud:ecosystem::app/", "a/b", 42]) {
      expect(readFitConfig({ ALLOWED_FORGE_APP_IDS: value }).status).toBe("invalid");
    }
  });

  it("FORGE_JWKS_URL must be https, or http on loopback only", () => {
    const ok = (url: string) => readFitConfig({ ALLOWED_FORGE_APP_IDS: APP_ID, FORGE_JWKS_URL: url }).status;
    expect(ok("https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json")).toBe("ready");
    expect(ok("http://127.0.0.1:9999/.well-known/jwks.json")).toBe("ready");
    expect(ok("http://forge.example/.well-known/jwks.json")).toBe("invalid");
    expect(ok("https://user:pw@forge.example/jwks.json")).toBe("invalid");
    expect(ok("file:///etc/passwd")).toBe("invalid");
  });

  it("defaults to Forge's production key set", () => {
    const state = readFitConfig({ ALLOWED_FORGE_APP_IDS: APP_ID });
    expect(state.status === "ready" && state.config.jwksUrl).toBe(
      "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json",
    );
  });
});
