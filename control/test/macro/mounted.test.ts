/**
 * The Macro API mounted in the control Worker's own app (createApp), as the lead wires it: the app's
 * /v1 middleware (request ids, body caps, default authentication) must not change what the macro answers.
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
});
