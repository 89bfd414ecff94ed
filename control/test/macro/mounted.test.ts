/**
 * The Macro API mounted in the control Worker's own app (createApp), wired as src/index.ts wires it:
 * the app's /v1 middleware (request ids, body caps, authentication) must not change what the macro
 * answers; a FIT is verified once per request; no other credential reaches a macro route.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "./support.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ inControlApp: true });
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

  it.each([
    ["an API token", { authorization: `Bearer ms_${"a".repeat(43)}` }],
    ["the CI shared secret", { "x-mini-sites-secret": "x".repeat(40) }],
  ])("refuses %s on every macro route with 401 AUTH_METHOD_NOT_ACCEPTED", async (_name, headers) => {
    await h.seedSite();
    for (const [method, path] of [
      ["POST", "/serve-url"],
      ["GET", "/state"],
      ["POST", "/bind"],
      ["POST", "/upload-ticket"],
      ["PUT", "/uploads/ticket/chunks/1"],
      ["POST", "/uploads/ticket/complete"],
    ] as const) {
      const response = await h.app.request(`/v1/macro${path}`, { method, headers }, h.env);
      expect(response.status, `${method} ${path}`).toBe(401);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
        "AUTH_METHOD_NOT_ACCEPTED",
      );
    }
  });
});
