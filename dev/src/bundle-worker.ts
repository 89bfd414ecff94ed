import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** The production dispatch Worker's entry: the dev stack runs exactly this code. */
export const DISPATCH_ENTRY = fileURLToPath(new URL("../../dispatch/src/index.ts", import.meta.url));

/**
 * Bundles a Worker's TypeScript into one ES module, as wrangler does for `wrangler deploy`
 * (esbuild, ESM, no Node built-ins), so Miniflare runs what Cloudflare would.
 */
export async function bundleWorker(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "browser"],
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  const [output] = result.outputFiles;
  if (output === undefined) throw new Error(`esbuild produced nothing for ${entry}`);
  return output.text;
}
