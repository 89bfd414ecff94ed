/**
 * A paid app's Marketplace license (Forge sends `app.license` in production): when it lapses, viewers
 * get a clear refusal instead of the site, publishing is refused through every door — the macro and
 * API tokens alike — and nothing is deleted; development and staging are never refused.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueApiToken } from "../../src/auth/api-tokens.ts";
import { D1ApiTokenStore } from "../../src/db/api-tokens.ts";
import { type Harness, startHarness } from "./support.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const code = async (response: Response) =>
  ((await response.json()) as { error?: { code: string } }).error?.code;

describe("the Marketplace license", () => {
  it("refuses viewers and editors with LICENSE_INACTIVE in production when it lapsed, and deletes nothing", async () => {
    const { siteId } = await h.seedSite();
    const lapsed = { environmentType: "PRODUCTION" as const, license: { isActive: false } };
    const view = await h.call("POST", "/serve-url", lapsed);
    expect(view.status).toBe(403);
    expect(await code(view)).toBe("LICENSE_INACTIVE");
    const ticket = await h.call("POST", "/upload-ticket", { ...lapsed, user: "editor", body: { size: 10 } });
    expect(await code(ticket)).toBe("LICENSE_INACTIVE");
    // The state still answers, so the view can say why; the site is untouched.
    expect((await h.call("GET", "/state", lapsed)).status).toBe(200);
    const rows = await h.db
      .prepare("SELECT enabled, live_version FROM sites WHERE id = ?")
      .bind(siteId)
      .first();
    expect(rows).toEqual({ enabled: 1, live_version: 1 });
    // Renewed: served again.
    const renewed = await h.call("POST", "/serve-url", {
      environmentType: "PRODUCTION",
      license: { isActive: true },
    });
    expect(await renewed.json()).toMatchObject({ state: "PUBLISHED", siteId });
  });

  it("never refuses development or staging, nor an app Forge sends no license for", async () => {
    await h.seedSite();
    for (const environmentType of ["DEVELOPMENT", "STAGING"] as const)
      expect(
        (await h.call("POST", "/serve-url", { environmentType, license: { isActive: false } })).status,
      ).toBe(200);
    expect((await h.call("POST", "/serve-url", { environmentType: "PRODUCTION" })).status).toBe(200);
  });

  it("refuses an API token's publish once a production FIT said the license lapsed", async () => {
    const { tenantId, siteId } = await h.seedSite();
    const { token } = await issueApiToken(new D1ApiTokenStore(h.db), {
      tenantId,
      scopes: ["sites:read", "sites:write"],
      label: "ci",
    });
    const viewUrl = () =>
      h.app.request(
        `/v1/sites/${siteId}/view-url`,
        { method: "POST", headers: { authorization: `Bearer ${token}` } },
        h.env,
      );
    // Told "lapsed" by a production FIT (recorded after the answer).
    await h.call("POST", "/serve-url", { environmentType: "PRODUCTION", license: { isActive: false } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = await viewUrl();
    expect(refused.status).toBe(403);
    expect(await code(refused)).toBe("LICENSE_INACTIVE");
    // Management stays open.
    const list = await h.app.request("/v1/sites", { headers: { authorization: `Bearer ${token}` } }, h.env);
    expect(list.status).toBe(200);
    await h.call("POST", "/serve-url", { environmentType: "PRODUCTION", license: { isActive: true } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await viewUrl()).status).toBe(200);
  });
});
