/**
 * The secret scan inside workerd (the control Worker's runtime), on a 100 MiB bundle of real library
 * files: the CPU time a publish of the largest allowed bundle spends scanning, and the whole check
 * (read the zip, validate, scan), against a Worker's CPU limit (30 s by default on paid plans,
 * configurable up to 5 min). Node's figure for the same files is printed beside it.
 *
 * workerd freezes timers while code runs (Spectre mitigation), so the figure is measured from
 * outside: the wall time of a request that does the work minus that of an empty request, median of
 * several. The Worker does nothing else meanwhile, so that is its CPU time.
 */

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { zipSync } from "fflate";
import { looksBinary, scanBytes } from "../core/src/index.ts";
import { bundleWorker } from "../dev/src/bundle-worker.ts";
import { startSingleWorker } from "../dev/src/single-worker.ts";
import { LIBRARIES_DIR } from "./corpus/build.ts";

/** The bundle cap (core/src/limits.ts), less room for the entry page. */
const TARGET_BYTES = 100 * 1024 * 1024 - 4096;
const MAX_FILE = 25 * 1024 * 1024;
const ROUNDS = 3;

/** The first 100 MiB of text files of the library corpus, in path order (deterministic). */
function hundredMiB(): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  let total = 0;
  const paths = readdirSync(LIBRARIES_DIR, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
  for (const full of paths) {
    if (total >= TARGET_BYTES) break;
    const size = statSync(full).size;
    if (size > MAX_FILE || total + size > TARGET_BYTES) continue;
    const bytes = readFileSync(full);
    if (looksBinary(bytes)) continue;
    files.set(relative(LIBRARIES_DIR, full).split(sep).join("/"), bytes);
    total += size;
  }
  files.set("index.html", new TextEncoder().encode("<!doctype html><title>100 MiB</title>"));
  return files;
}

const WORKER_ENTRY = `
import { bytesSource, checkBundle, readBundle, scanBytes } from "./core/src/index.ts";
let zip;
let files;
export default {
  async fetch(request) {
    const mode = new URL(request.url).searchParams.get("mode");
    if (request.method === "PUT") {
      // In parts: one request body may not exceed 100 MB, and the zip is a little more than 100 MiB.
      const part = new Uint8Array(await request.arrayBuffer());
      const joined = new Uint8Array((zip?.length ?? 0) + part.length);
      if (zip !== undefined) joined.set(zip);
      joined.set(part, zip?.length ?? 0);
      zip = joined;
      files = undefined;
      return new Response(String(zip.length));
    }
    if (mode === "check") {
      const report = await checkBundle({ kind: "zip", source: bytesSource(zip) });
      return new Response(report.errors.length > 0 ? report.errors.map((e) => e.code).join(",") : String(report.findings.length) + " " + String(report.files.length));
    }
    if (mode === "extract") {
      files = [];
      await readBundle({ kind: "zip", source: bytesSource(zip) }, { onFile: (entry, bytes) => void files.push([entry.path, bytes]) });
      zip = undefined;
      return new Response(String(files.length));
    }
    if (mode === "scan") {
      let findings = 0;
      for (const [path, bytes] of files) findings += scanBytes(path, bytes).length;
      return new Response(String(findings));
    }
    return new Response("0");
  },
};`;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] as number;
}

export async function scanInWorkerd(): Promise<void> {
  const files = hundredMiB();
  const bytes = [...files.values()].reduce((n, b) => n + b.length, 0);
  const zip = zipSync(Object.fromEntries(files), { level: 0 });

  // Node, the same files: the first pass (a cold process, as the CLI runs) and the median of the rest.
  const nodeRuns: number[] = [];
  for (let i = 0; i <= ROUNDS; i++) {
    const start = performance.now();
    for (const [path, content] of files) scanBytes(path, content);
    nodeRuns.push((performance.now() - start) / 1000);
  }
  const nodeCold = nodeRuns[0] as number;
  const nodeSeconds = median(nodeRuns.slice(1));

  const root = new URL("..", import.meta.url).pathname;
  const code = await bundleWorker({ contents: WORKER_ENTRY, resolveDir: root });
  const mf = await startSingleWorker({ name: "scan-bench", compatibilityDate: "2025-09-01", script: code });
  try {
    const timed = async (mode: string): Promise<{ ms: number; text: string }> => {
      const t0 = performance.now();
      const response = await mf.dispatchFetch(`http://bench.test/?mode=${mode}`);
      const text = await response.text();
      return { ms: performance.now() - t0, text };
    };
    const cpu = async (mode: string): Promise<{ ms: number; first: number; text: string }> => {
      const samples: number[] = [];
      let text = "";
      for (let i = 0; i < ROUNDS; i++) {
        const empty = await timed("noop");
        const full = await timed(mode);
        samples.push(full.ms - empty.ms);
        text = full.text;
      }
      return { ms: median(samples), first: samples[0] as number, text };
    };
    const PART = 32 << 20;
    for (let offset = 0; offset < zip.length; offset += PART) {
      const stored = await mf.dispatchFetch("http://bench.test/", {
        method: "PUT",
        body: zip.subarray(offset, offset + PART),
      });
      if (!stored.ok) throw new Error(`workerd refused part ${offset / PART}: ${stored.status}`);
      await stored.text();
    }
    const check = await cpu("check");
    if (!/^\d+ \d+$/.test(check.text))
      throw new Error(`check failed in workerd: ${check.text.slice(0, 200)}`);
    const extracted = await timed("extract");
    if (extracted.text !== String(files.size)) throw new Error(`workerd read ${extracted.text} files`);
    const scan = await cpu("scan");
    const mb = bytes / 1e6;
    console.log(
      `\nworkerd: a ${(bytes / 1024 / 1024).toFixed(0)} MiB bundle of ${files.size} library text files (findings: ${scan.text})`,
    );
    const rate = (ms: number) => `${(mb / (ms / 1000)).toFixed(0)} MB/s`;
    console.log(
      `  scan only                  median ${(scan.ms / 1000).toFixed(2)} s CPU (${rate(scan.ms)}), first ${(scan.first / 1000).toFixed(2)} s`,
    );
    console.log(
      `  read zip + validate + scan median ${(check.ms / 1000).toFixed(2)} s CPU (${rate(check.ms)}), first ${(check.first / 1000).toFixed(2)} s`,
    );
    console.log(
      `  Node, same files, scan     median ${nodeSeconds.toFixed(2)} s (${rate(nodeSeconds * 1000)}), first ${nodeCold.toFixed(2)} s`,
    );
    console.log("  (a Worker may use 30 s of CPU per request by default, up to 300 s)");
  } finally {
    await mf.dispose();
  }
}

if (process.argv[1] === new URL(import.meta.url).pathname) await scanInWorkerd();
