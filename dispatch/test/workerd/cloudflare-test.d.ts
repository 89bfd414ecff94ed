/**
 * The part of `cloudflare:test` (@cloudflare/vitest-plugin) these tests use, typed over the same
 * web-standard lib as the Worker (see src/workers-runtime.d.ts for why not the plugin's own types).
 */
declare module "cloudflare:test" {
  /**
   * The dispatch Worker's bindings as vitest.config.ts configures them; TENANT_CSP and SITE_FEEDS are
   * real KV namespaces, which the tests also write (as the control Worker does).
   */
  export const env: import("../../src/env.ts").DispatchEnv & {
    readonly TENANT_CSP: import("../../src/tenant-csp.ts").TenantCspStore & {
      put(key: string, value: string): Promise<void>;
      delete(key: string): Promise<void>;
    };
    /** The monitor feeds and opt-ins, which the tests write as the control Worker does. */
    readonly SITE_FEEDS: import("../../src/site-feeds.ts").SiteFeedStore & {
      put(key: string, value: string): Promise<void>;
      delete(key: string): Promise<void>;
    };
  };
}
