/**
 * Applies control/migrations/*.sql to a D1 database through its binding — the same files and the
 * same bookkeeping table as `wrangler d1 migrations apply`, so a database migrated by either one is
 * up to date for the other (checked by control/test/migrations-wrangler.test.ts).
 *
 * Used by the dev stack (Miniflare's `getD1Database("DB")` from Node) and by the tests (inside
 * workerd); production uses `wrangler d1 migrations apply DB --remote`. Each migration runs as ONE
 * `batch()` — D1 runs a batch as a transaction — together with its `d1_migrations` row, so a failing
 * migration leaves neither half its tables nor a record claiming it ran.
 *
 * Why a hand-written splitter: D1 prepares one statement at a time, and wrangler's splitter is not
 * exported as a library (the vitest plugin's `readD1Migrations` is Node- and test-only). Ours only
 * has to understand SQL we write ourselves: quotes, comments and CREATE TRIGGER … BEGIN … END bodies.
 */

import type { D1Database } from "./d1.ts";

/** Wrangler's default `migrations_table`; the columns below are wrangler's, byte for byte. */
export const MIGRATIONS_TABLE = "d1_migrations";

export interface Migration {
  /** The file name, e.g. `0001_init.sql`: what wrangler records. */
  readonly name: string;
  readonly queries: readonly string[];
}

/** A migration file as read from disk (Node) or bundled as text. */
export interface MigrationFile {
  readonly name: string;
  readonly sql: string;
}

/** Wrangler's naming rule: files are applied in name order, and names start with a number. */
const MIGRATION_NAME = /^[0-9]{4}_[a-z0-9_]+\.sql$/;

/** Splits a migration file into statements (without trailing `;`), dropping comments-only text. */
export function splitSqlStatements(sql: string): string[] {
  const statements: string[] = [];
  let current = "";
  let depth = 0; // BEGIN … END nesting inside a CREATE TRIGGER (CASE … END nests too)
  let isTrigger = false;
  let hasCode = false;
  let i = 0;
  const flush = () => {
    const text = current.trim();
    if (hasCode && text !== "") statements.push(text);
    current = "";
    depth = 0;
    isTrigger = false;
    hasCode = false;
  };
  while (i < sql.length) {
    const ch = sql[i] as string;
    const next = sql[i + 1];
    if (ch === "-" && next === "-") {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? sql.length : end;
      continue;
    }
    if (ch === "/" && next === "*") {
      const end = sql.indexOf("*/", i + 2);
      if (end === -1) throw new SyntaxError("unterminated /* comment in migration");
      i = end + 2;
      current += " ";
      continue;
    }
    if (ch === "'" || ch === '"' || ch === "`" || ch === "[") {
      const close = ch === "[" ? "]" : ch;
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) throw new SyntaxError(`unterminated ${ch} quote in migration`);
        if (sql[j] === close) {
          if (close !== "]" && sql[j + 1] === close) {
            j += 2; // '' or "" escapes the quote
            continue;
          }
          break;
        }
        j++;
      }
      current += sql.slice(i, j + 1);
      hasCode = true;
      i = j + 1;
      continue;
    }
    if (/[A-Za-z_]/.test(ch)) {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j] as string)) j++;
      const word = sql.slice(i, j).toUpperCase();
      if (word === "TRIGGER" && /^\s*CREATE\s+(TEMP\s+|TEMPORARY\s+)?$/i.test(current)) isTrigger = true;
      if (isTrigger && (word === "BEGIN" || word === "CASE")) depth++;
      if (isTrigger && word === "END" && depth > 0) depth--;
      current += sql.slice(i, j);
      hasCode = true;
      i = j;
      continue;
    }
    if (ch === ";" && depth === 0) {
      flush();
      i++;
      continue;
    }
    if (!/\s/.test(ch)) hasCode = true;
    current += ch;
    i++;
  }
  flush();
  return statements;
}

/** Parses migration files into migrations, in name order; refuses names wrangler would not apply in the same order. */
export function parseMigrations(files: readonly MigrationFile[]): Migration[] {
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const seen = new Set<string>();
  return sorted.map((file) => {
    if (!MIGRATION_NAME.test(file.name))
      throw new RangeError(`migration file name must look like 0001_name.sql: ${file.name}`);
    const number = file.name.slice(0, 4);
    if (seen.has(number)) throw new RangeError(`two migrations share the number ${number}`);
    seen.add(number);
    return { name: file.name, queries: splitSqlStatements(file.sql) };
  });
}

export interface MigrationReport {
  /** Names applied by this call, in order. */
  readonly applied: string[];
  /** Names that were already recorded as applied. */
  readonly skipped: string[];
}

/**
 * Applies every migration not yet recorded in `d1_migrations`, in order. Idempotent: a second call
 * applies nothing. Two processes racing on an empty database: the loser's batch fails on the UNIQUE
 * `name` (or on CREATE TABLE of an existing table) and rolls back whole.
 */
export async function applyMigrations(
  db: D1Database,
  migrations: readonly Migration[],
): Promise<MigrationReport> {
  await db
    .prepare(
      `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE}(
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT UNIQUE,
    applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)`,
    )
    .run();
  const { results } = await db
    .prepare(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`)
    .all<{ name: string }>();
  const done = new Set(results.map((row) => row.name));
  const applied: string[] = [];
  const skipped: string[] = [];
  for (const migration of migrations) {
    if (done.has(migration.name)) {
      skipped.push(migration.name);
      continue;
    }
    await db.batch([
      ...migration.queries.map((query) => db.prepare(query)),
      db.prepare(`INSERT INTO ${MIGRATIONS_TABLE} (name) VALUES (?)`).bind(migration.name),
    ]);
    applied.push(migration.name);
  }
  return { applied, skipped };
}
