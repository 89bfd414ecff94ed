/**
 * Builds the `mini-sites` command with esbuild: one ES module per entry plus lazily loaded chunks
 * (the MCP SDK, the dev stack), so `mini-sites sites` starts without loading either.
 *
 * Two uses:
 * - in the repository, bin/mini-sites.js rebuilds cli/.build whenever a source is newer (a cache); the
 *   dev stack is then not bundled: `mini-sites dev` imports dev/src/run.ts itself, so it runs the
 *   repository's current stack exactly as `npm run dev` does;
 * - `npm pack` (the `prepack` script) builds cli/dist, the publishable package, with `--pack`: the dev stack
 *   bundled in, with its Workers (dispatch, control) and the D1 migrations built now and embedded,
 *   so `mini-sites dev` needs nothing from this repository. Miniflare, which brings the workerd
 *   binary, stays an (optional) dependency: a native runtime cannot be bundled.
 *
 * Runs on Node 22 (type stripping): `node cli/build.ts [--pack]`.
 */

import { readdir, readFile, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";

const CLI_ROOT = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = join(CLI_ROOT, "..");
export const DIST = join(CLI_ROOT, "dist");
/** What bin/mini-sites.js imports. */
export const ENTRY_FILE = "mini-sites.mjs";

/** The oldest Node the built CLI runs on (`engines` in package.json); `mini-sites dev` needs 22. */
const TARGET = "node20";

/**
 * Packages loaded at run time rather than bundled: Miniflare (native workerd; only `mini-sites dev`
 * loads it), and esbuild, which only the repository's dev stack uses to bundle Workers from source.
 */
const EXTERNAL = ["miniflare", "esbuild"];

/**
 * `--pack`: replaces the modules of dev/src that read the repository at run time — the Worker
 * bundler, the migration reader and the namespace router's source — with the same content built now,
 * and leaves out the local Confluence (it builds the Forge app's Custom UI from forge-app/ with Vite):
 * the packed `mini-sites dev` runs the Workers and the API stand-ins, and says the local Confluence
 * needs a checkout.
 */
async function embedDevStack(): Promise<Plugin> {
  const { bundleWorker, DISPATCH_ENTRY } = await import("../dev/src/bundle-worker.ts");
  const { CONTROL_ENTRY } = await import("../dev/src/control.ts");
  const { readMigrationFiles } = await import("../dev/src/migration-files.ts");
  const workers = {
    "dispatch/src/index.ts": await bundleWorker(DISPATCH_ENTRY),
    "control/src/index.ts": await bundleWorker(CONTROL_ENTRY),
  };
  const migrations = await readMigrationFiles();
  const { ROUTER_SOURCE } = await import("../dev/src/namespace-router.ts");
  const replaced: Record<string, string> = {
    "migration-files": `const MIGRATIONS = ${JSON.stringify(migrations)};
export async function readMigrationFiles() { return MIGRATIONS; }`,
    "bundle-worker": `const WORKERS = ${JSON.stringify(workers)};
export const DISPATCH_ENTRY = "dispatch/src/index.ts";
export async function bundleWorker(entry) {
  const path = typeof entry === "string" ? entry.replaceAll("\\\\", "/") : "";
  const key = Object.keys(WORKERS).find((k) => path.endsWith(k));
  if (key === undefined) throw new Error("mini-sites dev: no embedded Worker for " + path);
  return WORKERS[key];
}`,
    "namespace-router": `export const ROUTER_SOURCE = ${JSON.stringify(ROUTER_SOURCE)};`,
    "confluence/start": `export const LOCAL_CONFLUENCE_INCLUDED = false;
export async function startLocalConfluenceStack() {
  throw new Error("mini-sites dev: the local Confluence is not in the packaged CLI; run npm run dev in a checkout");
}`,
  };
  const devSource = join(REPO_ROOT, "dev", "src");
  const byFile = new Map(Object.keys(replaced).map((name) => [join(devSource, `${name}.ts`), name]));
  return {
    name: "embed-dev-stack",
    setup(b) {
      b.onResolve({ filter: /(bundle-worker|migration-files|namespace-router|start)\.ts$/ }, (args) => {
        const name = byFile.get(resolve(args.resolveDir, args.path));
        return name === undefined ? undefined : { path: name, namespace: "embedded" };
      });
      b.onLoad({ filter: /.*/, namespace: "embedded" }, (args) => ({
        loader: "js",
        contents: replaced[args.path],
      }));
    },
  };
}

/** In the repository: the dev stack stays TypeScript source, imported by Node at run time. */
function devStackFromSource(): Plugin {
  return {
    name: "dev-stack-from-source",
    setup(b) {
      b.onResolve({ filter: /[\\/]dev[\\/]src[\\/]run\.ts$/ }, (args) => ({
        path: pathToFileURL(join(args.resolveDir, args.path)).href,
        external: true,
      }));
    },
  };
}

export async function buildCli(options: { pack?: boolean; outdir?: string } = {}): Promise<void> {
  const outdir = options.outdir ?? DIST;
  await rm(outdir, { recursive: true, force: true });
  await build({
    entryPoints: { "mini-sites": join(CLI_ROOT, "src/main.ts") },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: TARGET,
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunks/[name]-[hash]",
    external: EXTERNAL,
    // Bundled CommonJS dependencies (the MCP SDK's ajv, commander) call require() for Node built-ins.
    banner: {
      js: 'import { createRequire as __msCreateRequire } from "node:module"; const require = __msCreateRequire(import.meta.url);',
    },
    legalComments: "linked",
    logLevel: "silent",
    plugins: [options.pack ? await embedDevStack() : devStackFromSource()],
  });
}

/** Every source file the bundle is made from, for bin/mini-sites.js's freshness check. */
export async function newestSource(): Promise<number> {
  const { statSync } = await import("node:fs");
  let newest = 0;
  for (const dir of ["cli/src", "cli/build.ts", "core/src"]) {
    const stats = statSync(join(REPO_ROOT, dir));
    if (stats.isFile()) {
      newest = Math.max(newest, stats.mtimeMs);
      continue;
    }
    for (const entry of await readdir(join(REPO_ROOT, dir), { recursive: true, withFileTypes: true }))
      if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const pack = process.argv.includes("--pack");
  await buildCli({ pack });
  const size = (await readFile(join(DIST, ENTRY_FILE))).length;
  // stderr: `npm pack --json` prints its JSON on stdout, after what prepack printed.
  process.stderr.write(
    `built ${join(DIST, ENTRY_FILE)} (${Math.round(size / 1024)} KiB${pack ? ", packed" : ""})\n`,
  );
}
