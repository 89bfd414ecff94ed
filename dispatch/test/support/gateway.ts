/**
 * The dispatch Worker on a real loopback socket, for tests that need one (a browser, raw HTTP): the
 * dev stack's edge (dev/src/edge.ts) — the production source bundled as wrangler would, in one
 * Miniflare instance with the namespace stand-in and assets-only user Workers — with every site running.
 */

import { Log, LogLevel } from "miniflare";
import { bundleWorker, DISPATCH_ENTRY } from "../../../dev/src/bundle-worker.ts";
import { Edge } from "../../../dev/src/edge.ts";
import type { SiteWorker } from "../../../dev/src/user-workers.ts";

export interface Gateway {
  /** http://127.0.0.1:<port>/ — send requests here with a Host header, or use `*.localhost:<port>` from Chromium. */
  readonly url: URL;
  readonly port: number;
  dispose(): Promise<void>;
}

export async function startGateway(options: {
  readonly sites: readonly SiteWorker[];
  readonly vars: Readonly<Record<string, string>>;
}): Promise<Gateway> {
  const edge = await Edge.start(
    {
      dispatchScript: await bundleWorker(DISPATCH_ENTRY),
      dispatchVars: options.vars,
      port: 0,
      // Every site runs from the start: no cold starts, so no 503 for the tests to retry.
      maxRunning: Math.max(options.sites.length, 1),
      log: new Log(LogLevel.ERROR),
    },
    options.sites,
  );
  return { url: edge.url, port: Number(edge.url.port), dispose: () => edge.dispose() };
}
