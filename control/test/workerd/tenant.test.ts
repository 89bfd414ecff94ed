/**
 * The tenant's own settings and usage, for its admins: CSP allow-lists checked source by source and
 * audited, usage against the quotas; nothing of another tenant, nothing for a narrower token.
 */

import type { TenantShortId } from "@mini-sites/core";
import { describe, expect, it } from "vitest";
import { proposeTenantBranding } from "../../src/db/tenant-branding.ts";
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

describe("the tenant's branding (display name, support link)", () => {
  const put = (tenant: TenantShortId, body: unknown) =>
    as(principalFor(tenant, ["tenant:admin"]))("/v1/tenant/settings", {
      method: "PUT",
      headers: JSON_HEADERS,
      body: JSON.stringify(body),
    });
  const read = async (tenant: TenantShortId) =>
    (await (await as(principalFor(tenant, ["tenant:admin"]))("/v1/tenant/settings")).json()) as Record<
      string,
      unknown
    >;

  it("is empty until set; an admin sets it alone, leaving the allow-lists as they were, and it is audited", async () => {
    const tenant = await newTenant();
    expect(await read(tenant)).toMatchObject({ displayName: null, supportUrl: null });
    await put(tenant, { cdnAllowList: ["https://cdn.example.com"], connectAllowList: [] });
    const saved = await put(tenant, {
      displayName: "  Acme Engineering  ",
      supportUrl: "https://help.acme.example/mini-sites",
    });
    expect(saved.status).toBe(200);
    expect(await read(tenant)).toMatchObject({
      displayName: "Acme Engineering",
      supportUrl: "https://help.acme.example/mini-sites",
      cdnAllowList: ["https://cdn.example.com"],
    });
    const row = await testEnv.DB.prepare(
      "SELECT detail FROM audit_entries WHERE tenant_id = ? AND action = 'tenant.branding'",
    )
      .bind(tenant)
      .first<{ detail: string }>();
    expect(JSON.parse(row?.detail ?? "{}")).toMatchObject({
      displayName: "Acme Engineering",
      previous: { displayName: null, supportUrl: null },
      source: "admin",
    });
  });

  it("refuses names with control or text-direction characters and links that are not https, changing nothing", async () => {
    const tenant = await newTenant();
    await put(tenant, { displayName: "Original", supportUrl: "https://original.example.com/" });
    for (const [body, path] of [
      [{ displayName: "Acme\u202enimda" }, "json.displayName"],
      [{ displayName: "two\nlines" }, "json.displayName"],
      [{ displayName: "x".repeat(81) }, "json.displayName"],
      [{ displayName: "   " }, "json.displayName"],
      [{ supportUrl: "javascript:alert(1)" }, "json.supportUrl"],
      [{ supportUrl: "http://help.example.com/" }, "json.supportUrl"],
      [{ supportUrl: "https://user:pass@help.example.com/" }, "json.supportUrl"],
      [{ supportUrl: "data:text/html,<script>alert(1)</script>" }, "json.supportUrl"],
      [{ supportUrl: `https://help.example.com/${"a".repeat(2048)}` }, "json.supportUrl"],
    ] as const) {
      const refused = await expectError(await put(tenant, body), 400, "INVALID_REQUEST");
      expect(refused.error.issues?.[0]?.path, JSON.stringify(body)).toBe(path);
    }
    expect(await read(tenant)).toMatchObject({
      displayName: "Original",
      supportUrl: "https://original.example.com/",
    });
  });

  it("is written by registration only where unset: never over the app's earlier value or the admin's", async () => {
    const tenant = await newTenant();
    expect(
      await proposeTenantBranding(testEnv.DB, tenant, { displayName: "First", supportUrl: null }, 1),
    ).toBe(true);
    // A later registration fills the link the first one did not give, and nothing else.
    expect(
      await proposeTenantBranding(
        testEnv.DB,
        tenant,
        { displayName: "Second", supportUrl: "https://second.example.com/" },
        2,
      ),
    ).toBe(true);
    expect(
      await proposeTenantBranding(
        testEnv.DB,
        tenant,
        { displayName: "Third", supportUrl: "https://third.example.com/" },
        3,
      ),
    ).toBe(false);
    expect(await read(tenant)).toMatchObject({
      displayName: "First",
      supportUrl: "https://second.example.com/",
    });
    await put(tenant, { displayName: "Chosen by the admin" });
    await proposeTenantBranding(testEnv.DB, tenant, { displayName: "Fourth", supportUrl: null }, 4);
    expect(await read(tenant)).toMatchObject({
      displayName: "Chosen by the admin",
      supportUrl: "https://second.example.com/",
    });
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
