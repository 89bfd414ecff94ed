/**
 * `wrangler deploy --dry-run` succeeds offline for every environment of wrangler-dispatch.toml
 * (DESIGN §8): the config parses, the Worker bundles, and the DISPATCHER namespace binding is declared.
 */

import { describe, expect, it } from "vitest";
import { dryRunDeploy } from "../../dev/src/wrangler.ts";

describe("wrangler-dispatch.toml", () => {
  it.each(["", "staging", "production"])(
    "deploys with --dry-run for env '%s'",
    async (environment) => {
      const { code, stdout, stderr } = await dryRunDeploy("dispatch/wrangler-dispatch.toml", environment);
      expect(code, stderr).toBe(0);
      expect(stdout).toContain("--dry-run: exiting now.");
      expect(stdout).toMatch(/env\.DISPATCHER \(mini-sites-(dev|staging|production)\)\s+Dispatch Namespace/);
      expect(stdout).toContain("env.SITES_DOMAIN");
    },
    120_000,
  );
});
