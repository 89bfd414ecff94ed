/**
 * Where the CLI keeps its logins: `$XDG_CONFIG_HOME/mini-sites/config.json` (else
 * `~/.config/mini-sites/config.json`), one named profile per control API (`default`, `dev`, `prod`…),
 * written with mode 0600 in a 0700 folder because it holds API tokens — the same care as a
 * `~/.netrc` or `~/.npmrc`. `MINI_SITES_URL` and `MINI_SITES_TOKEN` override the profile's values
 * (CI, agents), and `MINI_SITES_PROFILE` or `--profile` picks a profile.
 */

import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { Terminal } from "./terminal.ts";

export interface Profile {
  /** The control API's base URL, without a trailing slash. */
  readonly url: string;
  readonly token: string;
}

export interface ConfigFile {
  /** The profile commands use when none is named. */
  readonly current?: string;
  readonly profiles: Readonly<Record<string, Profile>>;
}

export const DEFAULT_PROFILE = "default";
/** The profile `login --dev` writes: the local stack is a different server from any real one. */
export const DEV_PROFILE = "dev";

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function configPath(env: Terminal["env"]): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "mini-sites", "config.json");
}

export async function loadConfig(env: Terminal["env"]): Promise<ConfigFile> {
  const path = configPath(env);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { profiles: {} };
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as ConfigFile;
    if (typeof parsed !== "object" || parsed === null || typeof parsed.profiles !== "object")
      throw new Error("no profiles");
    return parsed;
  } catch {
    throw new ConfigError(`${path} is not a mini-sites config file; delete it and run \`mini-sites login\`.`);
  }
}

/** Written aside and renamed, so a crash never leaves half a file; created 0600 so no one else reads it. */
export async function saveConfig(env: Terminal["env"], config: ConfigFile): Promise<string> {
  const path = configPath(env);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const partial = `${path}.${process.pid}.tmp`;
  await writeFile(partial, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  // writeFile's mode only applies to a new file, and the umask may have narrowed or widened it.
  await chmod(partial, 0o600);
  await rename(partial, path).catch(async (error) => {
    await rm(partial, { force: true });
    throw error;
  });
  return path;
}

export function profileName(env: Terminal["env"], config: ConfigFile, named: string | undefined): string {
  return named ?? env.MINI_SITES_PROFILE ?? config.current ?? DEFAULT_PROFILE;
}

export interface Connection {
  readonly url: string;
  readonly token: string;
  /** Where it came from, for `whoami` and error messages. */
  readonly profile: string | undefined;
  readonly fromEnv: boolean;
}

export class NotLoggedIn extends Error {
  override name = "NotLoggedIn";
}

/** The control API to talk to: the environment's values first, then the chosen profile's. */
export async function connection(term: Terminal, named: string | undefined): Promise<Connection> {
  const config = await loadConfig(term.env);
  const name = profileName(term.env, config, named);
  const profile = config.profiles[name];
  const url = term.env.MINI_SITES_URL || profile?.url;
  const token = term.env.MINI_SITES_TOKEN || profile?.token;
  if (url === undefined || token === undefined) {
    const which = named === undefined ? "" : ` for profile "${name}"`;
    throw new NotLoggedIn(
      `Not logged in${which}: run \`mini-sites login\` (or \`mini-sites login --dev\` for the local stack), or set MINI_SITES_URL and MINI_SITES_TOKEN.`,
    );
  }
  return {
    url: normalizeUrl(url),
    token,
    profile: profile === undefined ? undefined : name,
    fromEnv: Boolean(term.env.MINI_SITES_URL || term.env.MINI_SITES_TOKEN),
  };
}

export function normalizeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(
      `"${url}" is not a URL: give the control API's address, e.g. https://mini-sites.example.com.`,
    );
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:")
    throw new ConfigError(`"${url}" is not an http(s) URL.`);
  return parsed.href.replace(/\/+$/, "");
}

/** What `npm run dev` (or `mini-sites dev`) writes to `<data>/dev.json`, as far as login needs it. */
export interface DevInfo {
  readonly controlUrl: string;
  readonly apiToken: string;
  readonly dataDir?: string;
  /** The gateway's own URL (`doctor`). */
  readonly dispatchUrl?: string;
  /** The control Worker's CONTROL_SHARED_SECRET (`doctor`'s namespace check). */
  readonly sharedSecret?: string;
}

/**
 * The running dev stack's `dev.json`: in `dataDir` when given, else in `.data/` of the current folder
 * or the nearest folder above it that has one — `npm run dev` writes `.data/dev.json` at the root of
 * the repository, and people run the CLI from anywhere inside it.
 */
export async function findDevInfo(cwd: string, dataDir?: string): Promise<{ path: string; info: DevInfo }> {
  const candidates: string[] = [];
  if (dataDir !== undefined) candidates.push(join(resolve(cwd, dataDir), "dev.json"));
  else
    for (let dir = resolve(cwd); ; dir = dirname(dir)) {
      candidates.push(join(dir, ".data", "dev.json"));
      if (dirname(dir) === dir) break;
    }
  for (const path of candidates) {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch {
      continue;
    }
    const info = JSON.parse(text) as Partial<DevInfo>;
    if (typeof info.controlUrl !== "string" || typeof info.apiToken !== "string")
      throw new ConfigError(`${path} has no controlUrl and apiToken; restart the dev stack to rewrite it.`);
    return { path, info: info as DevInfo };
  }
  throw new ConfigError(
    dataDir === undefined
      ? "No running dev stack found (no .data/dev.json here or above): start it with `npm run dev` in the repository, or `mini-sites dev`, then run this again (or pass --data DIR)."
      : `No dev.json in ${resolve(cwd, dataDir)}: start the dev stack with \`mini-sites dev --data ${dataDir}\` first.`,
  );
}
