/**
 * The control Worker's D1 migrations as the dev stack applies them: read from control/migrations in
 * the repository. The packaged CLI (`mini-sites dev` without the repository) replaces this module
 * with the same files embedded at build time (cli/build.ts), so it is the only place the stack
 * reads them from disk.
 */

import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Migration, parseMigrations } from "../../control/src/db/migrations.ts";

const MIGRATIONS_DIR = fileURLToPath(new URL("../../control/migrations/", import.meta.url));

export async function readMigrationFiles(): Promise<Migration[]> {
  const names = (await readdir(MIGRATIONS_DIR)).filter((name) => name.endsWith(".sql")).sort();
  return parseMigrations(
    await Promise.all(
      names.map(async (name) => ({ name, sql: await readFile(join(MIGRATIONS_DIR, name), "utf8") })),
    ),
  );
}
