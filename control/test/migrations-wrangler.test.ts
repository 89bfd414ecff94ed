/**
 * The migration runner agrees with wrangler: it splits control/migrations/*.sql into the same
 * statements as wrangler's own splitter (via @cloudflare/vitest-plugin's readD1Migrations), and a
 * database migrated by `wrangler d1 migrations apply --local` (offline) is up to date for our runner,
 * which then applies nothing — so the dev stack, the tests and production share one bookkeeping table.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readD1Migrations } from "@cloudflare/vitest-plugin";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runWrangler } from "../../dev/src/wrangler.ts";
import type { D1Database } from "../src/db/d1.ts";
import { applyMigrations, splitSqlStatements } from "../src/db/migrations.ts";
import { MIGRATIONS_DIR, readMigrations } from "./support/migrations.ts";

/** database_id of the top-level [[d1_databases]] in wrangler-control.toml: wrangler names the local file by it. */
const DEV_DATABASE_ID = "00000000-0000-0000-0000-000000000000";

const normalize = (sql: string) =>
  sql
    .replace(/--[^\n]*/g, "")
    .replace(/\s+/g, " ")
    .replace(/;\s*$/, "")
    .trim();

describe("splitSqlStatements", () => {
  it("splits control/migrations exactly as wrangler does", async () => {
    const ours = readMigrations();
    const theirs = await readD1Migrations(MIGRATIONS_DIR);
    expect(ours.map((m) => m.name)).toEqual(theirs.map((m) => m.name));
    for (const [i, migration] of ours.entries())
      expect(migration.queries.map(normalize)).toEqual((theirs[i]?.queries ?? []).map(normalize));
  });

  it("keeps a trigger body whole and ignores semicolons in quotes and comments", () => {
    const sql = `
      -- a comment; with a semicolon
      CREATE TABLE t (a TEXT DEFAULT 'x;y'); /* block; comment */
      CREATE TRIGGER t_guard BEFORE UPDATE ON t
      BEGIN
        SELECT CASE WHEN NEW.a = 'it''s; fine' THEN RAISE(ABORT, 'no; way') END;
        SELECT 1;
      END;
      INSERT INTO t VALUES ("q;q")`;
    const statements = splitSqlStatements(sql).map(normalize);
    expect(statements).toHaveLength(3);
    expect(statements[0]).toBe("CREATE TABLE t (a TEXT DEFAULT 'x;y')");
    expect(statements[1]).toMatch(/^CREATE TRIGGER t_guard .* SELECT 1; END$/);
    expect(statements[2]).toBe('INSERT INTO t VALUES ("q;q")');
  });
});

describe("wrangler d1 migrations apply --local, then our runner", () => {
  let scratch: string;
  let mf: Miniflare | undefined;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "control-migrations-"));
  });

  afterAll(async () => {
    await mf?.dispose();
    await rm(scratch, { recursive: true, force: true });
  });

  it("finds nothing left to apply in a database wrangler migrated offline", async () => {
    const state = join(scratch, "state");
    const { code, stdout, stderr } = await runWrangler(
      [
        "d1",
        "migrations",
        "apply",
        "DB",
        "-c",
        "control/wrangler-control.toml",
        "--local",
        "--persist-to",
        state,
      ],
      { env: { CI: "true" } },
    );
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/0001_init\.sql\s*│\s*✅/);
    // Miniflare 5 (what wrangler 4.156 runs) keeps wrangler's local state under <persist>/v3.
    mf = new Miniflare({
      port: 0,
      cf: false,
      resourcePersistencePath: join(state, "v3"),
      workers: [
        {
          config: {
            name: "migrations-check",
            compatibilityDate: "2026-11-01",
            manifest: {
              mainModule: "w.js",
              modules: {
                "w.js": {
                  type: "esm",
                  contents: "export default { fetch() { return new Response(null, { status: 404 }); } }",
                },
              },
            },
            env: { DB: { type: "d1", id: DEV_DATABASE_ID } },
          },
        },
      ],
    });
    const db = (await mf.getD1Database("DB")) as unknown as D1Database;
    const names = readMigrations().map((m) => m.name);
    expect(await applyMigrations(db, readMigrations())).toEqual({ applied: [], skipped: names });
    const tables = await db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'audit_entries'")
      .all<{ name: string }>();
    expect(tables.results).toHaveLength(1);
  }, 120_000);
});
