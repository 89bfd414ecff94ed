import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { strToU8, zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/main.ts";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../..");
const swaggerUi = join(repoRoot, "node_modules/swagger-ui-dist");

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(args: string[], cwd: string): Promise<Captured> {
  let stdout = "";
  let stderr = "";
  const code = await main(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: {},
    cwd,
  });
  return { code, stdout, stderr };
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mini-sites-cli-"));
  await mkdir(join(dir, "site/assets"), { recursive: true });
  await writeFile(join(dir, "site/index.html"), '<script type="module" src="/assets/app.js"></script>');
  await writeFile(join(dir, "site/assets/app.js"), "console.log('hello');");
  await writeFile(
    join(dir, "site.zip"),
    zipSync({ "index.html": strToU8("<h1>hi</h1>"), "assets/app.js": strToU8("console.log('hello');") }),
  );
  await writeFile(
    join(dir, "leaky.zip"),
    zipSync({ "index.html": strToU8("<h1>hi</h1>"), "../escape.js": strToU8("x") }),
  );
  await writeFile(join(dir, "page.html"), "<!doctype html><title>one file</title><p>Hello</p>");
  await writeFile(join(dir, "notes.txt"), "not a bundle");
  await mkdir(join(dir, "secrets"));
  await writeFile(join(dir, "secrets/index.html"), "<p>dashboard</p>");
  // Assembled at run time so this repository never contains a realistic-looking key.
  const token = ["ghp", "_", "Q3EGRT7ZKW5MNB2X", "v8Lp0aYc4Hd7Jk9Wm2Rt5Ux"].join("");
  await writeFile(join(dir, "secrets/config.js"), `const cfg = {\n  githubToken: "${token}",\n};\n`);
  // A Google browser key (public by design: a warning) and an AWS key id alone (a warning too).
  const mapsKey = ["AIza", "SyB7kQ2mX9vLp4Rt8", "wZc3Nf6Hj1Ds5Gy0Ue"].join("");
  await mkdir(join(dir, "warned"));
  await writeFile(join(dir, "warned/index.html"), "<p>map</p>");
  await writeFile(join(dir, "warned/firebase.js"), `const firebaseConfig = { apiKey: "${mapsKey}" };\n`);
  await writeFile(join(dir, "warned/maps.js"), `loadMaps({ key: "${mapsKey}" });\n`);
  await mkdir(join(dir, "linked"));
  await writeFile(join(dir, "linked/index.html"), "<p>x</p>");
  await symlink("/etc/passwd", join(dir, "linked/passwd.txt"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("mini-sites validate", () => {
  it("accepts a folder and prints the --json contract with nothing else on stdout", async () => {
    const { code, stdout } = await run(["validate", "site", "--json"], dir);
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(Object.keys(report)).toEqual([
      "ok",
      "files",
      "bytes",
      "bundleHash",
      "errors",
      "findings",
      "summary",
    ]);
    expect(report).toMatchObject({ ok: true, files: 2, errors: [], findings: [], summary: [] });
    expect(report.bundleHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("gives a zip and the same folder the same bundle hash", async () => {
    const zip = JSON.parse((await run(["validate", "site.zip", "--json"], dir)).stdout);
    await mkdir(join(dir, "same/assets"), { recursive: true });
    await writeFile(join(dir, "same/index.html"), "<h1>hi</h1>");
    await writeFile(join(dir, "same/assets/app.js"), "console.log('hello');");
    const folder = JSON.parse((await run(["validate", "same", "--json"], dir)).stdout);
    expect(zip.ok).toBe(true);
    expect(zip.bundleHash).toBe(folder.bundleHash);
  });

  it("hosts a single html file as index.html", async () => {
    const { code, stdout } = await run(["validate", "page.html", "--json"], dir);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ ok: true, files: 1 });
  });

  it("rejects a zip whose entry climbs out of the bundle, with exit 1 and the offending path", async () => {
    const { code, stdout } = await run(["validate", "leaky.zip", "--json"], dir);
    expect(code).toBe(1);
    const report = JSON.parse(stdout);
    expect(report.ok).toBe(false);
    expect(report.errors).toContainEqual(
      expect.objectContaining({ code: "PATH_TRAVERSAL", path: "../escape.js" }),
    );
  });

  it("rejects a bundle holding a secret and never prints the secret", async () => {
    const { code, stdout } = await run(["validate", "secrets", "--json"], dir);
    expect(code).toBe(1);
    const report = JSON.parse(stdout);
    expect(report.errors).toContainEqual(
      expect.objectContaining({ code: "SECRET_DETECTED", path: "config.js" }),
    );
    expect(report.findings[0]).toMatchObject({ path: "config.js", line: 2 });
    expect(stdout).not.toContain("Q3EGRT7ZKW5MNB2X");
    expect(report.findings[0].rule).toBe("github-token");
    expect(report.findings[0].severity).toBe("block");
    expect(report.findings[0].fileHash).toMatch(/^[0-9a-f]{64}$/);
    expect(report.summary).toEqual([{ rule: "github-token", severity: "block", count: 1, files: 1 }]);
  });

  it("accepts a bundle whose findings are only warnings, and lists them", async () => {
    const { code, stdout } = await run(["validate", "warned", "--json"], dir);
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.ok).toBe(true);
    expect(report.errors).toEqual([]);
    expect(report.summary).toEqual([{ rule: "google-api-key", severity: "warn", count: 2, files: 2 }]);
    const human = await run(["validate", "warned"], dir);
    expect(human.stdout).toContain("can be published");
    expect(human.stdout).toMatch(/google-api-key\s+warn\s+2\s+2/);
  });

  it("reports a symlink instead of following it", async () => {
    const { code, stdout } = await run(["validate", "linked", "--json"], dir);
    expect(code).toBe(1);
    expect(JSON.parse(stdout).errors).toContainEqual(
      expect.objectContaining({ code: "SYMLINK", path: "passwd.txt" }),
    );
  });

  it("tells a person what is wrong, where, and what to do", async () => {
    const { code, stdout } = await run(["validate", "leaky.zip"], dir);
    expect(code).toBe(1);
    expect(stdout).toContain("cannot be published");
    expect(stdout).toContain("PATH_TRAVERSAL");
    expect(stdout).toContain("../escape.js");
    expect(stdout).toContain('Fix these, then run "mini-sites validate leaky.zip" again.');
  });

  it("accepts a real multi-file static app published on npm (swagger-ui-dist)", async () => {
    const { code, stdout } = await run(["validate", swaggerUi, "--json"], dir);
    const report = JSON.parse(stdout);
    expect(report.errors).toEqual([]);
    expect(code).toBe(0);
    expect(report.files).toBeGreaterThan(10);
  });

  it("answers usage errors with exit 2: missing path, unknown command, not a bundle", async () => {
    expect((await run(["validate"], dir)).code).toBe(2);
    expect((await run(["frobnicate"], dir)).code).toBe(2);
    expect((await run(["validate", "nope"], dir)).code).toBe(2);
    const notBundle = await run(["validate", "notes.txt"], dir);
    expect(notBundle.code).toBe(2);
    expect(notBundle.stderr).toContain("not a folder, a .zip or an .html file");
  });
});

describe("mini-sites scan", () => {
  it("finds a secret in a folder, exits 1, and prints the --json contract", async () => {
    const { code, stdout } = await run(["scan", "secrets", "--json"], dir);
    expect(code).toBe(1);
    const report = JSON.parse(stdout);
    expect(Object.keys(report)).toEqual(["files", "bytes", "findings", "summary"]);
    expect(report.files).toBe(2);
    expect(report.findings).toEqual([
      expect.objectContaining({ rule: "github-token", severity: "block", path: "config.js", line: 2 }),
    ]);
    expect(report.summary).toEqual([{ rule: "github-token", severity: "block", count: 1, files: 1 }]);
  });

  it("prints a per-rule summary, and exits 0 when there are only warnings", async () => {
    const blocked = await run(["scan", "secrets"], dir);
    expect(blocked.code).toBe(1);
    expect(blocked.stdout).toMatch(/rule\s+severity\s+findings\s+files/);
    expect(blocked.stdout).toMatch(/github-token\s+block\s+1\s+1/);
    expect(blocked.stdout).not.toContain("Q3EGRT7ZKW5MNB2X");
    const warned = await run(["scan", "warned"], dir);
    expect(warned.code).toBe(0);
    expect(warned.stdout).toMatch(/google-api-key\s+warn\s+2\s+2/);
    expect(warned.stdout).toContain("firebase.js:1:");
    const json = JSON.parse((await run(["scan", "warned", "--json"], dir)).stdout);
    expect(json.findings.map((f: { path: string }) => f.path)).toEqual(["firebase.js", "maps.js"]);
  });

  it("scans a single file of any type and a zip", async () => {
    expect((await run(["scan", "secrets/config.js", "--json"], dir)).code).toBe(1);
    const zip = await run(["scan", "site.zip", "--json"], dir);
    expect(zip.code).toBe(0);
    expect(JSON.parse(zip.stdout)).toMatchObject({ files: 2, findings: [] });
  });
});

describe("the installed command", () => {
  it("runs as `npx mini-sites` from the repository root on the repo's own Node", async () => {
    const exec = promisify(execFile);
    const bin = join(repoRoot, "node_modules/.bin/mini-sites");
    const env = { ...process.env, PATH: `${join(repoRoot, "node_modules/.bin")}:${process.env.PATH}` };
    const ok = await exec(bin, ["validate", join(dir, "site"), "--json"], { env });
    expect(JSON.parse(ok.stdout).ok).toBe(true);
    const rejected = await exec(bin, ["validate", join(dir, "leaky.zip"), "--json"], { env }).catch((e) => e);
    expect(rejected.code).toBe(1);
    expect(JSON.parse(rejected.stdout).errors[0].code).toBe("PATH_TRAVERSAL");
  });
});
