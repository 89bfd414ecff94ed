/**
 * `wrangler deploy --dry-run` succeeds offline for every environment of wrangler-dispatch.toml
 * (DESIGN §8): the config parses, the Worker bundles, and the DISPATCHER namespace binding is declared.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runWrangler } from "../../dev/src/wrangler.ts";

describe("wrangler-dispatch.toml", () => {
  let scratch: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "dispatch-dry-run-"));
  });

  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it.each(["", "staging", "production"])(
    "deploys with --dry-run for env '%s'",
    async (environment) => {
      const { code, stdout, stderr } = await runWrangler([
        "deploy",
        "--dry-run",
        "-c",
        "dispatch/wrangler-dispatch.toml",
        "--outdir",
        join(scratch, environment || "top"),
        `--env=${environment}`,
      ]);
      expect(code, stderr).toBe(0);
      expect(stdout).toContain("--dry-run: exiting now.");
      expect(stdout).toMatch(/env\.DISPATCHER \(mini-sites-(dev|staging|production)\)\s+Dispatch Namespace/);
      expect(stdout).toContain("env.SITES_DOMAIN");
    },
    120_000,
  );
});
