/**
 * Before each test file: the Worker's databases carry the current schema. Applying is idempotent; if
 * test files share storage and race on an empty database, the loser's batch rolls back and the
 * second call finds everything applied.
 */

import { env } from "cloudflare:test";
import type { D1Database } from "../../src/db/d1.ts";
import { applyMigrations } from "../../src/db/migrations.ts";

async function migrate(db: D1Database): Promise<void> {
  try {
    await applyMigrations(db, env.TEST_MIGRATIONS);
  } catch {
    await applyMigrations(db, env.TEST_MIGRATIONS);
  }
}

await migrate(env.DB);
await migrate(env.AUDIT_TEST_DB);
