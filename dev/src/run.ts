/**
 * Runs the dev stack in the foreground until Ctrl-C, printing where everything is: what
 * `npm run dev` (dev/src/main.ts) and `mini-sites dev` (the CLI, for people who installed it alone)
 * both do, so the two cannot drift.
 */

import { resolve } from "node:path";
import { Log, LogLevel } from "miniflare";
import { type DevInfo, startDevStack } from "./stack.ts";

export interface RunOptions {
  readonly port: number;
  readonly dataDir: string;
  readonly grantTtlSeconds: number;
  readonly maxRunning: number;
  /** How the reader calls the CLI in the printed examples: `npx mini-sites` in the repository. */
  readonly cli: string;
}

export async function runDevStack(options: RunOptions, out: { write(text: string): unknown }): Promise<void> {
  const dataDir = resolve(options.dataDir);
  out.write("Starting Mini-Sites locally…\n");
  const stack = await startDevStack({
    dataDir,
    port: options.port,
    grantTtlSeconds: options.grantTtlSeconds,
    maxRunning: options.maxRunning,
    log: new Log(LogLevel.WARN),
  });

  // Miniflare installs its own signal handlers that exit at once; ours close every service first so
  // the data folder is left consistent (the stand-ins write with write-then-rename, so even a kill is safe).
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.removeAllListeners(signal);
    process.once(signal, () => {
      out.write("\nStopping…\n");
      stack.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
  out.write(welcome(stack.info, options.cli));
}

export function welcome(info: DevInfo, cli: string): string {
  return `
Mini-Sites is running.

  Control API (publish, sites)  ${info.controlUrl}/v1/openapi.json
  Gateway (dispatch Worker)     ${info.dispatchUrl}/.well-known/mini-sites
  Sites                         http://s-<siteId>.${info.sitesDomain}/
  Cloudflare API stand-in       ${info.cloudflareApiUrl}
  Confluence stand-in (REST)    ${info.confluenceUrl}
${
  info.localConfluence === undefined
    ? "  Local Confluence              not in this build: run `npm run dev` in a checkout of the repository\n"
    : `  Local Confluence (open this)  ${info.localConfluence.sites.acme?.url ?? info.localConfluence.url}/wiki/
    second tenant               ${info.localConfluence.sites.globex?.url ?? ""}/wiki/
    switch to "editor" in the top bar, then Edit → Edit Mini-site and drop a folder, a zip or an
    .html file; "admin" has the admin page and the license toggle (docs/local-confluence.md)
`
}  Dev console (view URLs)       ${info.consoleUrl}/sites

Publish a folder (or a zip, or one .html file) and open it, from another terminal:
  ${cli} login --dev
  ${cli} publish ./dist --site my-first-site
  ${cli} open my-first-site
then open the URL in Chromium (it resolves *.localhost by itself).

Or with curl:
  curl -s -X POST '${info.controlUrl}/v1/sites/new/versions?name=demo' \\
    -H 'authorization: Bearer ${info.apiToken}' \\
    -H 'content-type: application/zip' --data-binary @site.zip

Everything is kept in ${info.dataDir} (details, tokens and URLs in dev.json). Ctrl-C stops.
`;
}
