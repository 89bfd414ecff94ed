/**
 * `wrangler deploy --dry-run` succeeds offline for every environment of wrangler-dispatch.toml
 * (DESIGN §8): the config parses, the Worker bundles, the DISPATCHER namespace binding is declared, and
 * TENANT_CSP and SITE_FEEDS name the same KV namespaces as the control Worker's in that environment.
 */

import { describe, expect, it } from "vitest";
import { dryRunDeploy } from "../../dev/src/wrangler.ts";
import { kvNamespaceId } from "../../dev/test/fixtures/wrangler-config.ts";

describe("wrangler-dispatch.toml", () => {
  it.each(["", "staging", "production"])(
    "deploys with --dry-run for env '%s'",
    async (environment) => {
      const { code, stdout, stderr } = await dryRunDeploy("dispatch/wrangler-dispatch.toml", environment);
      expect(code, stderr).toBe(0);
      expect(stdout).toContain("--dry-run: exiting now.");
      expect(stdout).toMatch(/env\.DISPATCHER \(mini-sites-(dev|staging|production)\)\s+Dispatch Namespace/);
      expect(stdout).toContain("env.SITES_DOMAIN");
      // The KV namespaces both Workers share: the same id on each side, in every environment.
      for (const binding of ["TENANT_CSP", "SITE_FEEDS"]) {
        const id = kvNamespaceId("control/wrangler-control.toml", environment, binding);
        expect(id, binding).toMatch(/^[0-9a-f]{32}$/);
        expect(stdout).toMatch(new RegExp(`env\\.${binding} \\(${id}\\)\\s+KV Namespace`));
      }
    },
    120_000,
  );
});
