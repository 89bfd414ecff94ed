/**
 * The Hono middleware as the control Worker's routes use it: one credential ⇒ one typed Principal,
 * 401 `{"error":{"code","message"}}` when authentication fails, 403 when authenticated but not
 * allowed (DESIGN §8), a tenant taken from the credential only (invariant 3), and no credential in any
 * log line or error body (invariant 7).
 */

import { Hono } from "hono";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { forgeFitPayload, signFit } from "../../../dev/src/forge/index.ts";
import { issueApiToken } from "../../src/auth/api-tokens.ts";
import {
  type AuthBindings,
  type AuthVariables,
  authenticate,
  type DeniedAttempt,
  principalOf,
  requireForgeUser,
  requireScope,
} from "../../src/auth/middleware.ts";
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

type AppEnv = { Bindings: AuthBindings; Variables: AuthVariables };

let forge: ForgeStandIn;
let env: AuthBindings & { CONTROL_SHARED_SECRET?: string };
const store = new MemoryApiTokenStore();
const denials: DeniedAttempt[] = [];

beforeAll(async () => {
  forge = await startForgeStandIn();
  env = { FORGE_JWKS_URL: forge.jwks.jwksUrl, ALLOWED_FORGE_APP_IDS: APP_ID, CONTROL_SHARED_SECRET: SECRET };
});
afterAll(async () => {
  await forge.close();
});
afterEach(() => {
  forge.jwks.setFault("none");
  denials.length = 0;
  vi.restoreAllMocks();
});

function app() {
  const hono = new Hono<AppEnv>();
  const auth = (allow: ("fit" | "apiToken" | "sharedSecret")[]) =>
    authenticate<AppEnv>({
      allow,
      apiTokens: () => store,
      onDenied: (_c, attempt) => void denials.push(attempt),
    });
  hono.get("/any", auth(["fit", "apiToken", "sharedSecret"]), (c) =>
    c.json(describePrincipal(principalOf(c))),
  );
  hono.get("/macro", auth(["fit"]), requireForgeUser<AppEnv>(), (c) =>
    c.json(describePrincipal(principalOf(c))),
  );
  hono.post("/publish", auth(["fit", "apiToken"]), requireScope<AppEnv>("sites:write"), (c) =>
    c.json({ ok: true }),
  );
  hono.get("/ci", auth(["sharedSecret"]), (c) => c.json({ ok: true }));
  return hono;
}

function describePrincipal(principal: ReturnType<typeof principalOf>) {
  switch (principal.kind) {
    case "forge":
      return {
        kind: principal.kind,
        tenant: principal.tenantKey,
        accountId: principal.ctx.accountId ?? null,
      };
    case "apiToken":
      return { kind: principal.kind, tenant: principal.tenantId, scopes: principal.scopes };
    default:
      return { kind: principal.kind };
  }
}

async function call(
  path: string,
  headers: Record<string, string> = {},
  init: RequestInit = {},
  bindings = env,
) {
  const response = await app().request(path, { headers, ...init }, bindings);
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("authenticate()", () => {
  it("a FIT becomes a forge principal whose tenant comes from the signed claims", async () => {
    const { status, body } = await call("/any", bearer(await signFit(forge.signer, macroClaims())));
    expect(status).toBe(200);
    expect(body).toEqual({
      kind: "forge",
      tenant: `forge:${APP_ID}:${INSTALLATION_ID}:${CLOUD_ID}`,
      accountId: ACCOUNT_ID,
    });
  });

  it("a query parameter or header naming another cloud or tenant changes nothing", async () => {
    const token = await signFit(forge.signer, macroClaims());
    const { body } = await call(`/any?cloudId=${OTHER_CLOUD_ID}&tenant=forge:x:y:${OTHER_CLOUD_ID}`, {
      ...bearer(token),
      "x-cloud-id": OTHER_CLOUD_ID,
      "x-tenant": OTHER_CLOUD_ID,
      "x-forge-cloud-id": OTHER_CLOUD_ID,
    });
    expect(body.tenant).toBe(`forge:${APP_ID}:${INSTALLATION_ID}:${CLOUD_ID}`);
  });

  it("an API token becomes its own tenant's principal, whatever tenant the request names", async () => {
    const { token } = await issueApiToken(store, {
      tenantId: "tenant-a",
      scopes: ["sites:read"],
      label: "cli",
    });
    const { status, body } = await call("/any?tenant=tenant-b", { ...bearer(token), "x-tenant": "tenant-b" });
    expect(status).toBe(200);
    expect(body).toEqual({ kind: "apiToken", tenant: "tenant-a", scopes: ["sites:read"] });
  });

  it("the shared secret becomes the sharedSecret principal", async () => {
    expect(await call("/any", { "x-mini-sites-secret": SECRET })).toMatchObject({
      status: 200,
      body: { kind: "sharedSecret" },
    });
  });

  it("no credential ⇒ 401 AUTH_MISSING in the API's error shape", async () => {
    const { status, body, headers } = await call("/any");
    expect(status).toBe(401);
    expect(body).toEqual({ error: { code: "AUTH_MISSING", message: expect.any(String) } });
    expect(headers.get("www-authenticate")).toMatch(/^Bearer/);
  });

  it("two credentials at once ⇒ 401 AUTH_AMBIGUOUS", async () => {
    const token = await signFit(forge.signer, macroClaims());
    const { status, body } = await call("/any", { ...bearer(token), "x-mini-sites-secret": SECRET });
    expect(status).toBe(401);
    expect(body).toMatchObject({ error: { code: "AUTH_AMBIGUOUS" } });
  });

  it("a credential the route does not accept ⇒ 401 AUTH_METHOD_NOT_ACCEPTED", async () => {
    const { token } = await issueApiToken(store, {
      tenantId: "tenant-a",
      scopes: ["sites:read"],
      label: "cli",
    });
    expect((await call("/macro", bearer(token))).body).toMatchObject({
      error: { code: "AUTH_METHOD_NOT_ACCEPTED" },
    });
    expect((await call("/ci", bearer(token))).status).toBe(401);
  });

  it("non-Bearer schemes and garbage ⇒ 401 AUTH_MALFORMED", async () => {
    for (const authorization of ["Basic dXNlcjpwdw==", "Bearer", "Bearer a b", "Token abc", "bearer  "]) {
      const { status, body } = await call("/any", { authorization });
      expect(status).toBe(401);
      expect(body).toMatchObject({ error: { code: "AUTH_MALFORMED" } });
    }
  });

  it("an oversized Authorization header ⇒ 401 AUTH_TOO_LARGE", async () => {
    expect((await call("/any", bearer("a".repeat(40_000)))).body).toMatchObject({
      error: { code: "AUTH_TOO_LARGE" },
    });
  });

  it("ALLOWED_FORGE_APP_IDS unset ⇒ every FIT 401 AUTH_NOT_CONFIGURED", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const token = await signFit(forge.signer, macroClaims());
    const { status, body } = await call("/any", bearer(token), {}, { FORGE_JWKS_URL: forge.jwks.jwksUrl });
    expect(status).toBe(401);
    expect(body).toMatchObject({ error: { code: "AUTH_NOT_CONFIGURED" } });
  });

  it("CONTROL_SHARED_SECRET unset ⇒ every shared-secret call 401, even an empty header", async () => {
    const unset = { FORGE_JWKS_URL: forge.jwks.jwksUrl, ALLOWED_FORGE_APP_IDS: APP_ID };
    for (const value of [SECRET, "", "undefined"]) {
      expect((await call("/ci", { "x-mini-sites-secret": value }, {}, unset)).status).toBe(401);
    }
  });

  it("every denial reaches the audit hook with its code, and a failing hook still denies", async () => {
    await call("/any", bearer("not.a.jwt"));
    expect(denials).toEqual([
      { method: "fit", failure: expect.objectContaining({ code: "AUTH_MALFORMED" }) },
    ]);
    const throwing = new Hono<AppEnv>();
    throwing.get(
      "/x",
      authenticate<AppEnv>({
        allow: ["fit"],
        onDenied: () => {
          throw new Error("audit down");
        },
      }),
      (c) => c.text("reached"),
    );
    expect((await throwing.request("/x", {}, env)).status).toBe(401);
  });
});

describe("onAuthenticated (where the app resolves its tenant)", () => {
  it("sees the verified principal and may answer instead of the route", async () => {
    const seen: string[] = [];
    const hono = new Hono<AppEnv>();
    hono.get(
      "/x",
      authenticate<AppEnv>({
        allow: ["fit"],
        onAuthenticated: (c, principal) => {
          seen.push(principal.kind === "forge" ? principal.tenantKey : principal.kind);
          return principal.kind === "forge" && principal.ctx.cloudId === OTHER_CLOUD_ID
            ? c.json({ error: { code: "NOT_INSTALLED", message: "…" } }, 404)
            : undefined;
        },
      }),
      (c) => c.text("reached"),
    );
    const known = await hono.request(
      "/x",
      { headers: bearer(await signFit(forge.signer, macroClaims())) },
      env,
    );
    expect(await known.text()).toBe("reached");
    const unknown = await hono.request(
      "/x",
      { headers: bearer(await signFit(forge.signer, macroClaims({ cloudId: OTHER_CLOUD_ID }))) },
      env,
    );
    expect(unknown.status).toBe(404);
    expect(seen).toEqual([
      `forge:${APP_ID}:${INSTALLATION_ID}:${CLOUD_ID}`,
      `forge:${APP_ID}:${INSTALLATION_ID}:${OTHER_CLOUD_ID}`,
    ]);
  });
});

describe("authenticated but not allowed ⇒ 403", () => {
  it("a FIT without principal on a user route ⇒ 403 NO_PRINCIPAL", async () => {
    const token = await signFit(forge.signer, macroClaims({ principal: undefined }));
    const { status, body } = await call("/macro", bearer(token));
    expect(status).toBe(403);
    expect(body).toMatchObject({ error: { code: "NO_PRINCIPAL" } });
  });

  it("a FIT with a principal passes the user route", async () => {
    expect((await call("/macro", bearer(await signFit(forge.signer, macroClaims())))).status).toBe(200);
  });

  it("an API token without the route's scope ⇒ 403 INSUFFICIENT_SCOPE; with it ⇒ 200", async () => {
    const reader = await issueApiToken(store, { tenantId: "tenant-a", scopes: ["sites:read"], label: "r" });
    const publisher = await issueApiToken(store, {
      tenantId: "tenant-a",
      scopes: ["sites:write"],
      label: "p",
    });
    const post = { method: "POST" };
    expect(await call("/publish", bearer(reader.token), post)).toMatchObject({
      status: 403,
      body: { error: { code: "INSUFFICIENT_SCOPE" } },
    });
    expect((await call("/publish", bearer(publisher.token), post)).status).toBe(200);
  });
});

describe("no credential in any log line or error body (invariant 7)", () => {
  it("across every failure path, captured console output and bodies never contain the credentials", async () => {
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
    const bodies: string[] = [];
    const attempts: Record<string, string>[] = [
      bearer(fit.slice(0, -2)),
      bearer(expired),
      bearer(wrongIss),
      bearer(apiToken),
      bearer(`${apiToken.slice(0, -1)}a`),
      { "x-mini-sites-secret": `${SECRET}x` },
      { "x-mini-sites-secret": SECRET, ...bearer(fit) },
    ];
    for (const headers of attempts) bodies.push(JSON.stringify((await call("/any", headers)).body));
    forge.jwks.setFault("unavailable");
    const cold = new Hono<AppEnv>();
    cold.get("/x", authenticate<AppEnv>({ allow: ["fit"] }), (c) => c.text("reached"));
    const outage = await cold.request(
      "/x",
      { headers: bearer(fit) },
      { ...env, ALLOWED_FORGE_APP_IDS: `${APP_ID},fresh-cache` },
    );
    bodies.push(await outage.text());
    expect(outage.status).toBe(401);
    expect(lines.some((line) => line.includes("FORGE_JWKS_UNAVAILABLE"))).toBe(true);

    const secrets = [fit, expired, wrongIss, apiToken, SECRET];
    const fragments = secrets.flatMap((s) => [s, s.slice(-24), s.slice(3, 27)]);
    const everything = [...lines, ...bodies, JSON.stringify(denials)].join("\n");
    for (const fragment of fragments) expect(everything).not.toContain(fragment);
  });
});
