/**
 * The part of `cloudflare:test` (@cloudflare/vitest-plugin) these tests use, typed over the control
 * Worker's own binding interfaces (see src/db/d1.ts for why not @cloudflare/workers-types).
 */
declare module "cloudflare:test" {
  /** The control Worker's bindings as vitest.config.ts configures them, plus test-only databases. */
  export const env: import("../../src/env.ts").ControlEnv & {
    readonly AUDIT_TEST_DB: import("../../src/db/d1.ts").D1Database;
    readonly MIGRATIONS_TEST_DB: import("../../src/db/d1.ts").D1Database;
    readonly TEST_MIGRATIONS: import("../../src/db/migrations.ts").Migration[];
  };
}
