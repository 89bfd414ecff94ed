/**
 * What the CLI tests share: a real dev stack (dev/src/stack.ts on free ports with a data folder of
 * its own, as `npm run dev` runs it), the CLI run in-process through `main()` exactly as
 * bin/mini-sites.js runs it, or as a real process, and bundles written to disk.
 */

import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type DevStack, startDevStack } from "../../dev/src/stack.ts";
import { main } from "../src/main.ts";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = join(REPO_ROOT, "cli/bin/mini-sites.js");
export const exec = promisify(execFile);

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface World {
  readonly stack: DevStack;
  /** A scratch folder: bundles, downloads, the CLI's config home. */
  readonly dir: string;
  /** The environment a user of this stack has: their own config home, nothing else of ours. */
  readonly env: Record<string, string>;
  close(): Promise<void>;
}

export async function startWorld(label: string): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), `mini-sites-${label}-`));
  // `.data`, as `npm run dev` keeps it at the root of the repository (login --dev looks for it).
  const stack = await startDevStack({ dataDir: join(dir, ".data"), port: 0 });
  return {
    stack,
    dir,
    env: { XDG_CONFIG_HOME: join(dir, "config"), HOME: join(dir, "home"), NO_COLOR: "1" },
    async close() {
      await stack.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface RunOptions {
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
  readonly signal?: AbortSignal;
  /** Called with each piece written to stderr (to act at a point of the run, e.g. cancel it). */
  readonly onStderr?: (text: string) => void;
}

/** `mini-sites <args>` in this process, through the same `main()` the installed command calls. */
export async function run(world: World, args: readonly string[], options: RunOptions = {}): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const code = await main(args, {
    stdout: { write: (s) => (stdout += typeof s === "string" ? s : Buffer.from(s).toString("latin1")) },
    stderr: {
      write: (s) => {
        const text = String(s);
        stderr += text;
        options.onStderr?.(text);
      },
    },
    env: { ...world.env, ...options.env },
    cwd: options.cwd ?? world.dir,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return { code, stdout, stderr };
}

/** `mini-sites <args>` as a process: `node` (the repository's Node 22 unless another is given) and `bin`. */
export async function spawnCli(
  args: readonly string[],
  options: { env: Record<string, string>; cwd: string; node?: string; bin?: string; stdin?: string },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.node ?? process.execPath, [options.bin ?? BIN, ...args], {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? "", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.stdin ?? "");
  });
}

export async function writeBundle(root: string, files: Record<string, string | Uint8Array>): Promise<string> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

/** A token assembled at run time, so this repository never contains a realistic-looking key. */
export const FAKE_GITHUB_TOKEN = ["ghp", "_", "Q3EGRT7ZKW5MNB2X", "v8Lp0aYc4Hd7Jk9Wm2Rt5Ux"].join("");
