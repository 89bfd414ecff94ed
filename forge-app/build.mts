/**
 * Builds the Custom UI resources (manifest.yml `resources`) with Vite into `static/<resource>/`, the
 * folders `forge deploy` uploads and the local Confluence stand-in serves unchanged. One Vite build
 * per resource, because Forge uploads each resource folder on its own: a shared `assets/` folder
 * outside it would not exist in production. `base: './'` because Forge serves a resource under a path
 * of its own (TOOLCHAIN: Vite builds for resources need it).
 *
 * Builds are skipped when nothing they depend on changed (a hash of the UI sources, the core and the
 * lockfile is kept next to the output), so `npm run dev` and the tests do not rebuild every time.
 *
 *   node forge-app/build.mts [--force]
 */

import { createHash } from "node:crypto";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const APP_DIR = fileURLToPath(new URL(".", import.meta.url));
export const RESOURCES = ["view", "publisher", "admin", "status"] as const;
export type ResourceKey = (typeof RESOURCES)[number];

const STAMP = ".build-stamp";

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out;
}

/** A hash of everything a resource build reads. */
async function sourceHash(): Promise<string> {
  const hash = createHash("sha256");
  const roots = [join(APP_DIR, "ui"), join(APP_DIR, "src"), join(APP_DIR, "../core/src")];
  const files = (await Promise.all(roots.map(filesUnder))).flat().sort();
  files.push(join(APP_DIR, "build.mts"), join(APP_DIR, "../package-lock.json"));
  for (const file of files) {
    hash.update(relative(APP_DIR, file));
    hash.update(await readFile(file));
  }
  return hash.digest("hex");
}

export async function buildCustomUi(options: { force?: boolean; log?: (line: string) => void } = {}) {
  const log = options.log ?? (() => {});
  const hash = await sourceHash();
  const stampFile = join(APP_DIR, "static", STAMP);
  const previous = await readFile(stampFile, "utf8").catch(() => "");
  const complete = await Promise.all(
    RESOURCES.map((r) =>
      stat(join(APP_DIR, "static", r, "index.html")).then(
        () => true,
        () => false,
      ),
    ),
  );
  if (!options.force && previous === hash && complete.every(Boolean)) return { built: false };
  // Vite and its React plugin are build tools of the app, loaded only when a build is needed — by a
  // computed name, so the dev stack's type check (which imports this file) does not take in Vite's DOM
  // typings.
  const tools = ["vite", "@vitejs/plugin-react"];
  const { build } = (await import(tools[0] as string)) as { build(config: object): Promise<unknown> };
  const { default: react } = (await import(tools[1] as string)) as { default(): object };
  for (const resource of RESOURCES) {
    log(`building Custom UI resource "${resource}"…`);
    await build({
      root: join(APP_DIR, "ui", resource),
      base: "./",
      configFile: false,
      logLevel: "warn",
      plugins: [react()],
      worker: { format: "es" },
      build: {
        outDir: join(APP_DIR, "static", resource),
        emptyOutDir: true,
        // Source maps would publish the sources next to the app; Forge shows stack traces without them.
        sourcemap: false,
        // No inline <script>/<style> and no data: modules: Forge's CSP allows 'self' only.
        assetsInlineLimit: 0,
        modulePreload: { polyfill: false },
      },
    });
  }
  await writeFile(stampFile, hash);
  return { built: true };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildCustomUi({ force: process.argv.includes("--force"), log: (line) => console.log(line) });
}
