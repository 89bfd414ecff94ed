/**
 * Pipeline benchmark (DESIGN §9): the secret scan against secretlint 13 (recommended preset), both
 * run as whole processes through their installed bins, in the same run, interleaved, median of
 * BENCH_RUNS rounds. Prints figures and ratios, never asserts on time: performance targets live
 * here, not in unit tests.
 *
 * 1. Many files: `mini-sites scan --json` vs `secretlint` on ~700 real library files, ~40 MB
 *    (bench/corpus/libraries.ts, MANY_FILES): MB/s, files/s, ratio, findings of both. Target ≥ 5×.
 * 2. Large files: `mini-sites validate --json` (read + validate + scan) vs secretlint on Monaco's
 *    min build, Swagger UI, Chart.js and React DOM, the figure this benchmark always reported.
 * 3. False positives: `mini-sites scan --json` on the whole library corpus (41 packages + TodoMVC
 *    apps, ~320 MB). Target: 0 findings, warnings included.
 * 4. Recall per family on the scanner fixtures, ours vs secretlint (and gitleaks, when a `gitleaks`
 *    binary is given in GITLEAKS).
 * 5. workerd: the same core scanning a 100 MiB bundle inside a Worker (bench/pipeline-workerd.ts).
 *
 * Run: `npm run bench -- pipeline` (BENCH_RUNS=7 for more rounds).
 */

import { execFile } from "node:child_process";
import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { scanText } from "@mini-sites/core";
import { secretFixtures } from "../core/test/fixtures/secret-fixtures.ts";
import { buildCorpus, LIBRARIES_DIR, MANY_FILES_DIR, sizeOf } from "./corpus/build.ts";
import { scanInWorkerd } from "./pipeline-workerd.ts";

const exec = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const work = join(root, ".bench");
const largeDir = join(work, "large-files");
const fixturesDir = join(work, "fixtures");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

/** The installed bins, as a user runs them (`npm run` puts node_modules/.bin, and Node 22, first). */
const ourBin = join(root, "node_modules/.bin/mini-sites");
const secretlintBin = join(root, "node_modules/.bin/secretlint");
const secretlintRc = join(work, "secretlintrc.json");

/** Real minified code as bundles ship it, in few large files: the benchmark's original set. */
const LARGE_SOURCES = ["monaco-editor/min", "swagger-ui-dist", "chart.js/dist", "react-dom/cjs"];

async function buildLargeFiles(): Promise<void> {
  await rm(largeDir, { recursive: true, force: true });
  await mkdir(largeDir, { recursive: true });
  for (const source of LARGE_SOURCES) {
    await cp(join(root, "node_modules", source), join(largeDir, source.replaceAll("/", "_")), {
      recursive: true,
    });
  }
  await writeFile(join(largeDir, "index.html"), "<!doctype html><title>bench corpus</title>");
}

interface Summary {
  readonly rule: string;
  readonly severity: string;
  readonly count: number;
  readonly files: number;
}

interface OurResult {
  readonly findings: number;
  readonly summary: readonly Summary[];
}

async function ours(command: "scan" | "validate", target: string): Promise<OurResult> {
  const out = await exec(ourBin, [command, target, "--json", "--no-progress"], {
    maxBuffer: 256 << 20,
  }).catch((e: { stdout: string }) => e);
  const report = JSON.parse(out.stdout) as { findings: unknown[]; summary: Summary[] };
  return { findings: report.findings.length, summary: report.summary };
}

interface SecretlintResult {
  filePath: string;
  messages: unknown[];
}

async function secretlint(target: string): Promise<SecretlintResult[]> {
  const out = await exec(
    secretlintBin,
    ["**/*", "--secretlintrc", secretlintRc, "--format", "json", "--no-maskSecrets"],
    { maxBuffer: 1 << 30, cwd: target },
  ).catch((e: { stdout: string }) => e);
  return out.stdout.trim() === "" ? [] : (JSON.parse(out.stdout) as SecretlintResult[]);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function seconds(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return (performance.now() - start) / 1000;
}

/** Rounds of (ours, theirs) with the order alternating, so load on the machine hits both alike. */
async function interleaved(
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
): Promise<{ a: number; b: number; ratios: number[] }> {
  const as: number[] = [];
  const bs: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let ta: number;
    let tb: number;
    if (i % 2 === 0) {
      ta = await seconds(a);
      tb = await seconds(b);
    } else {
      tb = await seconds(b);
      ta = await seconds(a);
    }
    as.push(ta);
    bs.push(tb);
    ratios.push(tb / ta);
  }
  return { a: median(as), b: median(bs), ratios };
}

function line(label: string, size: { files: number; bytes: number }, s: number, extra: string): string {
  const mbs = size.bytes / 1e6 / s;
  return `  ${label.padEnd(22)} ${mbs.toFixed(1).padStart(7)} MB/s ${(size.files / s).toFixed(0).padStart(7)} files/s  ${s.toFixed(3)} s  ${extra}`;
}

function summaryText(summary: readonly Summary[]): string {
  return summary.map((s) => `${s.rule} (${s.severity}) ×${s.count} in ${s.files} files`).join(", ");
}

async function compare(
  title: string,
  dir: string,
  command: "scan" | "validate",
): Promise<{ ratio: number; ourFindings: number }> {
  const size = await sizeOf(dir);
  console.log(`\n${title}: ${size.files} files, ${(size.bytes / 1e6).toFixed(1)} MB`);
  // One untimed run each: the CLI builds its cached bundle on first start, the page cache fills.
  const verdict = await ours(command, dir);
  const theirs = await secretlint(dir);
  const theirFindings = theirs.reduce((n, r) => n + r.messages.length, 0);
  const t = await interleaved(
    () => ours(command, dir),
    () => secretlint(dir),
  );
  console.log(
    line(`mini-sites ${command}`, size, t.a, `${verdict.findings} findings ${summaryText(verdict.summary)}`),
  );
  console.log(line("secretlint 13", size, t.b, `${theirFindings} findings`));
  const ratio = t.b / t.a;
  console.log(
    `  ratio (median times)    ${ratio.toFixed(2)}×  per round: ${t.ratios.map((r) => r.toFixed(2)).join(" ")}  (target ≥ 5×, ${RUNS} interleaved rounds)`,
  );
  return { ratio, ourFindings: verdict.findings };
}

async function writeFixtures(): Promise<Map<string, string>> {
  await rm(fixturesDir, { recursive: true, force: true });
  const familyOf = new Map<string, string>();
  for (const [i, fixture] of secretFixtures().entries()) {
    // The fixture keeps its own file name (rules may depend on it, e.g. `.env` files).
    const file = join(fixturesDir, fixture.family, String(i), fixture.path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, fixture.text);
    familyOf.set(relative(fixturesDir, file).split(sep).join("/"), fixture.family);
  }
  return familyOf;
}

/** Files gitleaks reports (`gitleaks dir`, v8.19+, or `detect --no-git` before). */
async function gitleaksHits(bin: string): Promise<Set<string> | undefined> {
  const report = join(work, "gitleaks.json");
  const attempts = [
    ["dir", fixturesDir, "--report-format", "json", "--report-path", report, "--exit-code", "0"],
    [
      "detect",
      "--no-git",
      "--source",
      fixturesDir,
      "--report-format",
      "json",
      "--report-path",
      report,
      "--exit-code",
      "0",
    ],
  ];
  for (const args of attempts) {
    const ok = await exec(bin, args, { maxBuffer: 64 << 20 }).then(
      () => true,
      () => false,
    );
    if (!ok) continue;
    const findings = JSON.parse(await readFile(report, "utf8")) as { File: string }[];
    return new Set(
      findings.map((f) => relative(fixturesDir, join(fixturesDir, f.File)).split(sep).join("/")),
    );
  }
  return undefined;
}

async function recall(): Promise<void> {
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
  const gitleaks = process.env.GITLEAKS ? await gitleaksHits(process.env.GITLEAKS) : undefined;
  const families = [...new Set(familyOf.values())].sort();
  console.log("\nrecall on the scanner fixtures (files detected / files)");
  console.log(
    `  ${"family".padEnd(18)} ${"mini-sites".padStart(10)} ${"secretlint".padStart(10)}${gitleaks ? " gitleaks".padStart(10) : ""}`,
  );
  const totals = [0, 0, 0];
  for (const family of families) {
    const paths = [...familyOf].filter(([, f]) => f === family).map(([p]) => p);
    const counts = [ourHits, theirHits, gitleaks ?? new Set<string>()].map(
      (hits) => paths.filter((p) => hits.has(p)).length,
    );
    counts.forEach((c, i) => {
      totals[i] = (totals[i] as number) + c;
    });
    const cells = counts.slice(0, gitleaks ? 3 : 2).map((c) => `${c}/${paths.length}`.padStart(10));
    console.log(`  ${family.padEnd(18)} ${cells.join(" ")}`);
  }
  const cells = totals.slice(0, gitleaks ? 3 : 2).map((c) => `${c}/${familyOf.size}`.padStart(10));
  console.log(`  ${"all".padEnd(18)} ${cells.join(" ")}`);
  if (!gitleaks) console.log("  (set GITLEAKS=/path/to/gitleaks to add its column)");
}

async function main(): Promise<void> {
  await mkdir(work, { recursive: true });
  await writeFile(
    secretlintRc,
    JSON.stringify({ rules: [{ id: "@secretlint/secretlint-rule-preset-recommend" }] }),
  );
  const corpus = await buildCorpus();
  await buildLargeFiles();

  const many = await compare("many files (scan)", MANY_FILES_DIR, "scan");
  const large = await compare("large files (read + validate + scan)", largeDir, "validate");

  const libraries = await ours("scan", LIBRARIES_DIR);
  console.log(
    `\nfalse positives: mini-sites scan on the whole library corpus (${corpus.packages} packages + TodoMVC apps, ${corpus.libraries.files} files, ${(corpus.libraries.bytes / 1e6).toFixed(1)} MB): ${libraries.findings} findings (target 0)${libraries.findings > 0 ? ` — ${summaryText(libraries.summary)}` : ""}`,
  );

  await recall();
  await scanInWorkerd();

  console.log(
    `\nsummary: many files ${many.ratio.toFixed(2)}× secretlint, large files ${large.ratio.toFixed(2)}×, ${libraries.findings} findings on ${corpus.libraries.files} library files`,
  );
}

await main();
