import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { externalHostsOf, hostOf } from "../../src/bundle/external-hosts.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const HTML = "text/html; charset=utf-8";
const CSS = "text/css; charset=utf-8";
const JS = "text/javascript; charset=utf-8";

describe("externalHostsOf", () => {
  it("lists the hosts HTML loads from, not the ones it links to", () => {
    const html = `<!doctype html>
      <script src="https://CDN.jsdelivr.net/npm/x.js"></script>
      <link rel=stylesheet href='//fonts.googleapis.com/css?family=Inter'>
      <img src=https://images.example.com:8443/a.png alt="x">
      <img srcset="https://a.example.com/1x.png 1x, https://b.example.com/2x.png 2x">
      <iframe src="https://www.youtube.com/embed/x"></iframe>
      <video><source src="https://media.example.org/v.mp4"></video>
      <a href="https://docs.example.com/help">help</a>
      <form action="https://forms.example.com/submit"></form>
      <img src="local.png"><script src="/app.js"></script>`;
    expect(externalHostsOf("index.html", HTML, enc(html))).toEqual([
      "a.example.com",
      "b.example.com",
      "cdn.jsdelivr.net",
      "fonts.googleapis.com",
      "images.example.com",
      "media.example.org",
      "www.youtube.com",
    ]);
  });

  it("lists the hosts of CSS url() and @import, also inline in HTML", () => {
    const css = `@import "https://fonts.example.com/inter.css";
      .a { background: url( "https://img.example.com/bg.png" ) } .b { background: url(//x.example.net/y.png) }
      .c { background: url(data:image/png;base64,AAAA) } .d { background: url(local.png) }`;
    expect(externalHostsOf("site.css", CSS, enc(css))).toEqual([
      "fonts.example.com",
      "img.example.com",
      "x.example.net",
    ]);
    expect(externalHostsOf("index.html", HTML, enc(`<style>${css}</style>`))).toHaveLength(3);
  });

  it("lists the hosts of JS imports, fetch and WebSocket, also inline in HTML", () => {
    const js = `import { h } from "https://esm.sh/preact";
      import "https://unpkg.com/side-effect.js";
      const m = await import('https://cdn.skypack.dev/lodash');
      fetch(\`https://api.example.com/v1/items\`);
      new WebSocket("wss://live.example.com/socket");
      fetch(\`https://\${host}/x\`); fetch("/local"); const u = "https://not-a-load.example.com";`;
    const expected = ["api.example.com", "cdn.skypack.dev", "esm.sh", "live.example.com", "unpkg.com"];
    expect(externalHostsOf("app.js", JS, enc(js))).toEqual(expected);
    expect(externalHostsOf("index.html", HTML, enc(`<script type=module>${js}</script>`))).toEqual(expected);
  });

  it("ignores files that are not HTML, CSS or JS", () => {
    expect(externalHostsOf("a.json", "application/json", enc('{"u":"https://x.com"}'))).toEqual([]);
  });

  // The bound is the test's timeout, not an assertion on time: a quadratic scan of this input takes
  // minutes, a linear one milliseconds, so only catastrophic backtracking can fail it.
  it("finishes on input crafted to make regexes backtrack", { timeout: 10_000 }, () => {
    const hostile = `${"<img ".repeat(20_000)}${"url(".repeat(20_000)}url(${" ".repeat(100_000)}x${"fetch(".repeat(20_000)}`;
    expect(externalHostsOf("index.html", HTML, enc(hostile))).toEqual([]);
  });
});

describe("externalHostsOf on JS, windowed", () => {
  // The JS path decodes only windows around quoted `//`; on ASCII text it must find exactly what one
  // regex over the whole text finds.
  const WHOLE_TEXT =
    /(?:\bfrom|\bimport|\bimport\s*\(|\bfetch\s*\(|\bnew\s+WebSocket\s*\(|\bnew\s+EventSource\s*\(|\bimportScripts\s*\()\s*["'`]((?:(?:https?|wss?):)?\/\/[^\s"'`]+)/g;
  const tokens = [
    "fetch(",
    "import",
    " from ",
    "import(",
    "new WebSocket(",
    '"',
    "'",
    "`",
    "https://",
    "http:",
    "wss://",
    "//",
    "/",
    ":",
    "a.example.com",
    "cdn.test",
    " ",
    "x",
    "(",
    "/path",
  ];

  it("finds the same hosts as a whole-text scan", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...tokens), { maxLength: 60 }), (parts) => {
        const js = parts.join("");
        const expected = [
          ...new Set([...js.matchAll(WHOLE_TEXT)].map((m) => hostOf(m[1] ?? "")).filter(Boolean)),
        ].sort();
        expect(externalHostsOf("app.js", JS, enc(js))).toEqual(expected);
      }),
      { numRuns: 2_000 },
    );
  });
});
