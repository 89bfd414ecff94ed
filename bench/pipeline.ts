/**
 * Pipeline benchmark (DESIGN §9): read + validate + secret-scan throughput of `mini-sites validate`
 * against secretlint 13 with its recommended preset, on the same real minified JS, in the same run,
 * both measured as whole processes. Also: findings on that corpus (target: zero) and recall per rule
 * family on the scanner fixtures (target: at least secretlint's).
 *
 * Prints ratios, never asserts on time: performance targets live here, not in unit tests.
 */

import { execFile } from "node:child_process";
import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { scanText } from "@mini-sites/core";
import { secretFixtures } from "../core/test/fixtures/secret-fixtures.ts";

const exec = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const work = join(root, ".bench");
const corpus = join(work, "corpus");
const fixturesDir = join(work, "fixtures");
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

/** Real minified code as bundles ship it: Monaco's min build, Swagger UI, Chart.js, React DOM. */
const CORPUS_SOURCES = ["monaco-editor/min", "swagger-ui-dist", "chart.js/dist", "react-dom/cjs"];

async function buildCorpus(): Promise<{ files: number; bytes: number }> {
  await rm(corpus, { recursive: true, force: true });
  await mkdir(corpus, { recursive: true });
  for (const source of CORPUS_SOURCES) {
    await cp(join(root, "node_modules", source), join(corpus, source.replaceAll("/", "_")), {
      recursive: true,
    });
  }
  await writeFile(join(corpus, "index.html"), "<!doctype html><title>bench corpus</title>");
  return sizeOf(corpus);
}

async function sizeOf(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    files += 1;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return { files, bytes };
}

async function timeRuns(run: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return (times[Math.floor(times.length / 2)] as number) / 1000;
}

const node = process.execPath;
const cli = join(root, "cli/bin/mini-sites.js");
const secretlintBin = join(root, "node_modules/secretlint/bin/secretlint.js");
const secretlintRc = join(work, "secretlintrc.json");

async function ours(target: string): Promise<{ ok: boolean; findings: number }> {
  const out = await exec(node, [cli, "validate", target, "--json", "--no-progress"], {
    maxBuffer: 64 << 20,
  }).catch((e: { stdout: string }) => e);
  const report = JSON.parse(out.stdout);
  return { ok: report.ok, findings: report.findings.length };
}

interface SecretlintResult {
  filePath: string;
  messages: unknown[];
}

async function secretlint(target: string): Promise<SecretlintResult[]> {
  const out = await exec(
    node,
    [secretlintBin, `${target}/**/*`, "--secretlintrc", secretlintRc, "--format", "json", "--no-maskSecrets"],
    { maxBuffer: 256 << 20, cwd: target },
  ).catch((e: { stdout: string }) => e);
  return out.stdout.trim() === "" ? [] : (JSON.parse(out.stdout) as SecretlintResult[]);
}

async function writeFixtures(): Promise<Map<string, string>> {
  await rm(fixturesDir, { recursive: true, force: true });
  const familyOf = new Map<string, string>();
  const fixtures = secretFixtures();
  for (const [i, fixture] of fixtures.entries()) {
    // The fixture keeps its own file name (rules may depend on it, e.g. `.env` files).
    const file = join(fixturesDir, fixture.family, String(i), fixture.path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, fixture.text);
    familyOf.set(relative(fixturesDir, file).split(sep).join("/"), fixture.family);
  }
  return familyOf;
}

async function main(): Promise<void> {
  await mkdir(work, { recursive: true });
  await writeFile(
    secretlintRc,
    JSON.stringify({ rules: [{ id: "@secretlint/secretlint-rule-preset-recommend" }] }),
  );
  const size = await buildCorpus();
  const mb = size.bytes / 1e6;
  console.log(`corpus: ${size.files} files, ${mb.toFixed(1)} MB (${CORPUS_SOURCES.join(", ")})`);

  const ourVerdict = await ours(corpus);
  const theirResults = await secretlint(corpus);
  const ourSeconds = await timeRuns(() => ours(corpus));
  const theirSeconds = await timeRuns(() => secretlint(corpus));
  const theirFindings = theirResults.reduce((n, r) => n + r.messages.length, 0);

  console.log("\nread + validate + scan, whole process, median of", RUNS, "runs");
  console.log(
    `  mini-sites validate  ${(mb / ourSeconds).toFixed(1).padStart(7)} MB/s  (${ourSeconds.toFixed(2)} s, ${ourVerdict.findings} findings, ok=${ourVerdict.ok})`,
  );
  console.log(
    `  secretlint 13        ${(mb / theirSeconds).toFixed(1).padStart(7)} MB/s  (${theirSeconds.toFixed(2)} s, ${theirFindings} findings)`,
  );
  console.log(`  ratio                ${(theirSeconds / ourSeconds).toFixed(2)}×  (target ≥ 5×)`);

  const familyOf = await writeFixtures();
  const ourHits = new Set<string>();
  for (const [path] of familyOf) {
    if (scanText(path, await readFile(join(fixturesDir, path), "utf8")).length > 0) ourHits.add(path);
  }
  const theirHits = new Set(
    (await secretlint(fixturesDir))
      .filter((r) => r.messages.length > 0)
      .map((r) => relative(fixturesDir, r.filePath).split(sep).join("/")),
  );
  const families = [...new Set(familyOf.values())].sort();
  console.log("\nrecall on the scanner fixtures (files detected / files)");
  console.log(`  ${"family".padEnd(22)} ${"mini-sites".padStart(10)} ${"secretlint".padStart(10)}`);
  let ourTotal = 0;
  let theirTotal = 0;
  for (const family of families) {
    const paths = [...familyOf].filter(([, f]) => f === family).map(([p]) => p);
    const a = paths.filter((p) => ourHits.has(p)).length;
    const b = paths.filter((p) => theirHits.has(p)).length;
    ourTotal += a;
    theirTotal += b;
    console.log(
      `  ${family.padEnd(22)} ${`${a}/${paths.length}`.padStart(10)} ${`${b}/${paths.length}`.padStart(10)}`,
    );
  }
  console.log(
    `  ${"all".padEnd(22)} ${`${ourTotal}/${familyOf.size}`.padStart(10)} ${`${theirTotal}/${familyOf.size}`.padStart(10)}`,
  );
}

await main();
