/**
 * `authenticate()`: one credential ⇒ one typed Principal, or a typed 401 failure; the tenant taken from
 * the credential only (invariant 3), and no credential in any log line or failure (invariant 7). What
 * a principal may then do is the route policy's (control/test/policy/).
 */

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { forgeFitPayload, signFit } from "../../../dev/src/forge/index.ts";
import { issueApiToken } from "../../src/auth/api-tokens.ts";
import { type AuthBindings, type AuthOutcome, authenticate } from "../../src/auth/authenticate.ts";
import {
  ACCOUNT_ID,
  APP_ID,
  CLOUD_ID,
  type ForgeStandIn,
  INSTALLATION_ID,
  MemoryApiTokenStore,
  macroClaims,
  OTHER_CLOUD_ID,
  startForgeStandIn,
} from "./support.ts";

// Assembled (and plainly fake) so a secret scan of the repository does not flag it.
const SECRET = ["ci", "shared", "0123456789abcdefghijklmnop"].join("-");

let forge: ForgeStandIn;
let env: AuthBindings & { CONTROL_SHARED_SECRET?: string };
const store = new MemoryApiTokenStore();

beforeAll(async () => {
  forge = await startForgeStandIn();
  env = { FORGE_JWKS_URL: forge.jwks.jwksUrl, ALLOWED_FORGE_APP_IDS: APP_ID, CONTROL_SHARED_SECRET: SECRET };
});
afterAll(async () => {
  await forge.close();
});
afterEach(() => {
  forge.jwks.setFault("none");
  vi.restoreAllMocks();
});

const run = (headers: Record<string, string>, bindings: AuthBindings = env): Promise<AuthOutcome> =>
  authenticate(new Headers(headers), bindings, { apiTokens: store });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const code = (outcome: AuthOutcome) => (outcome.ok ? "ok" : outcome.failure.code);

describe("authenticate()", () => {
  it("a FIT becomes a forge principal whose tenant comes from the signed claims", async () => {
    const outcome = await run(bearer(await signFit(forge.signer, macroClaims())));
    expect(outcome.ok).toBe(true);
    if (!outcome.ok || outcome.principal.kind !== "forge") return;
    expect(outcome.principal.ctx.tenantKey).toBe(`forge:${APP_ID}:${INSTALLATION_ID}:${CLOUD_ID}`);
    expect(outcome.principal.ctx.accountId).toBe(ACCOUNT_ID);
  });

  it("a header naming another cloud or tenant changes nothing", async () => {
    const outcome = await run({
      ...bearer(await signFit(forge.signer, macroClaims())),
      "x-cloud-id": OTHER_CLOUD_ID,
      "x-tenant": OTHER_CLOUD_ID,
      "x-forge-cloud-id": OTHER_CLOUD_ID,
    });
    expect(outcome.ok && outcome.principal.kind === "forge" && outcome.principal.ctx.cloudId).toBe(CLOUD_ID);
  });

  it("an API token becomes its own tenant's principal, whatever tenant the request names", async () => {
    const { token } = await issueApiToken(store, {
      tenantId: "tenant-a",
      scopes: ["sites:read"],
      label: "cli",
    });
    const outcome = await run({ ...bearer(token), "x-tenant": "tenant-b" });
    expect(outcome).toMatchObject({
      ok: true,
      principal: { kind: "apiToken", tenantId: "tenant-a", scopes: ["sites:read"] },
    });
  });

  it("the shared secret becomes the sharedSecret principal", async () => {
    expect(await run({ "x-mini-sites-secret": SECRET })).toEqual({
      ok: true,
      principal: { kind: "sharedSecret" },
    });
  });

  it("no credential ⇒ AUTH_MISSING; two at once ⇒ AUTH_AMBIGUOUS", async () => {
    expect(code(await run({}))).toBe("AUTH_MISSING");
    const token = await signFit(forge.signer, macroClaims());
    expect(code(await run({ ...bearer(token), "x-mini-sites-secret": SECRET }))).toBe("AUTH_AMBIGUOUS");
  });

  it("non-Bearer schemes and garbage ⇒ AUTH_MALFORMED; an oversized header ⇒ AUTH_TOO_LARGE", async () => {
    for (const authorization of ["Basic dXNlcjpwdw==", "Bearer", "Bearer a b", "Token abc", "bearer  "])
      expect(code(await run({ authorization }))).toBe("AUTH_MALFORMED");
    expect(code(await run(bearer("a".repeat(40_000))))).toBe("AUTH_TOO_LARGE");
  });

  it("ALLOWED_FORGE_APP_IDS unset ⇒ every FIT AUTH_NOT_CONFIGURED", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const token = await signFit(forge.signer, macroClaims());
    expect(code(await run(bearer(token), { FORGE_JWKS_URL: forge.jwks.jwksUrl }))).toBe(
      "AUTH_NOT_CONFIGURED",
    );
  });

  it("CONTROL_SHARED_SECRET unset ⇒ every shared-secret call refused, even an empty header", async () => {
    const unset = { FORGE_JWKS_URL: forge.jwks.jwksUrl, ALLOWED_FORGE_APP_IDS: APP_ID };
    for (const value of [SECRET, "", "undefined"])
      expect((await run({ "x-mini-sites-secret": value }, unset)).ok).toBe(false);
  });

  it("a revoked API token is refused with the same code as an unknown one, its reason kept apart", async () => {
    const { token, record } = await issueApiToken(store, {
      tenantId: "tenant-a",
      scopes: ["sites:read"],
      label: "x",
    });
    await store.revoke("tenant-a", record.id, Date.now());
    expect(await run(bearer(token))).toMatchObject({
      ok: false,
      failure: { code: "AUTH_INVALID_TOKEN" },
      apiTokenRefusal: "revoked",
    });
    // Another well-formed token: one character of the secret changed (never to itself, and not the
    // last one, whose spare bits a canonical base32 decoder refuses).
    const at = token.length - 5;
    const other = token[at] === "a" ? "b" : "a";
    expect(await run(bearer(`${token.slice(0, at)}${other}${token.slice(at + 1)}`))).toMatchObject({
      ok: false,
      failure: { code: "AUTH_INVALID_TOKEN" },
      apiTokenRefusal: "unknown",
    });
  });
});

describe("no credential in any log line or failure (invariant 7)", () => {
  it("across every failure path, captured console output and failures never contain the credentials", async () => {
    const lines: string[] = [];
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation(
        (...args: unknown[]) => void lines.push(args.map(String).join(" ")),
      );
    }
    const fit = await signFit(forge.signer, macroClaims());
    const expired = await signFit(forge.signer, macroClaims(), { now: Date.now() - 3_600_000 });
    const wrongIss = await forge.signer.signPayload({ ...forgeFitPayload(macroClaims()), iss: "nope" });
    const { token: apiToken, record } = await issueApiToken(store, {
      tenantId: "tenant-a",
      scopes: ["sites:read"],
      label: "x",
    });
    await store.revoke("tenant-a", record.id, Date.now());
    const outcomes: AuthOutcome[] = [];
    for (const headers of [
      bearer(fit.slice(0, -2)),
      bearer(expired),
      bearer(wrongIss),
      bearer(apiToken),
      bearer(`${apiToken.slice(0, -1)}a`),
      { "x-mini-sites-secret": `${SECRET}x` },
      { "x-mini-sites-secret": SECRET, ...bearer(fit) },
    ])
      outcomes.push(await run(headers));
    forge.jwks.setFault("unavailable");
    const outage = await run(bearer(fit), { ...env, ALLOWED_FORGE_APP_IDS: `${APP_ID},fresh-cache` });
    outcomes.push(outage);
    expect(code(outage)).toBe("AUTH_JWKS_UNAVAILABLE");
    expect(lines.some((line) => line.includes("FORGE_JWKS_UNAVAILABLE"))).toBe(true);
    expect(outcomes.every((o) => !o.ok)).toBe(true);

    const secrets = [fit, expired, wrongIss, apiToken, SECRET];
    const fragments = secrets.flatMap((s) => [s, s.slice(-24), s.slice(3, 27)]);
    const everything = [...lines, JSON.stringify(outcomes)].join("\n");
    for (const fragment of fragments) expect(everything).not.toContain(fragment);
  });
});
