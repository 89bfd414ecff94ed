import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { assetHash, bundleHashOf, extensionOf } from "../../src/bundle/hash.ts";

const bytes = new TextEncoder().encode("body { color: red }");

describe("assetHash", () => {
  it("is the first 32 hex chars of SHA-256 over extension, NUL, bytes", async () => {
    const expected = createHash("sha256")
      .update(Buffer.concat([Buffer.from("css"), Buffer.from([0]), Buffer.from(bytes)]))
      .digest("hex")
      .slice(0, 32);
    expect(await assetHash("a/site.css", bytes)).toBe(expected);
  });

  it("differs for the same bytes under different extensions, never for the same extension", async () => {
    expect(await assetHash("a.css", bytes)).not.toBe(await assetHash("a.txt", bytes));
    expect(await assetHash("a.css", bytes)).toBe(await assetHash("other/B.CSS", bytes));
  });

  it("cannot be confused by moving bytes between extension and content", async () => {
    // "c" + NUL + "ss…" vs "" + NUL + "c\0ss…": the separator keeps them apart.
    const shifted = new Uint8Array([0x63, 0, ...bytes]);
    expect(await assetHash("x.c", bytes)).not.toBe(await assetHash("x", shifted));
  });
});

describe("extensionOf", () => {
  it.each([
    ["a/b.JS", "js"],
    ["a.tar.gz", "gz"],
    ["README", ""],
    [".nojekyll", ""],
    ["dir.v2/file", ""],
  ])("%s → %s", (path, ext) => {
    expect(extensionOf(path)).toBe(ext);
  });
});

describe("bundleHashOf", () => {
  it("does not depend on file order", async () => {
    const files = [
      { path: "b.js", hash: "1".repeat(32) },
      { path: "a.js", hash: "2".repeat(32) },
    ];
    expect(await bundleHashOf(files)).toBe(await bundleHashOf([...files].reverse()));
    expect(await bundleHashOf(files)).toMatch(/^[0-9a-f]{64}$/);
  });
});
