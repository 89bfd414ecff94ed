/**
 * Reads control/migrations/*.sql from disk (Node side: vitest.config.ts, Node tests, the dev stack)
 * into the migrations that control/src/db/migrations.ts applies through a D1 binding.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Migration, parseMigrations } from "../../src/db/migrations.ts";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations/", import.meta.url));

export function readMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith(".sql"))
    .map((name) => ({ name, sql: readFileSync(join(dir, name), "utf8") }));
  return parseMigrations(files);
}
