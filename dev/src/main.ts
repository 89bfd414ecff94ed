/**
 * `npm run dev` — the whole system on one machine (DESIGN §7), no account anywhere. Prints where
 * everything is and writes the same to `<data>/dev.json` for tools and tests (and for
 * `mini-sites login --dev`). `mini-sites dev` runs the same (run.ts).
 *
 *   npm run dev -- [--port 8787] [--data .data] [--grant-ttl 600] [--max-running 20]
 */

import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { runDevStack } from "./run.ts";
import { DEFAULT_PORT } from "./stack.ts";

const USAGE = `Usage: npm run dev -- [--port N] [--data DIR] [--grant-ttl SECONDS] [--max-running N]

  --port         base port; the services use it and the next eight (default ${DEFAULT_PORT})
  --data         folder for everything the stack keeps (default .data)
  --grant-ttl    lifetime of minted grants in seconds (default 600)
  --max-running  user Workers kept running at once (default 20)
`;

function positiveInteger(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be an integer ≥ ${min}, not "${value}".\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: "string" },
        data: { type: "string" },
        "grant-ttl": { type: "string" },
        "max-running": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const str = (key: string) => (typeof values[key] === "string" ? (values[key] as string) : undefined);
  await runDevStack(
    {
      dataDir: resolve(str("data") ?? ".data"),
      port: positiveInteger("port", str("port"), DEFAULT_PORT, 0),
      grantTtlSeconds: positiveInteger("grant-ttl", str("grant-ttl"), 600),
      maxRunning: positiveInteger("max-running", str("max-running"), 20),
      cli: "npx mini-sites",
    },
    process.stdout,
  );
}

await main();
