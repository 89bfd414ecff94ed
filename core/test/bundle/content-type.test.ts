import { describe, expect, it } from "vitest";
import { contentTypeFor, leftOutReason, unsupportedFileReason } from "../../src/bundle/content-type.ts";

describe("contentTypeFor", () => {
  it.each([
    ["index.html", "text/html; charset=utf-8"],
    ["a/b/APP.JS", "text/javascript; charset=utf-8"],
    ["mod.mjs", "text/javascript; charset=utf-8"],
    ["site.css", "text/css; charset=utf-8"],
    ["data.json", "application/json; charset=utf-8"],
    ["app.js.map", "application/json; charset=utf-8"],
    ["logo.svg", "image/svg+xml; charset=utf-8"],
    ["photo.jpeg", "image/jpeg"],
    ["font.woff2", "font/woff2"],
    ["lib.wasm", "application/wasm"],
    ["site.webmanifest", "application/manifest+json; charset=utf-8"],
    ["clip.mp4", "video/mp4"],
    ["report.pdf", "application/pdf"],
    ["download.zip", "application/zip"],
  ])("serves %s as %s", (path, type) => {
    expect(contentTypeFor(path)).toBe(type);
  });

  it("serves unknown or missing extensions as application/octet-stream", () => {
    for (const path of ["model.bin", "LICENSE", ".nojekyll", "a.unknownext"]) {
      expect(contentTypeFor(path)).toBe("application/octet-stream");
    }
  });
});

describe("unsupportedFileReason", () => {
  it.each([
    "_worker.js",
    "_worker.js/index.js",
    "api/x.php",
    "x.PHTML",
    "x.phar",
    "x.aspx",
    "x.jsp",
    "cgi-bin/x.cgi",
    "tools/setup.exe",
    "run.ps1",
    "x.vbs",
  ])("refuses %s", (path) => {
    expect(unsupportedFileReason(path)).toMatch(/\w/);
  });

  it.each(["index.html", "js/_worker.js", "docs/_headers.md", "app.js", "php/readme.txt"])(
    "allows %s",
    (path) => {
      expect(unsupportedFileReason(path)).toBeUndefined();
    },
  );
});

describe("leftOutReason", () => {
  it.each([
    "_headers",
    "_redirects",
    "_routes.json",
    ".htaccess",
    "a/.htaccess",
    "deep/web.config",
    ".htpasswd",
  ])("leaves %s out of the upload instead of refusing the bundle", (path) => {
    expect(leftOutReason(path)).toMatch(/configuration/);
    expect(unsupportedFileReason(path)).toBeUndefined();
  });

  it.each(["docs/_headers", "index.html", "_headers.md"])("hosts %s", (path) => {
    expect(leftOutReason(path)).toBeUndefined();
  });
});
