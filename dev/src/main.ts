/**
 * `npm run dev` — the whole system on one machine (DESIGN §7), no account anywhere. Prints where
 * everything is and writes the same to `<data>/dev.json` for tools and tests.
 *
 *   npm run dev -- [--port 8787] [--data .data] [--grant-ttl 600] [--max-running 20]
 */

import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { Log, LogLevel } from "miniflare";
import { DEFAULT_PORT, startDevStack } from "./stack.ts";

const USAGE = `Usage: npm run dev -- [--port N] [--data DIR] [--grant-ttl SECONDS] [--max-running N]

  --port         base port; the services use it and the next six (default ${DEFAULT_PORT})
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
  const dataDir = resolve(str("data") ?? ".data");
  process.stdout.write("Starting Mini-Sites locally…\n");
  const stack = await startDevStack({
    dataDir,
    port: positiveInteger("port", str("port"), DEFAULT_PORT, 0),
    grantTtlSeconds: positiveInteger("grant-ttl", str("grant-ttl"), 600),
    maxRunning: positiveInteger("max-running", str("max-running"), 20),
    log: new Log(LogLevel.WARN),
  });
  const { info } = stack;

  // Miniflare installs its own signal handlers that exit at once; ours close every service first so
  // the data folder is left consistent (the stand-ins write with write-then-rename, so even a kill is safe).
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.removeAllListeners(signal);
    process.once(signal, () => {
      process.stdout.write("\nStopping…\n");
      stack.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }

  process.stdout.write(`
Mini-Sites is running.

  Control API (publish, sites)  ${info.controlUrl}/v1/openapi.json
  Gateway (dispatch Worker)     ${info.dispatchUrl}/.well-known/mini-sites
  Sites                         http://s-<siteId>.${info.sitesDomain}/
  Cloudflare API stand-in       ${info.cloudflareApiUrl}
  Confluence stand-in           ${info.confluenceUrl}
  Dev console (view URLs)       ${info.consoleUrl}/sites

Publish a zip (or a single .html) and open it:
  curl -s -X POST '${info.controlUrl}/v1/sites/new/versions?name=demo' \\
    -H 'authorization: Bearer ${info.apiToken}' \\
    -H 'content-type: application/zip' --data-binary @site.zip
  curl -s '${info.controlUrl}/v1/jobs/<jobId>' -H 'authorization: Bearer ${info.apiToken}'
  curl -s -X POST '${info.controlUrl}/v1/sites/<siteId>/view-url' -H 'authorization: Bearer ${info.apiToken}'
then open the "url" in Chromium (it resolves *.localhost by itself).

Everything is kept in ${info.dataDir} (details, tokens and URLs in dev.json). Ctrl-C stops.
`);
}

await main();
