/**
 * The data layer against a real D1: tenants allocated under UNIQUE constraints, versions numbered
 * without collisions, and the schema refusing what the code must never do (DESIGN §6.3, §6.5).
 */

import { type RandomBytes, type SiteId, TENANT_SHORT_ID_BYTES } from "@mini-sites/core";
import { describe, expect, it } from "vitest";
import { createSite, getSite } from "../../src/db/sites.ts";
import { ensureTenant, getTenant, TENANT_ID_ATTEMPTS, TenantIdExhausted } from "../../src/db/tenants.ts";
import { getVersion, insertVersion, listVersions, transitionVersion } from "../../src/db/versions.ts";
import { contentHash, newTenant, siteWithVersions, testEnv } from "./helpers.ts";

const db = testEnv.DB;

/** Returns the given byte strings in turn (then repeats the last): forces short-id collisions. */
function scripted(...values: number[][]): RandomBytes {
  let i = 0;
  return (length) => {
    const value = values[Math.min(i++, values.length - 1)] as number[];
    return new Uint8Array(value.slice(0, length).concat(Array(Math.max(0, length - value.length)).fill(0)));
  };
}

const installation = (label: string) => ({
  forgeAppId: `app-${label}-${crypto.randomUUID()}`,
  cloudId: `cloud-${label}`,
  installationId: `inst-${label}-${crypto.randomUUID()}`,
});

describe("tenants", () => {
  it("gives one installation one tenant, even when its first requests arrive together", async () => {
    const install = installation("race");
    const tenants = await Promise.all(Array.from({ length: 10 }, () => ensureTenant(db, install)));
    expect(new Set(tenants.map((t) => t.id)).size).toBe(1);
    expect(tenants[0]).toMatchObject({
      forgeAppId: install.forgeAppId,
      cloudId: "cloud-race",
      status: "active",
    });
  });

  it("keeps sibling apps on one Confluence site apart: same cloudId, different app id, different tenants", async () => {
    const a = await ensureTenant(db, { ...installation("sibling"), cloudId: "shared-cloud" });
    const b = await ensureTenant(db, { ...installation("sibling"), cloudId: "shared-cloud" });
    expect(a.id).not.toBe(b.id);
  });

  it("retries a colliding random short id and takes the next free one", async () => {
    const taken = crypto.getRandomValues(new Uint8Array(TENANT_SHORT_ID_BYTES));
    const free = crypto.getRandomValues(new Uint8Array(TENANT_SHORT_ID_BYTES));
    const first = await ensureTenant(db, installation("first"), { random: scripted([...taken]) });
    const second = await ensureTenant(db, installation("second"), {
      random: scripted([...taken], [...free]),
    });
    expect(second.id).not.toBe(first.id);
    expect(await getTenant(db, second.id)).toMatchObject({ id: second.id });
  });

  it(`gives up with a typed error after ${TENANT_ID_ATTEMPTS} colliding short ids`, async () => {
    const taken = crypto.getRandomValues(new Uint8Array(TENANT_SHORT_ID_BYTES));
    await ensureTenant(db, installation("holder"), { random: scripted([...taken]) });
    await expect(
      ensureTenant(db, installation("unlucky"), { random: scripted([...taken]) }),
    ).rejects.toBeInstanceOf(TenantIdExhausted);
  });

  it("takes a tenant's sites, versions and bindings with it when the tenant row is purged", async () => {
    const tenant = await newTenant();
    const { site } = await siteWithVersions(tenant, 2);
    await db
      .prepare(
        `INSERT INTO macro_bindings (tenant_id, cloud_id, content_id, local_id, site_id, created_by, created_at, updated_at)
         VALUES (?, 'c', '123', 'l', ?, 'forge:u', 0, 0)`,
      )
      .bind(tenant, site.id)
      .run();
    await db.prepare("DELETE FROM tenants WHERE id = ?").bind(tenant).run();
    for (const table of ["sites", "versions", "macro_bindings"]) {
      const row = await db
        .prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE tenant_id = ?`)
        .bind(tenant)
        .first<{ n: number }>();
      expect(row?.n, table).toBe(0);
    }
  });
});

describe("sites", () => {
  it("finds a site only within its own tenant", async () => {
    const owner = await newTenant();
    const site = await createSite(db, owner, { name: "mine", notFoundHandling: "single-page-application" });
    expect(await getSite(db, owner, site.id)).toMatchObject({
      name: "mine",
      notFoundHandling: "single-page-application",
    });
    expect(await getSite(db, await newTenant(), site.id)).toBeUndefined();
  });

  it("refuses a row that names another tenant's site, in the database itself", async () => {
    const owner = await newTenant();
    const other = await newTenant();
    const { site } = await siteWithVersions(owner, 1);
    await expect(
      db
        .prepare(
          `INSERT INTO versions (tenant_id, site_id, number, content_hash, status, size_bytes, file_count, published_by, created_at, status_at)
           VALUES (?, ?, 2, ?, 'staging', 1, 1, 'x', 0, 0)`,
        )
        .bind(other, site.id, contentHash("cross"))
        .run(),
    ).rejects.toThrow(/FOREIGN KEY/);
  });
});

describe("versions", () => {
  it("numbers concurrent publishes to one site 1…n without a duplicate", async () => {
    const tenant = await newTenant();
    const site = await createSite(db, tenant, { name: "busy" });
    const versions = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        insertVersion(db, tenant, site.id, {
          contentHash: contentHash(`busy-${i}`),
          sizeBytes: i,
          fileCount: 1,
          publishedBy: "ci",
        }),
      ),
    );
    expect(versions.map((v) => v?.number).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
  });

  it("will not stage a version on another tenant's site or on a missing one", async () => {
    const { site } = await siteWithVersions(await newTenant(), 1);
    const input = { contentHash: contentHash("x"), sizeBytes: 1, fileCount: 1, publishedBy: "ci" };
    expect(await insertVersion(db, await newTenant(), site.id, input)).toBeUndefined();
    expect(await insertVersion(db, await newTenant(), "aaaaaaaaaaaaa" as SiteId, input)).toBeUndefined();
  });

  it("never changes a version's content once written", async () => {
    const tenant = await newTenant();
    const { site } = await siteWithVersions(tenant, 1);
    for (const assignment of ["content_hash = ?", "message = ?", "published_by = ?"]) {
      await expect(
        db
          .prepare(`UPDATE versions SET ${assignment} WHERE site_id = ? AND number = 1`)
          .bind(assignment.startsWith("content") ? contentHash("other") : "changed", site.id)
          .run(),
      ).rejects.toThrow(/VERSION_IMMUTABLE/);
    }
  });

  it("moves status only along staging → provisioning → live → superseded, with failures carrying a code", async () => {
    const tenant = await newTenant();
    const { site } = await siteWithVersions(tenant, 2);
    const move = (number: number, from: string, to: string, failureCode?: string) =>
      transitionVersion(db, tenant, site.id, number, {
        from: from as "staging",
        to: to as "live",
        ...(failureCode === undefined ? {} : { failureCode }),
      });
    await expect(move(1, "staging", "live")).rejects.toThrow(/VERSION_TRANSITION/);
    expect(await move(1, "staging", "provisioning")).toBe(true);
    expect(await move(1, "staging", "provisioning")).toBe(false); // compare-and-set: already moved
    expect(await move(1, "provisioning", "live")).toBe(true);
    expect(await move(1, "live", "superseded")).toBe(true);
    await expect(move(2, "staging", "failed")).rejects.toThrow(/CHECK constraint/); // no failure code
    expect(await move(2, "staging", "failed", "SMOKE_CHECK_FAILED")).toBe(true);
    await expect(move(2, "failed", "provisioning")).rejects.toThrow(/VERSION_TRANSITION/);
    expect(await getVersion(db, tenant, site.id, 2)).toMatchObject({
      status: "failed",
      failureCode: "SMOKE_CHECK_FAILED",
    });
  });

  it("lists versions only when asked with the owning tenant", async () => {
    const owner = await newTenant();
    const { site } = await siteWithVersions(owner, 3);
    expect((await listVersions(db, owner, site.id, { limit: 10 })).items).toHaveLength(3);
    expect((await listVersions(db, await newTenant(), site.id, { limit: 10 })).items).toHaveLength(0);
  });
});
