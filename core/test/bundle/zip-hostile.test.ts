/**
 * Hostile archives (DESIGN §5, §6.9 abuse bounds, §6.10 typed errors). Each test crafts the attack
 * with the lying zip writer and asserts the typed verdict, and where it matters how little was read.
 */

import { describe, expect, it } from "vitest";
import { readBundle } from "../../src/bundle/read.ts";
import type { BundleReport } from "../../src/bundle/types.ts";
import { INFLATE_PUSH_BYTES, READ_CHUNK_BYTES } from "../../src/bundle/zip.ts";
import type { BundleErrorCode } from "../../src/errors.ts";
import { CountingSource, utf8, writeZip, type ZipEntrySpec, zipOf } from "../helpers/zip-writer.ts";

const MiB = 1024 * 1024;
const EOCD_SEARCH_BYTES = 22 + 0xffff;
const INDEX: ZipEntrySpec = { name: "index.html", data: "<!doctype html><p>hi</p>" };

function codes(report: BundleReport): [BundleErrorCode, string][] {
  return report.errors.map((e) => [e.code, e.path]);
}

async function read(zip: Uint8Array, limits = {}) {
  const source = new CountingSource(zip);
  const hosted: string[] = [];
  const report = await readBundle(
    { kind: "zip", source },
    { limits, onFile: (e) => void hosted.push(e.path) },
  );
  return { report, source, hosted };
}

describe("nested archives (42.zip)", () => {
  /** Level 0 holds 16 files of 1 MiB of zeros; each further level holds 16 copies of the one below. */
  function fortyTwo(levels: number, name: (i: number) => string): Uint8Array {
    let level = writeZip(
      Array.from({ length: 16 }, (_, i) => ({ name: `${i}.txt`, data: new Uint8Array(MiB) })),
    );
    for (let l = 1; l < levels; l++) {
      const inner = level;
      level = writeZip(Array.from({ length: 16 }, (_, i) => ({ name: name(i), data: inner })));
    }
    return level;
  }

  it("rejects a 42.zip-style archive of archives as a zip bomb without hosting it", async () => {
    const bomb = fortyTwo(3, (i) => `lib ${i}.zip`);
    const { report, hosted } = await read(writeZip([INDEX, { name: "42.zip", data: bomb }]));
    expect(codes(report)).toEqual([["ZIP_BOMB", "42.zip"]]);
    expect(report.errors[0]?.message).toMatch(/zip/);
    expect(hosted).not.toContain("42.zip");
  });

  it("recognises nested archives by their bytes, not only by their names", async () => {
    const bomb = fortyTwo(2, (i) => `part-${i}.bin`);
    const { report } = await read(writeZip([INDEX, { name: "data.bin", data: bomb }]));
    expect(codes(report)).toEqual([["ZIP_BOMB", "data.bin"]]);
  });

  it("rejects a nested archive that declares more than a whole bundle may hold", async () => {
    const inner = writeZip(
      Array.from({ length: 4 }, (_, i) => ({ name: `${i}.txt`, data: new Uint8Array(MiB) })),
    );
    const { report } = await read(writeZip([INDEX, { name: "big.zip", data: inner }]), {
      maxBundleBytes: 3 * MiB,
    });
    expect(codes(report)).toEqual([["ZIP_BOMB", "big.zip"]]);
  });

  it("hosts an ordinary zip download as application/zip", async () => {
    const download = zipOf({ "readme.txt": "hello", "data.csv": "a,b\n1,2\n" });
    const { report } = await read(writeZip([INDEX, { name: "download.zip", data: download }]));
    expect(report.ok).toBe(true);
    expect(report.files.find((f) => f.path === "download.zip")?.contentType).toBe("application/zip");
  });
});

describe("overlapping entries (the better zip bomb)", () => {
  it("rejects entries that share one compressed stream before inflating anything", async () => {
    const entries: ZipEntrySpec[] = [INDEX, { name: "k.txt", data: "a".repeat(4096) }];
    for (let i = 0; i < 50; i++)
      entries.push({ name: `k${i}.txt`, data: "a".repeat(4096), sharesLocalWith: 1 });
    const { report, hosted } = await read(writeZip(entries));
    expect(report.errors.map((e) => e.code)).toEqual(["ZIP_BOMB"]);
    expect(report.errors[0]?.path).toMatch(/^k\d*\.txt$/);
    expect(hosted).toEqual([]);
  });

  it("rejects an entry whose declared data swallows the next entry's local header (quoted overlap)", async () => {
    const quoted = 30 + "b.txt".length + 1;
    const zip = writeZip([
      { name: "a.txt", data: "x", method: 0, compressedSize: 1 + quoted, uncompressedSize: 1 + quoted },
      { name: "b.txt", data: "y", method: 0 },
      INDEX,
    ]);
    const { report, hosted } = await read(zip);
    expect(codes(report)).toEqual([["ZIP_BOMB", "b.txt"]]);
    expect(hosted).toEqual([]);
  });

  it("rejects an entry whose data runs into the central directory", async () => {
    const zip = writeZip([
      INDEX,
      { name: "a.txt", data: "x", method: 0, compressedSize: 40, uncompressedSize: 40 },
    ]);
    const { report, hosted } = await read(zip);
    expect(codes(report)).toEqual([["ZIP_BOMB", "a.txt"]]);
    expect(hosted).toEqual([]);
  });
});

describe("declared sizes and counts", () => {
  it("rejects a 10 GB declared ZIP64 entry at once, without inflating it", async () => {
    const zip = writeZip(
      [INDEX, { name: "huge.bin", data: "x", uncompressedSize: 10 * 1024 * MiB, zip64: true }],
      { zip64End: true },
    );
    const { report, source, hosted } = await read(zip);
    expect(codes(report)).toEqual([["FILE_TOO_LARGE", "huge.bin"]]);
    expect(hosted).toEqual(["index.html"]);
    expect(source.bytesRead).toBeLessThan(2 * zip.length + 100);
  });

  it("reads a valid ZIP64 archive", async () => {
    const zip = writeZip(
      [
        { ...INDEX, zip64: true },
        { name: "a.js", data: "let a = 1;", zip64: true },
      ],
      { zip64End: true },
    );
    const { report } = await read(zip);
    expect(report.ok).toBe(true);
    expect(report.files.map((f) => f.path)).toEqual(["a.js", "index.html"]);
  });

  it("rejects 100,000 empty entries from the end record alone, reading almost nothing", async () => {
    const entries: ZipEntrySpec[] = Array.from({ length: 100_000 }, (_, i) => ({ name: `${i}`, method: 0 }));
    const zip = writeZip(entries, { zip64End: true });
    const { report, source } = await read(zip);
    expect(codes(report)).toEqual([["TOO_MANY_FILES", ""]]);
    expect(source.reads).toBeLessThanOrEqual(3);
    expect(source.bytesRead).toBeLessThanOrEqual(EOCD_SEARCH_BYTES + 56 + 20);
  });

  it("rejects a high compression ratio from the directory, before inflating", async () => {
    const zip = writeZip([INDEX, { name: "zeros.json", data: new Uint8Array(2 * MiB) }]);
    const { report, hosted } = await read(zip);
    expect(codes(report)).toEqual([["ZIP_BOMB", "zeros.json"]]);
    expect(hosted).toEqual([]);
  });

  it("stops inflating an entry that inflates past its declared size", async () => {
    const zip = writeZip([
      INDEX,
      { name: "liar.txt", data: "lorem ipsum ".repeat(100_000), uncompressedSize: 10_000 },
    ]);
    const { report } = await read(zip);
    expect(codes(report)).toEqual([["ZIP_BOMB", "liar.txt"]]);
    expect(report.errors[0]?.message).toContain("declares 10000 bytes but inflates to more");
  });

  it("refuses to read a compressed stream far larger than the file it declares", async () => {
    const zip = writeZip([INDEX, { name: "pad.txt", data: "x", rawData: new Uint8Array(64 * 1024) }]);
    const { report, source } = await read(zip);
    expect(codes(report)).toEqual([["INVALID_ZIP", "pad.txt"]]);
    expect(source.bytesRead).toBeLessThan(EOCD_SEARCH_BYTES + 1024);
  });

  it("rejects an entry that inflates to less than its declared size", async () => {
    const zip = writeZip([INDEX, { name: "short.txt", data: "abc", uncompressedSize: 10 }]);
    const { report, hosted } = await read(zip);
    expect(codes(report)).toEqual([["INVALID_ZIP", "short.txt"]]);
    expect(hosted).toEqual(["index.html"]);
  });

  it("never asks the source for more than one chunk, the end search or the directory at once", async () => {
    const random = new Uint8Array(600 * 1024).map((_, i) => (i * 2654435761) >>> 24);
    const entries: ZipEntrySpec[] = [INDEX, { name: "blob.bin", data: random, method: 0 }];
    for (let i = 0; i < 200; i++) entries.push({ name: `js/m${i}.js`, data: `export const v${i} = ${i};` });
    const zip = writeZip(entries);
    const { report, source } = await read(zip);
    expect(report.ok).toBe(true);
    const cdSize = 200 * (46 + 12) + 2 * 60;
    expect(source.largestRead).toBeLessThanOrEqual(Math.max(READ_CHUNK_BYTES, EOCD_SEARCH_BYTES, cdSize));
    expect(source.bytesRead).toBeLessThan(zip.length + EOCD_SEARCH_BYTES + 202 * (30 + 16));
    expect(INFLATE_PUSH_BYTES).toBeLessThanOrEqual(READ_CHUNK_BYTES);
  });
});

describe("damaged and unsupported archives", () => {
  it("rejects a CRC mismatch on that file and still reads the others", async () => {
    const zip = writeZip([INDEX, { name: "a.js", data: "let a = 1;", crc: 12345 }]);
    const { report, hosted } = await read(zip);
    expect(codes(report)).toEqual([["INVALID_ZIP", "a.js"]]);
    expect(hosted).toEqual(["index.html"]);
  });

  it("rejects a truncated archive", async () => {
    const zip = zipOf({ "index.html": "x".repeat(1000), "a.js": "y" });
    const { report } = await read(zip.subarray(0, zip.length - 30));
    expect(codes(report)).toEqual([["INVALID_ZIP", ""]]);
  });

  it("rejects garbage bytes and empty input", async () => {
    expect(codes((await read(utf8("this is not a zip file at all, just text"))).report)).toEqual([
      ["INVALID_ZIP", ""],
    ]);
    expect(codes((await read(new Uint8Array(0))).report)).toEqual([["INVALID_ZIP", ""]]);
  });

  it("rejects an end record that points outside the file", async () => {
    const zip = writeZip([INDEX], { cdOffset: 1_000_000 });
    expect(codes((await read(zip)).report)).toEqual([["INVALID_ZIP", ""]]);
  });

  it("rejects an encrypted entry", async () => {
    const zip = writeZip([INDEX, { name: "secret.txt", data: "x", flags: 0x0801 }]);
    const { report } = await read(zip);
    expect(codes(report)).toEqual([["INVALID_ZIP", "secret.txt"]]);
    expect(report.errors[0]?.message).toContain("encrypted zips are not supported");
  });

  it("rejects an unknown compression method", async () => {
    const zip = writeZip([INDEX, { name: "a.txt", data: "x", method: 14 }]);
    expect(codes((await read(zip)).report)).toEqual([["INVALID_ZIP", "a.txt"]]);
  });

  it("rejects a name with a NUL byte, showing it safely", async () => {
    const zip = writeZip([INDEX, { name: "evil.js\u0000.txt", data: "x" }]);
    const { report, hosted } = await read(zip);
    expect(codes(report)).toEqual([["INVALID_ZIP", "evil.js\uFFFD.txt"]]);
    expect(hosted).toEqual(["index.html"]);
  });

  it("rejects a name that is not valid UTF-8", async () => {
    const name = new Uint8Array([0x61, 0xff, 0xfe, 0x2e, 0x6a, 0x73]);
    const zip = writeZip([INDEX, { name, data: "x" }]);
    expect(codes((await read(zip)).report)).toEqual([["INVALID_ZIP", "a\uFFFD\uFFFD.js"]]);
  });

  it("rejects a local header that names a different file than the directory", async () => {
    const zip = writeZip([INDEX, { name: "a.js", localName: "b.js", data: "x" }]);
    expect(codes((await read(zip)).report)).toEqual([["INVALID_ZIP", ""]]);
  });

  it("does not read Unix symlink bits from a zip made on Windows", async () => {
    const zip = writeZip([
      INDEX,
      { name: "a.txt", data: "x", versionMadeBy: 20, externalAttributes: 0xa1ff0020 },
    ]);
    expect((await read(zip)).report.ok).toBe(true);
  });
});
