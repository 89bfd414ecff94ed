/**
 * Commands that need no server: `validate` and `scan` (validate.ts, scan.ts: the core's rules on a
 * bundle here), and `dev`, the whole system on this machine — the same as `npm run dev`
 * (dev/src/run.ts), for people who installed only the CLI.
 */

import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { scanCommand } from "../scan.ts";
import { validateCommand } from "../validate.ts";
import { action, type Runner } from "./runner.ts";

/** The dev stack's runtime (Miniflare 5, workerd) needs this Node major; the rest of the CLI runs on 20. */
export const DEV_MIN_NODE_MAJOR = 22;
/** The runtime `mini-sites dev` is tested with: cli/package.json's optional dependency. */
export const MINIFLARE_VERSION = "5.20261102.0-beta";

function integer(min: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`must be an integer ≥ ${min}.`);
    return n;
  };
}

export function registerLocalCommands(program: Command, runner: Runner): void {
  program
    .command("validate")
    .description("check a bundle as a publish would (structure, limits, secrets), without publishing")
    .argument("<path>", "a folder with index.html, a .zip, or a single .html file")
    .option("--json", "print the verdict as JSON")
    .option("--no-progress", "no progress line, even on a terminal")
    .addHelpText("after", "\nExit codes: 0 it can be published, 1 it would be refused, 2 usage error.")
    .action(
      action(runner, "validate", (ctx, target: string, flags: { progress: boolean }) =>
        validateCommand(target, { json: ctx.json, progress: flags.progress }, ctx.term),
      ),
    );

  program
    .command("scan")
    .description("look for secrets only, in a folder, a .zip or any single file")
    .argument("<path>", "a folder, a .zip or a file")
    .option("--json", "print the findings as JSON")
    .option("--no-progress", "no progress line, even on a terminal")
    .addHelpText("after", "\nExit codes: 0 nothing that blocks a publish, 1 secrets found, 2 usage error.")
    .action(
      action(runner, "scan", (ctx, target: string, flags: { progress: boolean }) =>
        scanCommand(target, { json: ctx.json, progress: flags.progress }, ctx.term),
      ),
    );

  program
    .command("dev")
    .description(
      "run the whole system on this machine (control, gateway, sites, Cloudflare and Confluence stand-ins)",
    )
    .option("--port <n>", "base port: the services use it and the next six", integer(0), 8787)
    .option("--data <dir>", "folder for everything the stack keeps", ".data")
    .option("--grant-ttl <seconds>", "lifetime of minted grants", integer(1), 600)
    .option("--max-running <n>", "user Workers kept running at once", integer(1), 20)
    .addHelpText(
      "after",
      `
The same as \`npm run dev\` in the repository. It writes <data>/dev.json, which \`mini-sites login --dev\`
reads (run it from the same folder, or give --data). Needs Node ${DEV_MIN_NODE_MAJOR} or newer. Ctrl-C stops.`,
    )
    .action(
      action(
        runner,
        "dev",
        async (ctx, flags: { port: number; data: string; grantTtl: number; maxRunning: number }) => {
          const major = Number(process.versions.node.split(".")[0]);
          if (major < DEV_MIN_NODE_MAJOR) {
            ctx.note(
              `mini-sites dev: needs Node ${DEV_MIN_NODE_MAJOR} or newer (the local Workers runtime, Miniflare 5, does); this is Node ${process.versions.node}. Every other command works on Node 20.`,
            );
            return 1;
          }
          // Loaded only here: the runtime is large, and no other command needs it.
          let stack: typeof import("../../../dev/src/run.ts");
          try {
            stack = await import("../../../dev/src/run.ts");
          } catch (error) {
            if ((error as { code?: string }).code !== "ERR_MODULE_NOT_FOUND") throw error;
            ctx.note(
              `mini-sites dev: the local Workers runtime (miniflare, an optional dependency) is not installed: reinstall without --omit=optional, or \`npm install -g miniflare@${MINIFLARE_VERSION}\`.`,
            );
            return 1;
          }
          const { runDevStack } = stack;
          await runDevStack(
            {
              port: flags.port,
              dataDir: resolve(ctx.term.cwd, flags.data),
              grantTtlSeconds: flags.grantTtl,
              maxRunning: flags.maxRunning,
              cli: "mini-sites",
            },
            ctx.term.stdout,
          );
          // The stack runs until Ctrl-C, which exits the process (dev/src/run.ts).
          await new Promise(() => {});
          return 0;
        },
      ),
    );
}
