/**
 * control/migrations/*.sql apply through the D1 binding to an empty database, record themselves in
 * wrangler's `d1_migrations` table, and applying again changes nothing.
 */

import { describe, expect, it } from "vitest";
import { applyMigrations, MIGRATIONS_TABLE } from "../../src/db/migrations.ts";
import { testEnv } from "./helpers.ts";

const db = testEnv.MIGRATIONS_TEST_DB;
const TABLES = [
  "api_tokens",
  "audit_entries",
  "denial_counts",
  "jobs",
  "macro_bindings",
  "sites",
  "tenants",
  "upload_tickets",
  "versions",
];

async function schema(): Promise<string[]> {
  const { results } = await db
    .prepare(
      "SELECT type || ':' || name AS item FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY 1",
    )
    .all<{ item: string }>();
  return results.map((r) => r.item);
}

describe("applyMigrations", () => {
  it("builds the whole schema on an empty database and records each migration once", async () => {
    expect(await schema()).toEqual([]);
    const report = await applyMigrations(db, testEnv.TEST_MIGRATIONS);
    const names = testEnv.TEST_MIGRATIONS.map((m) => m.name);
    expect(names.slice(0, 2)).toEqual(["0001_init.sql", "0002_authorization.sql"]);
    expect(report).toEqual({ applied: names, skipped: [] });
    const items = await schema();
    for (const table of TABLES) expect(items).toContain(`table:${table}`);
    expect(items).toContain("index:sites_by_tenant");
    expect(items).toContain("trigger:audit_entries_no_update");
    const { results } = await db.prepare(`SELECT id, name, applied_at FROM ${MIGRATIONS_TABLE}`).all();
    expect(results).toEqual(names.map((name, i) => ({ id: i + 1, name, applied_at: expect.any(String) })));
  });

  it("is idempotent: a second run applies nothing and leaves the schema as it was", async () => {
    await applyMigrations(db, testEnv.TEST_MIGRATIONS);
    const before = await schema();
    expect(await applyMigrations(db, testEnv.TEST_MIGRATIONS)).toEqual({
      applied: [],
      skipped: testEnv.TEST_MIGRATIONS.map((m) => m.name),
    });
    expect(await schema()).toEqual(before);
  });

  it("uses the tenant index for a page of one tenant's sites (no table scan)", async () => {
    await applyMigrations(db, testEnv.TEST_MIGRATIONS);
    const { results } = await db
      .prepare(
        "EXPLAIN QUERY PLAN SELECT id FROM sites WHERE tenant_id = ? AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT 51",
      )
      .bind("abcde", 1, "x")
      .all<{ detail: string }>();
    const plan = results.map((r) => r.detail).join(" | ");
    expect(plan).toMatch(/USING (COVERING )?INDEX sites_by_tenant/);
    expect(plan).not.toMatch(/USE TEMP B-TREE/);
  });
});
