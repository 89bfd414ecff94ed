import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** The production dispatch Worker's entry: the dev stack runs exactly this code. */
export const DISPATCH_ENTRY = fileURLToPath(new URL("../../dispatch/src/index.ts", import.meta.url));

/** A Worker's entry module held in memory (a benchmark's generated Worker), its imports resolved from `resolveDir`. */
export interface InlineEntry {
  /** JavaScript ES module source. */
  readonly contents: string;
  readonly resolveDir: string;
}

/**
 * Bundles a Worker's TypeScript into one ES module, as wrangler does for `wrangler deploy`
 * (esbuild, ESM, no Node built-ins), so Miniflare runs what Cloudflare would. `entry` is a file path,
 * or the entry's source itself.
 */
export async function bundleWorker(entry: string | InlineEntry): Promise<string> {
  const result = await build({
    ...(typeof entry === "string"
      ? { entryPoints: [entry] }
      : { stdin: { contents: entry.contents, loader: "js", resolveDir: entry.resolveDir } }),
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "browser"],
    target: "es2022",
    // Runtime modules (`cloudflare:workers` for WorkflowEntrypoint) are provided by workerd.
    external: ["cloudflare:*"],
    write: false,
    logLevel: "silent",
  });
  const [output] = result.outputFiles;
  if (output === undefined) {
    throw new Error(`esbuild produced nothing for ${typeof entry === "string" ? entry : "an inline entry"}`);
  }
  return output.text;
}
