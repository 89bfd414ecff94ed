/**
 * The dispatch Worker on a real loopback socket, for tests that need one (a browser, raw HTTP):
 * the production source bundled by esbuild as wrangler would, in one Miniflare instance with the
 * dev stack's namespace stand-in and assets-only user Workers (dev/src/user-workers.ts).
 */

import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Log, LogLevel, Miniflare } from "miniflare";
import {
  COMPATIBILITY_DATE,
  dispatchNamespaceBinding,
  namespaceWorkers,
  type SiteWorker,
} from "../../../dev/src/user-workers.ts";

export interface Gateway {
  /** http://127.0.0.1:<port>/ — send requests here with a Host header, or use `*.localhost:<port>` from Chromium. */
  readonly url: URL;
  readonly port: number;
  dispose(): Promise<void>;
}

export async function bundleDispatchWorker(): Promise<string> {
  const bundled = await build({
    entryPoints: [fileURLToPath(new URL("../../src/index.ts", import.meta.url))],
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  return bundled.outputFiles[0]?.text ?? "";
}

export async function startGateway(options: {
  readonly sites: readonly SiteWorker[];
  readonly vars: Readonly<Record<string, string>>;
}): Promise<Gateway> {
  const code = await bundleDispatchWorker();
  const miniflare = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    log: new Log(LogLevel.ERROR),
    logRequests: false,
    cf: false,
    enableDevRegistry: false,
    workers: [
      {
        config: {
          name: "dispatch",
          compatibilityDate: COMPATIBILITY_DATE,
          manifest: { mainModule: "worker.js", modules: { "worker.js": { type: "esm", contents: code } } },
          env: {
            DISPATCHER: dispatchNamespaceBinding(),
            ...Object.fromEntries(
              Object.entries(options.vars).map(([k, v]) => [k, { type: "text", value: v }]),
            ),
          },
        },
      },
      ...namespaceWorkers(options.sites),
    ],
  });
  try {
    const url = await miniflare.ready;
    return { url, port: Number(url.port), dispose: () => miniflare.dispose() };
  } catch (error) {
    await miniflare.dispose();
    throw error;
  }
}
