import { describe, expect, it } from "vitest";
import { readBundle } from "../../src/bundle/read.ts";
import type { BundleReport, ManifestEntry } from "../../src/bundle/types.ts";
import type { BundleErrorCode } from "../../src/errors.ts";
import {
  filesInput,
  htmlInput,
  UNIX_SYMLINK,
  utf8,
  writeZip,
  zipInput,
  zipOf,
} from "../helpers/zip-writer.ts";

const SITE = {
  "index.html": '<!doctype html><script src="app.js"></script>',
  "app.js": "console.log('hi')",
  "assets/logo.svg": "<svg/>",
  "data/items.json": '{"items":[1,2,3]}',
};

function codes(report: BundleReport): [BundleErrorCode, string][] {
  return report.errors.map((e) => [e.code, e.path]);
}

describe("readBundle on valid bundles", () => {
  it("gives the same manifest and bundle hash for a zip, a folder list and any file order", async () => {
    const fromZip = await readBundle(zipInput(zipOf(SITE)));
    const fromFiles = await readBundle(filesInput(SITE));
    const reversed = Object.fromEntries(Object.entries(SITE).reverse());
    const fromReversedZip = await readBundle(zipInput(zipOf(reversed)));
    expect(fromZip.ok).toBe(true);
    expect(fromZip.errors).toEqual([]);
    expect(fromZip.files.map((f) => f.path)).toEqual([
      "app.js",
      "assets/logo.svg",
      "data/items.json",
      "index.html",
    ]);
    expect(fromFiles).toEqual({ ...fromZip, ignored: fromFiles.ignored });
    expect(fromReversedZip.bundleHash).toBe(fromZip.bundleHash);
    expect(fromZip.bundleHash).toMatch(/^[0-9a-f]{64}$/);
    expect(fromZip.bytes).toBe(Object.values(SITE).reduce((n, s) => n + utf8(s).length, 0));
  });

  it("hosts a single html file as index.html with the same hash as a one-file folder", async () => {
    const page = "<!doctype html><h1>Report</h1>";
    const single = await readBundle(htmlInput("Quarterly Report.HTML", page));
    const folder = await readBundle(filesInput({ "index.html": page }));
    expect(single.ok).toBe(true);
    expect(single.files).toEqual([
      expect.objectContaining({
        path: "index.html",
        contentType: "text/html; charset=utf-8",
        size: utf8(page).length,
      }),
    ]);
    expect(single.bundleHash).toBe(folder.bundleHash);
  });

  it("unwraps exactly one wrapping top-level folder", async () => {
    const wrapped = Object.fromEntries(Object.entries(SITE).map(([p, c]) => [`dist/${p}`, c]));
    const report = await readBundle(zipInput(zipOf(wrapped)));
    const plain = await readBundle(zipInput(zipOf(SITE)));
    expect(report.ok).toBe(true);
    expect(report.bundleHash).toBe(plain.bundleHash);
    const twice = Object.fromEntries(Object.entries(SITE).map(([p, c]) => [`a/b/${p}`, c]));
    const twiceReport = await readBundle(filesInput(twice));
    expect(codes(twiceReport)).toEqual([["MISSING_INDEX_HTML", ""]]);
  });

  it("does not unwrap when index.html is already at the root", async () => {
    const report = await readBundle(filesInput({ "index.html": "x", "site/index.html": "y" }));
    expect(report.ok).toBe(true);
    expect(report.files.map((f) => f.path)).toEqual(["index.html", "site/index.html"]);
  });

  it("ignores macOS and Windows junk and folder entries, saying why", async () => {
    const zip = writeZip([
      { name: "dist/" },
      { name: "dist/index.html", data: "<p>hi</p>" },
      { name: "__MACOSX/dist/._index.html", data: "junk" },
      { name: "dist/.DS_Store", data: "junk" },
      { name: "dist/Thumbs.db", data: "junk" },
      { name: "dist/img/desktop.ini", data: "junk" },
    ]);
    const report = await readBundle(zipInput(zip));
    expect(report.ok).toBe(true);
    expect(report.files.map((f) => f.path)).toEqual(["index.html"]);
    expect(report.ignored).toEqual([
      { path: "dist/", reason: "folder entry" },
      { path: "__MACOSX/dist/._index.html", reason: "macOS metadata (__MACOSX)" },
      { path: "dist/.DS_Store", reason: "macOS folder settings (.DS_Store)" },
      { path: "dist/Thumbs.db", reason: "Windows thumbnail cache (Thumbs.db)" },
      { path: "dist/img/desktop.ini", reason: "Windows folder settings (desktop.ini)" },
    ]);
  });

  it("leaves host configuration (.htaccess, _redirects) out of a real static build, in zips and folders, unread", async () => {
    const zip = writeZip([
      { name: "dist/index.html", data: "<p>hi</p>" },
      { name: "dist/_redirects", data: "/* /index.html 200" },
      { name: "dist/.htaccess", data: "Options -Indexes" },
      { name: "dist/docs/_redirects", data: "hosted: only the root file is configuration" },
    ]);
    for (const input of [
      zipInput(zip),
      filesInput({ "index.html": "<p>hi</p>", _redirects: "x", ".htaccess": "x", "docs/_redirects": "y" }),
    ]) {
      const seen: string[] = [];
      const report = await readBundle(input, { onFile: (entry) => void seen.push(entry.path) });
      expect(report.ok).toBe(true);
      expect(report.files.map((f) => f.path)).toEqual(["docs/_redirects", "index.html"]);
      expect(seen).toEqual(["docs/_redirects", "index.html"]);
      expect(report.ignored.map((i) => i.reason)).toEqual([
        expect.stringContaining("host configuration"),
        expect.stringContaining("web-server configuration"),
      ]);
    }
  });

  it("names the HTML pages at the top when index.html is missing, so the author knows what to rename", async () => {
    const report = await readBundle(filesInput({ "dashboard.html": "x", "assets/app.js": "y" }));
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]?.message).toContain('"dashboard.html": rename the main page to index.html');
    const none = await readBundle(filesInput({ "assets/app.js": "y" }));
    expect(none.errors[0]?.message).toContain("Add one");
  });

  it("collapses `.` and empty path segments", async () => {
    const report = await readBundle(filesInput({ "./index.html": "x", "css//site.css": "y" }));
    expect(report.ok).toBe(true);
    expect(report.files.map((f) => f.path)).toEqual(["css/site.css", "index.html"]);
  });

  it("calls onFile once per hosted file in path order, with bytes matching the manifest, and reports progress", async () => {
    const seen: ManifestEntry[] = [];
    const progress: number[] = [];
    const report = await readBundle(zipInput(zipOf(SITE)), {
      onFile: (entry, bytes) => {
        expect(bytes.length).toBe(entry.size);
        seen.push(entry);
      },
      onProgress: (p) => progress.push(p.filesDone / p.filesTotal),
    });
    expect(seen).toEqual(report.files);
    expect(progress).toEqual([0.25, 0.5, 0.75, 1]);
  });

  it("serves unknown types as application/octet-stream", async () => {
    const report = await readBundle(filesInput({ "index.html": "x", "model.bin": "y", README: "z" }));
    expect(report.ok).toBe(true);
    expect(report.files.filter((f) => f.path !== "index.html").map((f) => f.contentType)).toEqual([
      "application/octet-stream",
      "application/octet-stream",
    ]);
  });
});

describe("readBundle rejects bad paths with the offending path", () => {
  const cases: [string, Record<string, string>, [BundleErrorCode, string][]][] = [
    ["a missing index.html", { "home.html": "x" }, [["MISSING_INDEX_HTML", ""]]],
    [
      "`..` segments",
      { "index.html": "x", "a/../../etc/passwd": "x" },
      [["PATH_TRAVERSAL", "a/../../etc/passwd"]],
    ],
    ["a leading slash", { "index.html": "x", "/etc/passwd": "x" }, [["ABSOLUTE_PATH", "/etc/passwd"]]],
    ["a drive letter", { "index.html": "x", "C:/Windows/x.js": "x" }, [["ABSOLUTE_PATH", "C:/Windows/x.js"]]],
    ["a backslash", { "index.html": "x", "js\\app.js": "x" }, [["ABSOLUTE_PATH", "js\\app.js"]]],
    [
      "the reserved __ms/ prefix",
      { "index.html": "x", "__ms/boot.js": "x" },
      [["RESERVED_PATH", "__ms/boot.js"]],
    ],
    [
      "case-insensitive duplicates",
      { "index.html": "x", "App.js": "x", "app.js": "y" },
      [["DUPLICATE_PATH", "app.js"]],
    ],
    ["a file that is also a folder", { "index.html": "x", a: "x", "a/b.js": "y" }, [["DUPLICATE_PATH", "a"]]],
    [
      "a control character in a listed path",
      { "index.html": "x", "a\u0007.js": "x" },
      [["INVALID_PATH", "a\u0007.js"]],
    ],
    [
      "_worker.js at the root",
      { "index.html": "x", "_worker.js": "x" },
      [["UNSUPPORTED_FILE_TYPE", "_worker.js"]],
    ],
    [
      "a _worker.js folder at the root",
      { "index.html": "x", "_worker.js/index.js": "x" },
      [["UNSUPPORTED_FILE_TYPE", "_worker.js/index.js"]],
    ],
    ["PHP scripts", { "index.html": "x", "api/send.php": "x" }, [["UNSUPPORTED_FILE_TYPE", "api/send.php"]]],
    [
      "Windows executables",
      { "index.html": "x", "setup.exe": "x" },
      [["UNSUPPORTED_FILE_TYPE", "setup.exe"]],
    ],
  ];
  for (const [what, files, expected] of cases) {
    it(`rejects ${what}`, async () => {
      const fromFiles = await readBundle(filesInput(files));
      expect(codes(fromFiles)).toEqual(expected);
      expect(fromFiles.ok).toBe(false);
      expect(fromFiles.bundleHash).toBe("");
      if (!Object.keys(files).some((p) => p.includes("\u0007"))) {
        expect(codes(await readBundle(zipInput(zipOf(files))))).toEqual(expected);
      }
    });
  }

  it("rejects a path longer than maxPathBytes", async () => {
    const long = `${"a/".repeat(600)}x.js`;
    const report = await readBundle(filesInput({ "index.html": "x", [long]: "y" }));
    expect(codes(report)).toEqual([["INVALID_PATH", long]]);
  });

  it("rejects `..` inside a wrapping folder using the path as the author wrote it", async () => {
    const report = await readBundle(zipInput(zipOf({ "dist/index.html": "x", "dist/../x.js": "y" })));
    expect(codes(report)).toEqual([["PATH_TRAVERSAL", "dist/../x.js"]]);
  });

  it("checks __ms and _worker.js after unwrapping the wrapping folder", async () => {
    const report = await readBundle(
      zipInput(zipOf({ "dist/index.html": "x", "dist/__ms/a.js": "y", "dist/_worker.js": "z" })),
    );
    expect(codes(report)).toEqual([
      ["RESERVED_PATH", "dist/__ms/a.js"],
      ["UNSUPPORTED_FILE_TYPE", "dist/_worker.js"],
    ]);
  });

  it("reports a symlink from a folder list", async () => {
    const report = await readBundle(
      filesInput({ "index.html": "x", "secrets.txt": "" }, { symlinks: ["secrets.txt"] }),
    );
    expect(codes(report)).toEqual([["SYMLINK", "secrets.txt"]]);
  });

  it("reports a symlink hidden in a zip's Unix attributes", async () => {
    const zip = writeZip([
      { name: "index.html", data: "x" },
      { name: "passwd", data: "/etc/passwd", externalAttributes: UNIX_SYMLINK },
    ]);
    expect(codes(await readBundle(zipInput(zip)))).toEqual([["SYMLINK", "passwd"]]);
  });

  it("rejects a single file that is not HTML", async () => {
    expect(codes(await readBundle(htmlInput("notes.txt", "x")))).toEqual([
      ["UNSUPPORTED_FILE_TYPE", "notes.txt"],
    ]);
  });

  it("collects every path error at once and still reads the other files", async () => {
    const read: string[] = [];
    const report = await readBundle(
      filesInput({ "index.html": "x", "../a.js": "y", "/b.js": "z", "c.php": "w", "ok.js": "v" }),
      { onFile: (entry) => void read.push(entry.path) },
    );
    expect(report.errors.map((e) => e.code)).toEqual([
      "PATH_TRAVERSAL",
      "ABSOLUTE_PATH",
      "UNSUPPORTED_FILE_TYPE",
    ]);
    expect(read).toEqual(["index.html", "ok.js"]);
    expect(report.ok).toBe(false);
    for (const e of report.errors) expect(e.message.length).toBeGreaterThan(20);
  });
});

describe("readBundle enforces the size and count caps", () => {
  it("rejects more files than maxFiles before reading any", async () => {
    const files = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`f${i}.js`, "x"]));
    let calls = 0;
    const report = await readBundle(filesInput({ "index.html": "x", ...files }), {
      limits: { maxFiles: 5 },
      onFile: () => void calls++,
    });
    expect(codes(report)).toEqual([["TOO_MANY_FILES", ""]]);
    expect(calls).toBe(0);
  });

  it("rejects a file over maxFileBytes and keeps reading the others", async () => {
    const report = await readBundle(filesInput({ "index.html": "x", "big.json": "0123456789" }), {
      limits: { maxFileBytes: 5 },
    });
    expect(codes(report)).toEqual([["FILE_TOO_LARGE", "big.json"]]);
    expect(report.files.map((f) => f.path)).toEqual(["index.html"]);
  });

  it("rejects a declared total over maxBundleBytes before reading anything", async () => {
    let calls = 0;
    const report = await readBundle(zipInput(zipOf({ "index.html": "12345", "a.js": "123456" })), {
      limits: { maxBundleBytes: 10 },
      onFile: () => void calls++,
    });
    expect(codes(report)).toEqual([["BUNDLE_TOO_LARGE", ""]]);
    expect(calls).toBe(0);
  });

  it("rejects a folder list whose files turn out larger than they said", async () => {
    const input = filesInput({ "index.html": "x" });
    const liar = { path: "a.js", size: 1, read: async () => new Uint8Array(20) };
    const report = await readBundle(
      { kind: "files", files: [...(input.kind === "files" ? input.files : []), liar] },
      { limits: { maxBundleBytes: 10 } },
    );
    expect(codes(report)).toEqual([["BUNDLE_TOO_LARGE", ""]]);
  });
});
