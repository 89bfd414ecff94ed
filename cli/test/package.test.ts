/**
 * The CLI as npm users get it: `npm pack` of cli/ is one self-contained package (an esbuild bundle,
 * no workspace links, no registry dependency but the optional local runtime), it installs offline
 * into an empty folder with an empty npm cache, and the installed command — on Node 20 when this
 * machine has it — logs in to a dev stack and publishes. The dev stack itself is the installed
 * package's `mini-sites dev`, with the repository's own Miniflare linked in as its optional
 * dependency (installing it would download the same files).
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from "node:fs/promises";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec, REPO_ROOT, spawnCli, writeBundle } from "./support.ts";

/** A Node 20 for the installed command when the machine has one (the oldest the package supports). */
async function oldestNode(): Promise<{ path: string; version: string }> {
  for (const path of ["/usr/bin/node", "/usr/local/bin/node"]) {
    const version = await exec(path, ["--version"]).then(
      (r) => r.stdout.trim(),
      () => "",
    );
    if (/^v20\./.test(version)) return { path, version };
  }
  return { path: process.execPath, version: process.version };
}

let dir: string;
let app: string;
let tarball: string;
let node: { path: string; version: string };
let dev: ChildProcess | undefined;
let devOutput = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mini-sites-package-"));
  app = join(dir, "app");
  await mkdir(app, { recursive: true });
  node = await oldestNode();
  const packed = await exec("npm", ["pack", "--json", "--pack-destination", dir], {
    cwd: join(REPO_ROOT, "cli"),
    maxBuffer: 16 * 1024 * 1024,
  });
  const [info] = JSON.parse(packed.stdout) as { filename: string }[];
  tarball = join(dir, info?.filename as string);
}, 180_000);

afterAll(async () => {
  if (dev !== undefined && dev.exitCode === null) {
    dev.kill("SIGINT");
    await new Promise((resolve) => dev?.once("exit", resolve));
  }
  await rm(dir, { recursive: true, force: true });
});

describe("npm pack of cli/", () => {
  it("holds the bundle and nothing of the workspace", async () => {
    const listing = (await exec("tar", ["tzf", tarball])).stdout.trim().split("\n").sort();
    for (const path of listing) expect(path).toMatch(/^package\/(bin\/|dist\/|package\.json$|README\.md$)/);
    const pkg = JSON.parse((await exec("tar", ["xzOf", tarball, "package/package.json"])).stdout) as Record<
      string,
      unknown
    >;
    expect(pkg.dependencies).toBeUndefined();
    expect(pkg.optionalDependencies).toEqual({ miniflare: expect.any(String) });
    expect(pkg.engines).toEqual({ node: ">=20" });
    // Every import left in the bundle is Node's, the bundle's own, or the optional runtime.
    const unpacked = join(dir, "unpacked");
    await mkdir(unpacked);
    await exec("tar", ["xzf", tarball, "-C", unpacked]);
    const distDir = join(unpacked, "package", "dist");
    const specifiers = new Set<string>();
    for (const entry of await readdir(distDir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith(".mjs")) continue;
      const code = await readFile(join(entry.parentPath, entry.name), "utf8");
      for (const match of code.matchAll(
        /(?:^|[;\s])(?:import|export)\s[^"';]*?from\s*"([^"]+)"|import\(\s*"([^"]+)"\s*\)/gm,
      ))
        specifiers.add((match[1] ?? match[2]) as string);
    }
    // `cloudflare:` modules are imported by the embedded Worker scripts, which run in workerd.
    const foreign = [...specifiers].filter(
      (s) => !/^(node:|cloudflare:|\.\.?\/)/.test(s) && !builtinModules.includes(s) && s !== "miniflare",
    );
    expect(foreign).toEqual([]);
  });
});

describe("the installed package", () => {
  it("installs offline from an empty cache, without its optional runtime", async () => {
    await exec(
      "npm",
      [
        "install",
        "--no-audit",
        "--no-fund",
        "--offline",
        "--omit=optional",
        "--cache",
        join(dir, "npm-cache"),
        tarball,
      ],
      { cwd: app, env: { PATH: process.env.PATH ?? "", HOME: dir } },
    );
    const version = await exec(node.path, [join(app, "node_modules/.bin/mini-sites"), "--version"], {
      cwd: app,
    });
    expect(version.stdout).toBe("mini-sites 0.1.0\n");
  }, 120_000);

  it(`runs the local stack with \`mini-sites dev\`, then logs in and publishes with it (on Node ${process.versions.node.split(".")[0]} and the oldest Node here)`, async () => {
    const bin = join(app, "node_modules/@mini-sites/cli/bin/mini-sites.js");
    const env = { XDG_CONFIG_HOME: join(dir, "config"), HOME: dir, NO_COLOR: "1" };
    // Without its optional runtime, `dev` says what to install.
    const missing = await spawnCli(["dev", "--port", "0"], { env, cwd: app, bin });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("miniflare");

    await symlink(join(REPO_ROOT, "node_modules/miniflare"), join(app, "node_modules/miniflare"));
    dev = spawn(process.execPath, [bin, "dev", "--port", "0", "--data", join(app, ".data")], {
      cwd: app,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const running = dev;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`mini-sites dev did not start:\n${devOutput}`)),
        150_000,
      );
      const onData = (chunk: Buffer) => {
        devOutput += chunk.toString();
        if (devOutput.includes("Mini-Sites is running.")) {
          clearTimeout(timer);
          resolve();
        }
      };
      running.stdout?.on("data", onData);
      running.stderr?.on("data", onData);
      running.once("exit", (code) => reject(new Error(`mini-sites dev exited with ${code}:\n${devOutput}`)));
    });
    expect(devOutput).toContain("mini-sites login --dev");

    const cli = (args: string[]) => spawnCli(args, { env, cwd: app, bin, node: node.path });
    const login = await cli(["login", "--dev"]);
    expect(login.code, login.stderr).toBe(0);
    const site = await writeBundle(join(app, "packaged-site"), { "index.html": "<h1>from the package</h1>" });
    const started = Date.now();
    const published = await cli(["publish", site, "--json"]);
    expect(published.code, published.stderr).toBe(0);
    expect(JSON.parse(published.stdout)).toMatchObject({ site: "packaged-site", version: 1, status: "live" });
    process.stderr.write(
      `published with the installed package on Node ${node.version} in ${Date.now() - started} ms (tarball ${Math.round((await readFile(tarball)).length / 1024)} KiB)\n`,
    );
    const versions = await cli(["versions", "packaged-site", "--json"]);
    expect(JSON.parse(versions.stdout).versions).toHaveLength(1);

    running.kill("SIGINT");
    const code = await new Promise((resolve) => running.once("exit", resolve));
    expect(code).toBe(0);
    expect(devOutput).toContain("Stopping…");
  }, 300_000);
});
