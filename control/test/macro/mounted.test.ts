/**
 * The Macro API inside the control Worker's app: the app's middleware (request ids, body caps, the
 * route policy) decides before any macro handler runs; a FIT is verified once per request; no other
 * credential — however valid — reaches a macro route.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueApiToken } from "../../src/auth/api-tokens.ts";
import { D1ApiTokenStore } from "../../src/db/api-tokens.ts";
import { type Harness, startHarness } from "./support.ts";

// Assembled (and plainly fake) so a secret scan of the repository does not flag it.
const SECRET = ["macro", "tests", "shared", "secret", "0123456789"].join("-");

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { CONTROL_SHARED_SECRET: SECRET } });
});
afterAll(async () => {
  await h?.close();
});

describe("macro routes inside the control app", () => {
  it("serves a grant URL to a viewer and refuses a FIT without a principal with 403", async () => {
    await h.seedSite();
    const served = await h.call("POST", "/serve-url", { user: "viewer" });
    expect(served.status).toBe(200);
    expect(await served.json()).toMatchObject({ state: "PUBLISHED" });
    expect(served.headers.get("x-content-type-options")).toBe("nosniff");
    const anonymous = await h.call("POST", "/serve-url", { noPrincipal: true });
    expect(anonymous.status).toBe(403);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe("NO_PRINCIPAL");
  });

  it("answers 401 only for a FIT that does not verify (Forge's own meaning of 401)", async () => {
    const response = await h.app.request(
      "/v1/macro/serve-url",
      { method: "POST", headers: { authorization: "Bearer not.a.fit" } },
      h.env,
    );
    expect(response.status).toBe(401);
  });

  it("verifies a FIT exactly once per macro request", async () => {
    await h.seedSite();
    const before = h.verifications.count;
    const served = await h.call("POST", "/serve-url", { user: "viewer" });
    expect(served.status).toBe(200);
    expect(h.verifications.count - before).toBe(1);
  });

  it("refuses a valid API token (all scopes) and the valid CI secret on every macro route with 403", async () => {
    const { tenantId } = await h.seedSite();
    const { token } = await issueApiToken(new D1ApiTokenStore(h.db), {
      tenantId,
      scopes: ["sites:read", "sites:write", "tokens:manage", "tenant:admin"],
      label: "all",
    });
    const credentials: Record<string, string>[] = [
      { authorization: `Bearer ${token}` },
      { "x-mini-sites-secret": SECRET },
    ];
    for (const headers of credentials) {
      for (const [method, path] of [
        ["POST", "/serve-url"],
        ["GET", "/state"],
        ["GET", "/versions"],
        ["POST", "/rollback"],
        ["POST", "/bind"],
        ["POST", "/upload-ticket"],
        ["PUT", "/uploads/ticket/chunks/1"],
        ["POST", "/uploads/ticket/complete"],
      ] as const) {
        const response = await h.app.request(`/v1/macro${path}`, { method, headers }, h.env);
        expect(response.status, `${method} ${path}`).toBe(403);
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
          "PRINCIPAL_NOT_ALLOWED",
        );
      }
    }
  });
});
