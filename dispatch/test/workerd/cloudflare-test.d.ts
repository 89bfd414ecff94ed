/**
 * The part of `cloudflare:test` (@cloudflare/vitest-plugin) these tests use, typed over the same
 * web-standard lib as the Worker (see src/workers-runtime.d.ts for why not the plugin's own types).
 */
declare module "cloudflare:test" {
  /** The dispatch Worker's bindings as vitest.config.ts configures them. */
  export const env: import("../../src/env.ts").DispatchEnv;
}
