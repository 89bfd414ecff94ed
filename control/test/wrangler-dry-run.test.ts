/**
 * `wrangler deploy --dry-run` succeeds offline for every environment of wrangler-control.toml
 * (DESIGN §8): the config parses, the Worker bundles, and D1, R2, the Workflow, the vars and the
 * TENANT_CSP and SITE_FEEDS namespaces (the same ids as the dispatch Worker's in that environment) are bound.
 * (Wrangler refuses the config unless the entry exports the Workflow's class, ProvisionVersion.)
 */

import { describe, expect, it } from "vitest";
import { dryRunDeploy } from "../../dev/src/wrangler.ts";
import { kvNamespaceId } from "../../dev/test/fixtures/wrangler-config.ts";

describe("wrangler-control.toml", () => {
  it.each(["", "staging", "production"])(
    "deploys with --dry-run for env '%s'",
    async (environment) => {
      const { code, stdout, stderr } = await dryRunDeploy("control/wrangler-control.toml", environment);
      expect(code, stderr).toBe(0);
      const suffix = environment || "dev";
      expect(stdout).toContain("--dry-run: exiting now.");
      expect(stdout).toMatch(new RegExp(`env\\.DB \\(mini-sites-control-${suffix}\\)\\s+D1 Database`));
      expect(stdout).toMatch(new RegExp(`env\\.BUNDLES \\(mini-sites-bundles-${suffix}\\)\\s+R2 Bucket`));
      expect(stdout).toMatch(/env\.PROVISION_VERSION \(ProvisionVersion\)\s+Workflow/);
      // The KV namespaces both Workers share: the same id on each side, in every environment.
      for (const binding of ["TENANT_CSP", "SITE_FEEDS"]) {
        const id = kvNamespaceId("dispatch/wrangler-dispatch.toml", environment, binding);
        expect(id, binding).toMatch(/^[0-9a-f]{32}$/);
        expect(stdout).toMatch(new RegExp(`env\\.${binding} \\(${id}\\)\\s+KV Namespace`));
      }
      for (const name of [
        "APP_PID",
        "WFP_ACCOUNT_ID",
        "WFP_NAMESPACE",
        "DISPATCH_BASE_URL",
        "SITES_DOMAIN",
        "ALLOWED_FORGE_APP_IDS",
        "FORGE_JWKS_URL",
      ])
        expect(stdout).toContain(`env.${name}`);
    },
    120_000,
  );
});
