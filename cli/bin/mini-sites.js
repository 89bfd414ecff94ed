#!/usr/bin/env node
// Runs the CLI from its esbuild bundle. Installed from npm, that is ../dist. In the repository
// (../src exists) it is ../.build, a cache rebuilt by ../build.ts whenever a source under cli/ or
// core/src is newer: loading the TypeScript sources through Node's type stripping costs ~120 ms at
// every start, and agents and CI call the CLI in loops. (`npm pack` builds dist apart from it, so
// packing never pulls the bundle from under a CLI that is running.)
import { existsSync, realpathSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const cliRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const inRepository = existsSync(join(cliRoot, "src"));
const bundleDir = join(cliRoot, inRepository ? ".build" : "dist");
const bundle = join(bundleDir, "mini-sites.mjs");

async function ensureBuilt() {
  if (!inRepository) return;
  let builder;
  try {
    builder = await import("../build.ts");
  } catch (error) {
    // A Node without type stripping (20) in the repository: use the bundle as it is, if there is one.
    if (existsSync(bundle)) return;
    throw error;
  }
  const { buildCli, newestSource } = builder;
  const built = statSync(bundle, { throwIfNoEntry: false });
  if (built !== undefined && built.mtimeMs >= (await newestSource())) return;
  // Built aside, then moved in place: a CLI started at the same moment never imports a half-written
  // bundle (at worst it finds no dist for an instant and builds its own).
  const partial = `${bundleDir}.${process.pid}.tmp`;
  const stale = `${bundleDir}.${process.pid}.old`;
  await buildCli({ outdir: partial });
  const meanwhile = statSync(bundle, { throwIfNoEntry: false });
  if (meanwhile !== undefined && meanwhile.mtimeMs >= (await newestSource())) {
    // Another CLI put a fresh build in place while this one built: keep it, it may be in use.
    rmSync(partial, { recursive: true, force: true });
    return;
  }
  try {
    if (existsSync(bundleDir)) renameSync(bundleDir, stale);
    renameSync(partial, bundleDir);
  } catch {
    // Another CLI moved its fresh build in at the same moment: use that one.
  }
  rmSync(partial, { recursive: true, force: true });
  rmSync(stale, { recursive: true, force: true });
}

await ensureBuilt();
const { main } = await import(pathToFileURL(bundle).href);

// A reader that went away (`mini-sites sites | head`) is not an error of ours.
for (const stream of [process.stdout, process.stderr])
  stream.on("error", (error) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });

// Ctrl-C: the first one cancels what is in flight (an upload leaves nothing behind on the server)
// and lets the command say so; a second one exits at once.
const interrupted = new AbortController();
process.once("SIGINT", () => {
  interrupted.abort();
  process.once("SIGINT", () => process.exit(130));
});

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
  signal: interrupted.signal,
  entry: realpathSync(fileURLToPath(import.meta.url)),
});
