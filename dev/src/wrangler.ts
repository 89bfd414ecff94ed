import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root: wrangler's configs (control/, dispatch/) are named relative to it. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const WRANGLER = join(REPO_ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

export interface WranglerResult {
  /** The exit code: 0 when wrangler succeeded. */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface WranglerOptions {
  /** Defaults to the repository's root. */
  readonly cwd?: string;
  /** Added to (and overriding) the offline environment below. */
  readonly env?: Readonly<Record<string, string>>;
  /** Milliseconds before wrangler is killed (the call then rejects); 90 s unless told. */
  readonly timeout?: number;
}

/**
 * Runs the repository's wrangler offline: no metrics, no update check, no API token, and its config
 * (login state, metrics consent) in a fresh temporary XDG_CONFIG_HOME that is removed afterwards, so
 * nothing from the machine's own wrangler leaks in. Resolves with the exit code — a failing wrangler
 * is an answer, not an exception; rejects only when wrangler could not be run or timed out.
 */
export async function runWrangler(
  args: readonly string[],
  options: WranglerOptions = {},
): Promise<WranglerResult> {
  const config = await mkdtemp(join(tmpdir(), "wrangler-config-"));
  try {
    return await new Promise<WranglerResult>((resolve, reject) => {
      execFile(
        process.execPath,
        [WRANGLER, ...args],
        {
          cwd: options.cwd ?? REPO_ROOT,
          env: {
            ...process.env,
            WRANGLER_SEND_METRICS: "false",
            XDG_CONFIG_HOME: config,
            CLOUDFLARE_API_TOKEN: "",
            NO_UPDATE_NOTIFIER: "1",
            ...options.env,
          },
          timeout: options.timeout ?? 90_000,
          maxBuffer: 64 * 1024 * 1024,
        },
        (error, stdout, stderr) => {
          if (error === null) resolve({ code: 0, stdout, stderr });
          else if (typeof error.code === "number") resolve({ code: error.code, stdout, stderr });
          else reject(error);
        },
      );
    });
  } finally {
    await rm(config, { recursive: true, force: true });
  }
}

/**
 * `wrangler deploy --dry-run` of one config and environment ("" for the top level), offline, into a
 * temporary output folder removed afterwards: what CI checks for every deployable Worker.
 */
export async function dryRunDeploy(config: string, environment: string): Promise<WranglerResult> {
  const outdir = await mkdtemp(join(tmpdir(), "wrangler-dry-run-"));
  try {
    return await runWrangler([
      "deploy",
      "--dry-run",
      "-c",
      config,
      "--outdir",
      outdir,
      `--env=${environment}`,
    ]);
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}
