/**
 * The command line itself, with no server: help that describes each command, one-line usage errors
 * with exit 2, where logins are read from (profiles, the environment), the MCP client snippet, and
 * the default site name. Runs `main()` in-process, as bin/mini-sites.js does.
 */

import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/main.ts";
import { defaultSiteName } from "../src/publish.ts";
import { VERSION } from "../src/version.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mini-sites-parser-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await main(args, {
    stdout: { write: (s) => (stdout += String(s)) },
    stderr: { write: (s) => (stderr += String(s)) },
    env: { XDG_CONFIG_HOME: join(dir, "config"), HOME: join(dir, "home"), ...env },
    cwd: dir,
  });
  return { code, stdout, stderr };
}

const COMMANDS = [
  ["login", "save a control API URL"],
  ["logout", "forget the saved login"],
  ["whoami", "the tenant, API token and scopes"],
  ["publish", "publish a folder, a .zip or one .html file"],
  ["sites", "list the tenant's sites"],
  ["versions", "list a site's versions"],
  ["rollback", "make an earlier version"],
  ["download", "download a version of a site"],
  ["disable", "turn a site off"],
  ["enable", "turn a disabled site back on"],
  ["delete", "delete a site"],
  ["open", "a preview URL"],
  ["tokens", "create, list and revoke API tokens"],
  ["tokens create", "issue an API token"],
  ["tokens list", "the tenant's API tokens"],
  ["tokens revoke", "revoke an API token"],
  ["validate", "check a bundle"],
  ["scan", "look for secrets only"],
  ["dev", "run the whole system on this machine"],
  ["mcp", "run the MCP server on stdio"],
] as const;

describe("help", () => {
  it.each(COMMANDS)("`%s --help` describes that command and exits 0", async (command, words) => {
    const { code, stdout } = await cli([...command.split(" "), "--help"]);
    expect(code).toBe(0);
    expect(stdout.startsWith(`Usage: mini-sites ${command}`)).toBe(true);
    expect(stdout).toContain(words);
  });

  it("shows the general help on --help, and on stderr with exit 2 when no command is given", async () => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    for (const [command] of COMMANDS)
      if (!command.includes(" ")) expect(help.stdout).toContain(`  ${command}`);
    const bare = await cli([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("Usage: mini-sites");
  });

  it("prints the version of the package", async () => {
    const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    expect(VERSION).toBe(pkg.version);
    expect((await cli(["--version"])).stdout).toBe(`mini-sites ${VERSION}\n`);
  });
});

describe("usage errors", () => {
  it.each([
    [["frobnicate"], "mini-sites: unknown command 'frobnicate' (see `mini-sites --help`)"],
    [
      ["publsh", "./dist"],
      "mini-sites: unknown command 'publsh' — did you mean publish? (see `mini-sites --help`)",
    ],
    [["publish", "./dist", "--sight", "x"], "mini-sites: unknown option '--sight' (see `mini-sites --help`)"],
    [["publish"], "mini-sites: missing required argument 'path' (see `mini-sites --help`)"],
    [
      ["sites", "extra"],
      "mini-sites: too many arguments for 'sites'. Expected 0 arguments but got 1. (see `mini-sites --help`)",
    ],
    [
      ["tokens", "create", "--label", "x", "--scope", "everything"],
      "mini-sites: option '--scope <scope...>' argument 'everything' is invalid. Allowed choices are sites:read, sites:write, tokens:manage, tenant:admin. (see `mini-sites --help`)",
    ],
  ])("%j exits 2 with one line", async (args, line) => {
    const { code, stdout, stderr } = await cli(args);
    expect(code).toBe(2);
    expect(stderr).toBe(`${line}\n`);
    expect(stdout).toBe("");
  });

  it("asks for what it cannot ask a terminal for", async () => {
    const login = await cli(["login"]);
    expect(login.code).toBe(2);
    expect(login.stderr).toBe("mini-sites login: give the control API's URL with --url.\n");
    const bundle = await cli(["publish", "no-such-folder"], {
      MINI_SITES_URL: "http://127.0.0.1:1",
      MINI_SITES_TOKEN: "ms_x",
    });
    expect(bundle.code).toBe(2);
    expect(bundle.stderr).toContain("no such file or folder");
  });
});

describe("where a login comes from", () => {
  /** A port nothing listens on: the request fails at once, and --debug shows where it went. */
  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  it("uses the current profile, another by --profile or MINI_SITES_PROFILE, and the environment over both", async () => {
    const [a, b, c] = [await closedPort(), await closedPort(), await closedPort()];
    const home = join(dir, "profiles");
    await mkdir(join(home, "mini-sites"), { recursive: true });
    await writeFile(
      join(home, "mini-sites", "config.json"),
      JSON.stringify({
        current: "a",
        profiles: {
          a: { url: `http://127.0.0.1:${a}`, token: "ms_a" },
          b: { url: `http://127.0.0.1:${b}`, token: "ms_b" },
        },
      }),
    );
    const tried = async (args: string[], env: Record<string, string> = {}) =>
      /→ GET (\S+)\/v1\/sites/.exec(
        (await cli(["sites", "--debug", ...args], { XDG_CONFIG_HOME: home, ...env })).stderr,
      )?.[1];
    expect(await tried([])).toBe(`http://127.0.0.1:${a}`);
    expect(await tried(["--profile", "b"])).toBe(`http://127.0.0.1:${b}`);
    expect(await tried([], { MINI_SITES_PROFILE: "b" })).toBe(`http://127.0.0.1:${b}`);
    expect(await tried(["--profile", "b"], { MINI_SITES_URL: `http://127.0.0.1:${c}` })).toBe(
      `http://127.0.0.1:${c}`,
    );
    const missing = await cli(["sites", "--profile", "nope"], { XDG_CONFIG_HOME: home });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Not logged in for profile "nope"');
  });

  it("forgets a profile on logout", async () => {
    const home = join(dir, "logout");
    await mkdir(join(home, "mini-sites"), { recursive: true });
    const file = join(home, "mini-sites", "config.json");
    await writeFile(
      file,
      JSON.stringify({
        current: "a",
        profiles: { a: { url: "http://x", token: "ms_a" }, b: { url: "http://y", token: "ms_b" } },
      }),
    );
    const out = await cli(["logout", "--json"], { XDG_CONFIG_HOME: home });
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ profile: "a", removed: true });
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({
      current: "b",
      profiles: { b: { url: "http://y", token: "ms_b" } },
    });
  });
});

describe("mini-sites mcp --print-config", () => {
  it("prints the MCP client entry with this Node and this script, and never a token", async () => {
    let stdout = "";
    const code = await main(["mcp", "--print-config"], {
      stdout: { write: (s) => (stdout += String(s)) },
      stderr: { write: () => {} },
      env: { XDG_CONFIG_HOME: "/somewhere/config", MINI_SITES_TOKEN: "ms_secret" },
      cwd: dir,
      entry: "/opt/mini-sites/bin/mini-sites.js",
    });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      mcpServers: {
        "mini-sites": {
          command: process.execPath,
          args: ["/opt/mini-sites/bin/mini-sites.js", "mcp"],
          env: { XDG_CONFIG_HOME: "/somewhere/config" },
        },
      },
    });
    expect(stdout).not.toContain("ms_secret");
  });
});

describe("the default site name", () => {
  it.each([
    ["/home/ana/team-dashboard", true, "team-dashboard"],
    ["/home/ana/team-dashboard/", true, "team-dashboard"],
    ["/home/ana/team-dashboard/dist", true, "team-dashboard"],
    ["/home/ana/q3/build", true, "q3"],
    ["/home/ana/report.html", false, "report"],
    ["/home/ana/Q3 review.zip", false, "Q3 review"],
  ])("%s (a folder: %s) is named %s", (path, isFolder, name) => {
    expect(defaultSiteName(path, isFolder)).toBe(name);
  });
});
