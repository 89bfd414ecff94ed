/**
 * Site names are unique per tenant, ignoring case (migration 0003): the doors that make up a name —
 * a macro's first upload, a copied page's fork — number it instead of failing, and the migration
 * makes the names of existing rows unique before the index exists.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readMigrationFiles } from "../../../dev/src/control.ts";
import { getSite } from "../../src/db/sites.ts";
import { ensureTenant } from "../../src/db/tenants.ts";
import {
  APP_ID,
  BLOG_POST,
  CLOUD_ID,
  COPIED_PAGE,
  type Harness,
  INSTALLATION_ID,
  PAGE,
  startHarness,
} from "./support.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  h.confluence.setPermission("editor", COPIED_PAGE.id, ["read", "update"]);
});
afterAll(async () => {
  await h?.close();
});

const nameOf = async (tenantId: Parameters<typeof getSite>[1], siteId: string) =>
  (await getSite(h.db, tenantId, siteId as Parameters<typeof getSite>[2]))?.name;

describe("names the product makes up", () => {
  it("numbers a fork's copy of its source's name instead of failing", async () => {
    const source = await h.seedSite({ bindTo: { content: PAGE, localId: "names-source" } });
    const forks: string[] = [];
    for (const [content, localId] of [
      [BLOG_POST, "names-fork-1"],
      [COPIED_PAGE, "names-fork-2"],
    ] as const) {
      const response = await h.call("POST", "/bind", {
        user: "editor",
        content,
        localId,
        body: { siteId: source.siteId },
      });
      expect(response.status).toBe(200);
      forks.push(((await response.json()) as { siteId: string }).siteId);
    }
    const names = await Promise.all([source.siteId, ...forks].map((id) => nameOf(source.tenantId, id)));
    expect(names[0]).toMatch(/^Team dashboard( \(\d+\))?$/);
    // Each fork got a name of its own, and no two sites of the tenant share one.
    expect(new Set(names).size).toBe(3);
    for (const name of names.slice(1)) expect(name).toMatch(/^Team dashboard \(\d+\)$/);
  });

  it("gives two macros on one page their own 'Mini-site on page …' names", async () => {
    const sites: string[] = [];
    for (const localId of ["names-macro-a", "names-macro-b"]) {
      const response = await h.call("POST", "/upload-ticket", {
        user: "editor",
        localId,
        body: { size: 10 },
      });
      expect(response.status).toBe(200);
      sites.push(((await response.json()) as { siteId: string }).siteId);
    }
    const tenant = await ensureTenant(h.db, {
      forgeAppId: APP_ID,
      cloudId: CLOUD_ID,
      installationId: INSTALLATION_ID,
    });
    expect(await nameOf(tenant.id, sites[0] as string)).toBe(`Mini-site on page ${PAGE.id}`);
    expect(await nameOf(tenant.id, sites[1] as string)).toBe(`Mini-site on page ${PAGE.id} (2)`);
  });
});

describe("migration 0003_site_names", () => {
  it("keeps each name for its oldest holder and makes the others unique before the index is built", async () => {
    const tenant = await ensureTenant(h.db, {
      forgeAppId: "app-migration",
      cloudId: "cloud-migration",
      installationId: "installation-migration",
    });
    const other = await ensureTenant(h.db, {
      forgeAppId: "app-migration",
      cloudId: "cloud-migration-2",
      installationId: "installation-migration-2",
    });
    // The state before 0003: no index, so rows may share a name (in any case) within a tenant.
    await h.db.prepare("DROP INDEX sites_name_per_tenant").run();
    const rows: [string, string, string, number][] = [
      [tenant.id, "aaaaaaaaaaaaa", "Mini-site on page 7", 1],
      [tenant.id, "bbbbbbbbbbbbb", "Mini-site on page 7", 2],
      [tenant.id, "ccccccccccccc", "MINI-SITE ON PAGE 7", 3],
      [tenant.id, "ddddddddddddd", "x".repeat(200), 4],
      [tenant.id, "eeeeeeeeeeeee", "X".repeat(200), 5],
      [tenant.id, "fffffffffffff", "Alone", 6],
      // Another tenant may hold the same name: untouched.
      [other.id, "ggggggggggggg", "Mini-site on page 7", 7],
    ];
    for (const [tenantId, id, name, at] of rows)
      await h.db
        .prepare(
          "INSERT INTO sites (tenant_id, id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        )
        .bind(tenantId, id, name, at)
        .run();
    const migration = (await readMigrationFiles()).find((m) => m.name === "0003_site_names.sql");
    if (migration === undefined) throw new Error("0003_site_names.sql is missing");
    await h.db.batch(migration.queries.map((sql) => h.db.prepare(sql)));

    const { results } = await h.db
      .prepare("SELECT tenant_id, id, name FROM sites WHERE id IN (?, ?, ?, ?, ?, ?, ?) ORDER BY id")
      .bind(...rows.map((r) => r[1]))
      .all<{ tenant_id: string; id: string; name: string }>();
    expect(results.map((r) => r.name)).toEqual([
      "Mini-site on page 7",
      "Mini-site on page 7 (bbbbbbbbbbbbb)",
      "MINI-SITE ON PAGE 7 (ccccccccccccc)",
      "x".repeat(200),
      `${"X".repeat(184)} (eeeeeeeeeeeee)`,
      "Alone",
      "Mini-site on page 7",
    ]);
    // And the index holds from now on.
    const again = h.db
      .prepare("INSERT INTO sites (tenant_id, id, name, created_at, updated_at) VALUES (?, ?, ?, 8, 8)")
      .bind(tenant.id, "hhhhhhhhhhhhh", "alone")
      .run();
    await expect(again).rejects.toThrow(/UNIQUE constraint failed/);
  });
});
