/**
 * Real-world libraries must not trigger findings (DESIGN §5): a false positive blocks a legitimate
 * publish. These packages are devDependencies so that this test reads real bytes; the benchmark
 * scans the whole 41-package corpus (bench/corpus/libraries.ts).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type SecretFinding, scanBytes } from "../../src/secrets/index.ts";

const ROOT = join(import.meta.dirname, "../../../node_modules");
const PACKAGES = [
  "monaco-editor",
  "react-dom",
  "lodash",
  "chart.js",
  "swagger-ui-dist",
  // Editor grammars, AngularJS's documentation comments, an SDK full of token handling, docs tools.
  "ace-builds",
  "codemirror",
  "angular",
  "firebase",
  "docsify",
  "ol",
  "mathjax",
];
const SCANNED = /\.(?:js|mjs|cjs|css|html|json|map)$/;

function walk(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else if (SCANNED.test(entry.name)) out.push(path);
  }
  return out;
}

describe("real-world libraries", () => {
  it.each(PACKAGES)("%s gives no finding", (pkg) => {
    const findings: SecretFinding[] = [];
    let bytes = 0;
    const files = walk(join(ROOT, pkg));
    for (const file of files) {
      const data = readFileSync(file);
      bytes += data.length;
      findings.push(...scanBytes(file.slice(ROOT.length + 1), data));
    }
    expect(files.length).toBeGreaterThan(0);
    expect(bytes).toBeGreaterThan(1 << 20);
    expect(findings).toEqual([]);
  });
});
