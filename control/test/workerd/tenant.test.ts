/**
 * The tenant's own settings and usage, for its admins: CSP allow-lists checked source by source and
 * audited, usage against the quotas; nothing of another tenant, nothing for a narrower token.
 */

import { describe, expect, it } from "vitest";
import { as, expectError, newTenant, principalFor, siteWithVersions, testEnv } from "./helpers.ts";

const JSON_HEADERS = { "content-type": "application/json" };

describe("/v1/tenant/settings", () => {
  it("starts empty, takes valid host sources, and audits the change with the previous lists", async () => {
    const tenant = await newTenant();
    const admin = as(principalFor(tenant, ["tenant:admin"]));
    expect(await (await admin("/v1/tenant/settings")).json()).toMatchObject({
      cdnAllowList: [],
      connectAllowList: [],
    });
    const put = await admin("/v1/tenant/settings", {
      method: "PUT",
      headers: JSON_HEADERS,
      body: JSON.stringify({
        cdnAllowList: ["https://cdn.example.com"],
        connectAllowList: ["wss://live.example.com"],
      }),
    });
    expect(put.status).toBe(200);
    expect(await (await admin("/v1/tenant/settings")).json()).toMatchObject({
      cdnAllowList: ["https://cdn.example.com"],
      connectAllowList: ["wss://live.example.com"],
      updatedBy: expect.stringMatching(/^api-token:/),
    });
    const row = await testEnv.DB.prepare(
      "SELECT detail FROM audit_entries WHERE tenant_id = ? AND action = 'tenant.settings'",
    )
      .bind(tenant)
      .first<{ detail: string }>();
    expect(JSON.parse(row?.detail ?? "{}")).toMatchObject({ previous: { cdnAllowList: [] } });
  });

  it("refuses a source that would widen or break the CSP, naming its index, and changes nothing", async () => {
    const tenant = await newTenant();
    const admin = as(principalFor(tenant, ["tenant:admin"]));
    const refused = await expectError(
      await admin("/v1/tenant/settings", {
        method: "PUT",
        headers: JSON_HEADERS,
        body: JSON.stringify({
          cdnAllowList: ["https://ok.example.com", "https://x.example.com; script-src *"],
          connectAllowList: [],
        }),
      }),
      400,
      "INVALID_REQUEST",
    );
    expect(refused.error.issues?.[0]?.path).toBe("json.cdnAllowList.1");
    expect(await (await admin("/v1/tenant/settings")).json()).toMatchObject({ cdnAllowList: [] });
  });

  it("is the tenant's own: another tenant's admin sees its own defaults, a narrower token nothing", async () => {
    const tenant = await newTenant();
    await as(principalFor(tenant, ["tenant:admin"]))("/v1/tenant/settings", {
      method: "PUT",
      headers: JSON_HEADERS,
      body: JSON.stringify({ cdnAllowList: ["https://mine.example.com"], connectAllowList: [] }),
    });
    const other = await (
      await as(principalFor(await newTenant(), ["tenant:admin"]))("/v1/tenant/settings")
    ).json();
    expect(JSON.stringify(other)).not.toContain("mine.example.com");
    await expectError(
      await as(principalFor(tenant, ["sites:write"]))("/v1/tenant/settings"),
      403,
      "INSUFFICIENT_SCOPE",
    );
  });
});

describe("/v1/tenant/usage", () => {
  it("counts the tenant's sites and stored bytes against its quotas", async () => {
    const tenant = await newTenant();
    await siteWithVersions(tenant, 2);
    const usage = (await (await as(principalFor(tenant, ["tenant:admin"]))("/v1/tenant/usage")).json()) as {
      sites: { count: number; max: number };
      storedBytes: { used: number; max: number };
      publishes: { inWindow: number; max: number };
    };
    expect(usage.sites).toMatchObject({ count: 1, max: 1_000 });
    expect(usage.storedBytes.used).toBe(3_000);
    expect(usage.publishes.max).toBeGreaterThan(0);
  });
});
