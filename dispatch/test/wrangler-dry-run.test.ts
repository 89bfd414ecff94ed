/**
 * `wrangler deploy --dry-run` succeeds offline for every environment of wrangler-dispatch.toml
 * (DESIGN §8): the config parses, the Worker bundles, and the DISPATCHER namespace binding is declared.
 */

import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const repo = fileURLToPath(new URL("../../", import.meta.url));
const wrangler = join(repo, "node_modules", "wrangler", "bin", "wrangler.js");

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
      const { stdout } = await run(
        process.execPath,
        [
          wrangler,
          "deploy",
          "--dry-run",
          "-c",
          "dispatch/wrangler-dispatch.toml",
          "--outdir",
          join(scratch, environment || "top"),
          `--env=${environment}`,
        ],
        {
          cwd: repo,
          env: {
            ...process.env,
            WRANGLER_SEND_METRICS: "false",
            XDG_CONFIG_HOME: join(scratch, "config"),
            CLOUDFLARE_API_TOKEN: "",
            NO_UPDATE_NOTIFIER: "1",
          },
          timeout: 90_000,
        },
      );
      expect(stdout).toContain("--dry-run: exiting now.");
      expect(stdout).toMatch(/env\.DISPATCHER \(mini-sites-(dev|staging|production)\)\s+Dispatch Namespace/);
      expect(stdout).toContain("env.SITES_DOMAIN");
    },
    120_000,
  );
});
