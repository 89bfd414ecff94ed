/**
 * Generic assignments: a credential-like name given a literal value (`password = "…"`,
 * `"api_key": "…"`, `clientSecret: '…'`, `DB_PASSWORD=…`, `?api_key=…` in a URL). The name is the
 * only signal, so the value carries the proof (validators.ts `isLikelyGenericSecret`).
 *
 * A byte rule: `token` alone fires ~24,000 times in 40 MB of editor grammars (`token: "…"`), so the
 * name, separator and value are parsed on the bytes and only a value that survives the byte-level
 * checks is decoded.
 */

import { isLikelyGenericSecret } from "../validators.ts";
import type { ByteInput, RuleMatch, SecretRule } from "./shared.ts";

/** Longest value considered (real keys are ≤ 256; longer literals are data, not credentials). */
const MAX_VALUE = 256;
const MIN_VALUE = 10;
const MIN_QUERY_VALUE = 16;

/** Files whose values are not code, so an unquoted value is a value: `.env`, ini, YAML, TOML… */
const UNQUOTED_VALUE_FILES = /(?:^|\/)\.env[^/]*$|\.(?:env|ini|properties|toml|ya?ml|cfg|conf)$/i;

const QUOTE = new Uint8Array(256);
for (const c of "\"'`") QUOTE[c.charCodeAt(0)] = 1;

/** Identifier bytes of a name: letters, digits, `_`, `-`, `$`, `.`. */
const NAME = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-$.")
  NAME[c.charCodeAt(0)] = 1;

/** What may end an unquoted value (`.env`, YAML) or a URL query parameter. */
const VALUE_END = new Uint8Array(256);
for (const c of " \t\r\n\"'`#;,&<>)]}") VALUE_END[c.charCodeAt(0)] = 1;

/** Characters of a URL (RFC 3986 unreserved, `%`, and the delimiters a path and query use). */
const URL_CHAR = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%+/=:@&?;!$*,")
  URL_CHAR[c.charCodeAt(0)] = 1;

function lowerAt(bytes: Uint8Array, i: number): number {
  return (bytes[i] as number) | 0x20;
}

/**
 * After the keyword, the rest of the name may only be `s`, `key`, `_key`, `-key` (`secrets`,
 * `apiKey`, `ACCESS_KEY`, `secretKey`): `tokenUrl`, `secretLabel`, `passwordPlaceholder`,
 * `authorName`, `token.type`, `tokens[i]`, `tokenize(` are not secrets. Returns the offset after
 * the name, or -1.
 */
function nameEnd(bytes: Uint8Array, after: number): number {
  let i = after;
  if (lowerAt(bytes, i) === 0x73 /* s */ && !isNameLetter(bytes[i + 1])) return i + 1;
  if (bytes[i] === 0x5f || bytes[i] === 0x2d) i++;
  if (lowerAt(bytes, i) === 0x6b && lowerAt(bytes, i + 1) === 0x65 && lowerAt(bytes, i + 2) === 0x79) {
    i += 3;
    if (lowerAt(bytes, i) === 0x73) i++;
  } else if (i !== after) {
    return -1;
  }
  return isNameLetter(bytes[i]) ? -1 : i;
}

function isNameLetter(b: number | undefined): boolean {
  if (b === undefined) return false;
  const l = b | 0x20;
  return (l >= 0x61 && l <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x5f;
}

/**
 * Where the name starts and whether it is inside a string that is not its own. A name written as a
 * string key (`"api_key":`) is closed by the quote that opened it; in `"Bad token: "+x` or
 * `"Failed to get token: "` the words before the name and the quote before them say it is prose
 * inside a string, and in `"?api_key="+t.apiKey` the quote before `?` says it is a URL inside one.
 */
function nameContext(
  bytes: Uint8Array,
  keywordStart: number,
): { opening: number; query: boolean; prose: boolean } {
  let i = keywordStart - 1;
  const floor = Math.max(0, keywordStart - 64);
  while (i >= floor && NAME[bytes[i] as number] === 1) i--;
  const before = i >= 0 ? (bytes[i] as number) : -1;
  const query = before === 0x3f /* ? */ || before === 0x26 /* & */;
  let opening = before >= 0 && QUOTE[before] === 1 ? before : -1;
  let j = query ? i - 1 : i;
  if (query) {
    // `"https://host/path?api_key=` — walk back over the URL to see whether a quote opened it.
    while (j >= floor && bytes[j] !== 0x20 && bytes[j] !== 0x0a && QUOTE[bytes[j] as number] !== 1) j--;
    opening = j >= 0 && QUOTE[bytes[j] as number] === 1 ? (bytes[j] as number) : -1;
  }
  let prose = false;
  if (before === 0x20) {
    // Words and spaces back to a quote: `"Bad token:` is text in a string.
    let k = i;
    while (k >= floor && (NAME[bytes[k] as number] === 1 || bytes[k] === 0x20)) k--;
    prose = k >= 0 && QUOTE[bytes[k] as number] === 1;
  }
  return { opening, query, prose };
}

/**
 * Short names that end common words (`compass`, `bypass`, `oauth`… are not credentials): they must
 * start a word — not follow a lower-case letter unless they start with an upper-case one (`smtpPass`).
 */
const WORD_START = new Set(["pass", "auth", "pwd"]);

function isLowerByte(b: number | undefined): boolean {
  return b !== undefined && b >= 0x61 && b <= 0x7a;
}

function findGeneric(input: ByteInput): RuleMatch | undefined {
  const { bytes, start, keyword } = input;
  const n = bytes.length;
  if (WORD_START.has(keyword) && isLowerByte(bytes[start - 1]) && isLowerByte(bytes[start])) return undefined;
  let i = nameEnd(bytes, start + keyword.length);
  if (i < 0) return undefined;
  const closingQuote = QUOTE[bytes[i] as number] === 1 ? (bytes[i++] as number) : -1;
  for (let s = 0; s < 4 && (bytes[i] === 0x20 || bytes[i] === 0x09); s++) i++;
  // `:`, `=`, `:=`, `=>`; never `==` (a comparison) or `=` inside `!=`, `<=`, `>=`.
  const sep = bytes[i];
  if (sep === 0x3a) {
    i++;
    if (bytes[i] === 0x3d) i++;
  } else if (sep === 0x3d) {
    i++;
    if (bytes[i] === 0x3d) return undefined;
    if (bytes[i] === 0x3e) i++;
  } else {
    return undefined;
  }
  const query = sep === 0x3d && isQueryParameter(bytes, start);
  if (!query) for (let s = 0; s < 4 && (bytes[i] === 0x20 || bytes[i] === 0x09); s++) i++;

  let valueStart: number;
  let valueEnd: number;
  const q = bytes[i] as number;
  if (QUOTE[q] === 1 && !query) {
    valueStart = i + 1;
    valueEnd = valueStart;
    const limit = Math.min(n, valueStart + MAX_VALUE + 1);
    while (valueEnd < limit && bytes[valueEnd] !== q) {
      const b = bytes[valueEnd] as number;
      // Escapes, line breaks and template substitutions are not in keys.
      if (b === 0x5c || b === 0x0a || b === 0x0d || (q === 0x60 && b === 0x24)) return undefined;
      valueEnd++;
    }
    if (valueEnd >= limit) return undefined;
  } else if (query || UNQUOTED_VALUE_FILES.test(input.path)) {
    valueStart = i;
    valueEnd = i;
    const limit = Math.min(n, valueStart + MAX_VALUE + 1);
    while (valueEnd < limit && VALUE_END[bytes[valueEnd] as number] !== 1) {
      // A query value is URL characters; `(`, `:` or a quote mean the "URL" was code.
      if (query && (URL_CHAR[bytes[valueEnd] as number] !== 1 || bytes[valueEnd] === 0x3a)) break;
      valueEnd++;
    }
    if (valueEnd >= limit && valueEnd < n) return undefined;
  } else {
    return undefined;
  }
  const length = valueEnd - valueStart;
  // In a URL, short values are ids, cache-busters and badge tokens; API keys in query strings are longer.
  if (length < (query ? MIN_QUERY_VALUE : MIN_VALUE) || length > MAX_VALUE) return undefined;
  // On bytes, before anything is decoded: printable, and a digit or an upper-case letter somewhere
  // (lower-case letters and punctuation alone are names: `support.function.dom`, `keyword-other`).
  let digitOrUpper = false;
  for (let k = valueStart; k < valueEnd; k++) {
    const b = bytes[k] as number;
    if (b <= 0x20 || b >= 0x7f) return undefined;
    if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a)) digitOrUpper = true;
  }
  if (!digitOrUpper) return undefined;
  const context = nameContext(bytes, start);
  if (context.prose) return undefined;
  if (context.opening >= 0 && !query && closingQuote !== context.opening) return undefined;
  if (closingQuote >= 0 && context.opening !== closingQuote) return undefined;
  const value = String.fromCharCode.apply(null, bytes.subarray(valueStart, valueEnd) as unknown as number[]);
  if (!isLikelyGenericSecret(value, false)) return undefined;
  if (input.inDocumentation() && !isLikelyGenericSecret(value, true)) return undefined;
  return { start: valueStart, end: valueEnd };
}

/**
 * The name follows `?` or `&` in a URL (`https://host/tiles?api_key=…`): a query parameter, whose
 * value is unquoted. A `?` in code is a conditional (`n.mockUserToken?n.mockUserToken:…`): the
 * characters before it must be a URL with a path (`/`), not an expression.
 */
function isQueryParameter(bytes: Uint8Array, keywordStart: number): boolean {
  let i = keywordStart - 1;
  const floor = Math.max(0, keywordStart - 64);
  while (i >= floor && NAME[bytes[i] as number] === 1) i--;
  if (i < 0 || (bytes[i] !== 0x3f && bytes[i] !== 0x26)) return false;
  const urlFloor = Math.max(0, i - 512);
  for (let j = i - 1; j >= urlFloor && URL_CHAR[bytes[j] as number] === 1; j--) {
    if (bytes[j] === 0x2f) return true;
  }
  return false;
}

/**
 * Names: `secret`, `token`, `password`/`passwd`/`pwd`/`pass`, `api key`, `auth`, `credential`,
 * `access key`, `private key`, each optionally followed by `s` or `key` (see `nameEnd`); anything
 * may come before (`clientSecret`, `DB_PASSWORD`, `x-api-key`).
 */
export const GENERIC_RULES: readonly SecretRule[] = [
  {
    id: "generic-secret-assignment",
    family: "generic",
    severity: "block",
    description: "A secret, token, password or API key assigned a literal random-looking value",
    keywords: [],
    keywordsIgnoreCase: [
      "secret",
      "token",
      "passwd",
      "password",
      "pwd",
      "pass",
      "apikey",
      "api_key",
      "api-key",
      "auth",
      "credential",
      "accesskey",
      "access_key",
      "access-key",
      "privatekey",
      "private_key",
      "private-key",
    ],
    lookback: 0,
    window: 0,
    findBytes: findGeneric,
  },
];
