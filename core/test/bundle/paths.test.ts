import { describe, expect, it } from "vitest";
import { findCollisions, junkReason, normalizePath, wrappingFolder } from "../../src/bundle/paths.ts";
import { DEFAULT_LIMITS } from "../../src/limits.ts";

const norm = (raw: string) => {
  const r = normalizePath(raw, DEFAULT_LIMITS);
  return r.ok ? r.path : r.error.code;
};

describe("normalizePath", () => {
  it.each([
    ["a/b.js", "a/b.js"],
    ["./a//b.js", "a/b.js"],
    ["a/./b.js", "a/b.js"],
    ["../a.js", "PATH_TRAVERSAL"],
    ["a/../b.js", "PATH_TRAVERSAL"],
    ["/a.js", "ABSOLUTE_PATH"],
    ["c:/a.js", "ABSOLUTE_PATH"],
    ["C:a.js", "ABSOLUTE_PATH"],
    ["a\\b.js", "ABSOLUTE_PATH"],
    ["..\\..\\a.js", "ABSOLUTE_PATH"],
    ["a\u0000b", "INVALID_PATH"],
    ["a\u007fb", "INVALID_PATH"],
    ["./", "INVALID_PATH"],
    ["...js", "...js"],
    ["ab:c.js", "ab:c.js"],
  ])("%j → %s", (raw, expected) => {
    expect(norm(raw)).toBe(expected);
  });

  it("measures the length limit in UTF-8 bytes", () => {
    expect(norm("é".repeat(512))).toBe("é".repeat(512));
    expect(norm("é".repeat(513))).toBe("INVALID_PATH");
  });
});

describe("findCollisions", () => {
  it("flags exact, case-insensitive and Unicode-normalization duplicates, and files used as folders", () => {
    const paths = ["a.js", "A.JS", "caf\u00e9.js", "cafe\u0301.js", "x", "x/y.js", "ok.js"];
    expect([...findCollisions(paths).keys()].sort()).toEqual([1, 3, 4]);
  });
});

describe("wrappingFolder", () => {
  it("finds one wrapping folder only when every file is inside it and there is no root index.html", () => {
    expect(wrappingFolder(["dist/index.html", "dist/a/b.js"])).toBe("dist/");
    expect(wrappingFolder(["dist/index.html", "other/a.js"])).toBe("");
    expect(wrappingFolder(["index.html", "index.html/x"])).toBe("");
    expect(wrappingFolder(["dist"])).toBe("");
  });
});

describe("junkReason", () => {
  it("recognises OS metadata and nothing else", () => {
    expect(junkReason("__MACOSX/._a")).toMatch(/macOS/);
    expect(junkReason("a/.DS_Store")).toMatch(/macOS/);
    expect(junkReason("THUMBS.DB")).toMatch(/Windows/);
    expect(junkReason("a/Desktop.ini")).toMatch(/Windows/);
    expect(junkReason("a/macosx.js")).toBeUndefined();
  });
});
