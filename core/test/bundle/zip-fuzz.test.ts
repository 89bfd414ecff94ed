/**
 * Property: whatever bytes arrive (DESIGN §6.10), readBundle answers with a report, never a throw,
 * every error carries a known code, and every file handed to onFile is exactly what its manifest
 * entry claims (size and hash).
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assetHash } from "../../src/bundle/hash.ts";
import { readBundle } from "../../src/bundle/read.ts";
import { bytesSource } from "../../src/bundle/source.ts";
import { BUNDLE_ERROR_CODES } from "../../src/errors.ts";
import { writeZip } from "../helpers/zip-writer.ts";

const VALID = writeZip(
  [
    { name: "site/index.html", data: "<!doctype html><script src=app.js></script>".repeat(20) },
    { name: "site/app.js", data: "export const answer = 42;\n".repeat(50) },
    { name: "site/data.json", data: '{"a":1}', method: 0 },
    { name: "site/img/", data: "" },
    { name: "site/img/dot.svg", data: "<svg xmlns='http://www.w3.org/2000/svg'/>" },
  ],
  { comment: "fuzz" },
);

const mutation = fc.record({
  flips: fc.array(fc.tuple(fc.nat({ max: VALID.length - 1 }), fc.integer({ min: 0, max: 255 })), {
    minLength: 1,
    maxLength: 8,
  }),
  cut: fc.option(fc.nat({ max: VALID.length }), { nil: undefined }),
  limits: fc.option(
    fc.record({ maxFiles: fc.integer({ min: 1, max: 5 }), maxFileBytes: fc.integer({ min: 10, max: 2000 }) }),
    { nil: undefined },
  ),
});

describe("readBundle on mutated zips", () => {
  it("never throws, returns typed errors, and hands onFile only bytes matching their hash", async () => {
    await fc.assert(
      fc.asyncProperty(mutation, async ({ flips, cut, limits }) => {
        const bytes = VALID.slice(0, cut ?? VALID.length);
        for (const [at, value] of flips) if (at < bytes.length) bytes[at] = value;
        const report = await readBundle(
          { kind: "zip", source: bytesSource(bytes) },
          {
            limits,
            onFile: async (entry, data) => {
              expect(data.length).toBe(entry.size);
              expect(await assetHash(entry.path, data)).toBe(entry.hash);
            },
          },
        );
        expect(report.ok).toBe(report.errors.length === 0);
        for (const error of report.errors) {
          expect(BUNDLE_ERROR_CODES).toContain(error.code);
          expect(typeof error.path).toBe("string");
          expect(error.message.length).toBeGreaterThan(0);
        }
        if (report.ok) expect(report.bundleHash).toMatch(/^[0-9a-f]{64}$/);
      }),
      { numRuns: 400 },
    );
  });

  it("accepts the unmutated zip", async () => {
    const report = await readBundle({ kind: "zip", source: bytesSource(VALID) });
    expect(report.errors).toEqual([]);
    expect(report.files.map((f) => f.path)).toEqual(["app.js", "data.json", "img/dot.svg", "index.html"]);
  });
});
