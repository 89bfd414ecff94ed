/**
 * The core runs unchanged in workerd: the same zip gives the same report in a Worker as in Node.
 * The core promises "no I/O, no Node globals" (STYLE.md); this is the test that holds it to it, by
 * bundling a tiny Worker around `readBundle`/`scanBytes` with esbuild and running it in Miniflare.
 */

import { fileURLToPath } from "node:url";
import { strToU8, zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesSource, readBundle, scanBytes } from "../../core/src/index.ts";
import { bundleWorker } from "../src/bundle-worker.ts";
import { type SingleWorker, startSingleWorker } from "../src/single-worker.ts";
import { COMPATIBILITY_DATE } from "../src/user-workers.ts";

// Assembled so the repository's own secret scan does not flag this test; the body is random base62.
const FAKE_GITHUB_TOKEN = ["ghp", "_", "R8x2Kq9ZtW4mN7vB1cL5pJ3hY6dF0sGaE2uT"].join("");

const ZIP = zipSync({
  "index.html": strToU8("<!doctype html><title>hi</title><script src=assets/app.js></script>"),
  "assets/app.js": strToU8("console.log('hello');"),
  "assets/config.js": strToU8(`const token = "${FAKE_GITHUB_TOKEN}";`),
  "assets/logo.svg": strToU8('<svg xmlns="http://www.w3.org/2000/svg"/>'),
});

interface WorkerAnswer {
  readonly report: {
    readonly ok: boolean;
    readonly files: readonly { path: string; size: number; contentType: string; hash: string }[];
    readonly bundleHash: string;
    readonly errors: readonly unknown[];
  };
  readonly findings: readonly { path: string; count: number }[];
}

describe("core in workerd", () => {
  let mf: SingleWorker;
  let answer: WorkerAnswer;

  beforeAll(async () => {
    const code = await bundleWorker(fileURLToPath(new URL("./fixtures/core-worker.ts", import.meta.url)));
    mf = await startSingleWorker({
      name: "core-worker",
      compatibilityDate: COMPATIBILITY_DATE,
      script: code,
    });
    const response = await mf.dispatchFetch("http://core.test/", { method: "POST", body: ZIP });
    expect(response.status).toBe(200);
    answer = (await response.json()) as WorkerAnswer;
  });

  afterAll(async () => {
    await mf?.dispose();
  });

  it("reads the zip into a sorted manifest with content types and 32-hex hashes", () => {
    const { report } = answer;
    expect(report.ok).toBe(true);
    expect(report.errors).toEqual([]);
    expect(report.files.map((file) => file.path)).toEqual([
      "assets/app.js",
      "assets/config.js",
      "assets/logo.svg",
      "index.html",
    ]);
    const byPath = new Map(report.files.map((file) => [file.path, file]));
    expect(byPath.get("index.html")?.contentType).toMatch(/^text\/html/);
    expect(byPath.get("assets/app.js")?.contentType).toMatch(/^text\/javascript/);
    expect(byPath.get("assets/logo.svg")?.contentType).toMatch(/^image\/svg\+xml/);
    expect(byPath.get("assets/app.js")?.size).toBe("console.log('hello');".length);
    for (const file of report.files) expect(file.hash).toMatch(/^[0-9a-f]{32}$/);
    expect(report.bundleHash).not.toBe("");
  });

  it("finds the secret in the file that holds it and nowhere else", () => {
    expect(answer.findings).toEqual([
      { path: "assets/app.js", count: 0 },
      { path: "assets/config.js", count: expect.any(Number) },
      { path: "assets/logo.svg", count: 0 },
      { path: "index.html", count: 0 },
    ]);
    expect(answer.findings[1]?.count).toBeGreaterThan(0);
  });

  it("gives the same report in workerd as in Node", async () => {
    const findings: { path: string; count: number }[] = [];
    const report = await readBundle(
      { kind: "zip", source: bytesSource(ZIP) },
      {
        onFile: (entry, bytes) =>
          void findings.push({ path: entry.path, count: scanBytes(entry.path, bytes).length }),
      },
    );
    expect(answer).toEqual(JSON.parse(JSON.stringify({ report, findings })));
  });
});
