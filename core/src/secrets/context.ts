/**
 * Is a position in a comment or in documentation? Rules with weak signals ask (rules/index.ts,
 * rule 2) so that documentation examples of their shapes are told from pasted credentials.
 *
 * Decided on the bytes around the position, without parsing the file: a scanner that parsed every
 * language a bundle may hold (JS, CSS, HTML, JSON, YAML, Markdown…) would be slower than the scan
 * itself and still guess at strings and regex literals. The heuristics err towards "documentation"
 * (a glob like `"**\/*.js"` in a string reads as a comment opener); the cost of that error is only
 * that a weak-shape value nearby must look machine-generated to be reported, and what real
 * credentials look like passes that.
 */

/** Documentation files: what a bundle ships to be read, not run. */
const DOCUMENTATION_FILE =
  /\.(?:md|markdown|mdx|txt|text|rst|adoc|asciidoc|org|textile)$|(?:^|\/)(?:readme|changelog|changes|history|license|licence|notice|authors|contributing|copying)(?:\.[a-z]{1,4})?$/i;

/** How far back the start of the line is looked for (minified files are one long line). */
const LINE_LOOKBACK = 1024;
/** How far back a comment or `<pre>` opener is looked for. */
const BLOCK_LOOKBACK = 4096;

function isBlank(b: number | undefined): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0d;
}

function startsWithIgnoreCase(bytes: Uint8Array, at: number, text: string): boolean {
  for (let j = 0; j < text.length; j++) {
    if (((bytes[at + j] as number) | 0x20) !== text.charCodeAt(j)) return false;
  }
  return true;
}

/** A comment marker at the start of the line (after indentation) covers everything after it. */
function lineIsComment(bytes: Uint8Array, lineStart: number, at: number): boolean {
  let i = lineStart;
  while (i < at && isBlank(bytes[i])) i++;
  const b = bytes[i];
  const next = bytes[i + 1];
  if (b === 0x2a /* * */) return next !== 0x2f; // JSDoc / block comment body, not `*/`
  if (b === 0x2f /* / */) return next === 0x2f || next === 0x2a;
  // `# comment` in shell, YAML, TOML, Python, .env; not `#private` fields or `#id` selectors.
  if (b === 0x23 /* # */) return isBlank(next) || next === 0x23 || next === 0x21 || next === 0x0a;
  return b === 0x3c && startsWithIgnoreCase(bytes, i, "<!--");
}

/** A `//` after code on the same line: preceded by a blank or punctuation, never by `:` (URLs). */
function trailingLineComment(bytes: Uint8Array, lineStart: number, at: number): boolean {
  for (let i = Math.max(lineStart, at - LINE_LOOKBACK); i < at - 1; i++) {
    if (bytes[i] !== 0x2f || bytes[i + 1] !== 0x2f) continue;
    const before = i > 0 ? (bytes[i - 1] as number) : 0x0a;
    if (isBlank(before) || before === 0x0a || before === 0x3b || before === 0x7d || before === 0x29)
      return true;
  }
  return false;
}

/** The nearest opener or closer before `at`: `/*` … `*\/`, `<!--` … `-->`, `<pre>`/`<code>` … `</…>`. */
function insideBlock(bytes: Uint8Array, at: number): boolean {
  const floor = Math.max(0, at - BLOCK_LOOKBACK);
  for (let i = at - 1; i >= floor; i--) {
    const b = bytes[i];
    if (b === 0x2f /* / */) {
      if (bytes[i + 1] === 0x2a) return true;
      if (i > 0 && bytes[i - 1] === 0x2a) return false;
    } else if (b === 0x3e /* > */) {
      if (i >= 2 && bytes[i - 1] === 0x2d && bytes[i - 2] === 0x2d) return false;
    } else if (b === 0x3c /* < */) {
      if (startsWithIgnoreCase(bytes, i, "<!--")) return true;
      if (startsWithIgnoreCase(bytes, i, "<pre") || startsWithIgnoreCase(bytes, i, "<code")) {
        const after = bytes[i + (bytes[i + 1] === 0x70 || bytes[i + 1] === 0x50 ? 4 : 5)];
        if (after === 0x3e || isBlank(after) || after === 0x0a) return true;
      }
      if (startsWithIgnoreCase(bytes, i, "</pre") || startsWithIgnoreCase(bytes, i, "</code")) return false;
    }
  }
  return false;
}

/** True when byte `at` of the file at `path` stands in a comment or in documentation. */
export function inDocumentation(bytes: Uint8Array, at: number, path: string): boolean {
  if (DOCUMENTATION_FILE.test(path)) return true;
  let lineStart = at;
  const floor = Math.max(0, at - LINE_LOOKBACK);
  while (lineStart > floor && bytes[lineStart - 1] !== 0x0a) lineStart--;
  const knownStart = lineStart === 0 || bytes[lineStart - 1] === 0x0a;
  if (knownStart && lineIsComment(bytes, lineStart, at)) return true;
  return trailingLineComment(bytes, lineStart, at) || insideBlock(bytes, at);
}
