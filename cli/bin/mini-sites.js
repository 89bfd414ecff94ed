#!/usr/bin/env node
// Runs the CLI from one esbuild bundle in cli/dist, rebuilt here whenever a source file under cli/src
// or core/src is newer than it. Loading the TypeScript sources directly through Node's type stripping
// works too (the fallback below) but costs ~120 ms at every start; a CLI that agents and CI call in
// loops should start in ~50 ms. The bundle is a cache, never committed, so it cannot go stale in git.
import { mkdirSync, readdirSync, renameSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const cliRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const bundle = join(cliRoot, "dist/mini-sites.mjs");
const sourceDirs = [join(cliRoot, "src"), join(cliRoot, "../core/src")];

function newestSource() {
  let newest = 0;
  for (const dir of sourceDirs) {
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}

async function loadMain() {
  const built = statSync(bundle, { throwIfNoEntry: false });
  if (built === undefined || built.mtimeMs < newestSource()) {
    try {
      const esbuild = await import("esbuild");
      mkdirSync(dirname(bundle), { recursive: true });
      // Built aside, then renamed: a CLI started at the same moment never imports a half-written file.
      const partial = `${bundle}.${process.pid}.tmp.mjs`;
      await esbuild.build({
        entryPoints: [join(cliRoot, "src/main.ts")],
        bundle: true,
        platform: "node",
        format: "esm",
        target: "node22",
        outfile: partial,
        logLevel: "silent",
      });
      renameSync(partial, bundle);
    } catch {
      return import("../src/main.ts");
    }
  }
  return import(pathToFileURL(bundle).href);
}

const { main } = await loadMain();
process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
