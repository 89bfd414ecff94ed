/**
 * The scanner: bytes in, redacted findings out. Synchronous, no I/O, Web-standard APIs only.
 *
 * Cost model (DESIGN §9: ≥ 5× secretlint on real minified JS). Nothing is decoded up front:
 * 1. One pass over the bytes keeps a rolling 3-byte window (raw bytes; case-insensitive keywords
 *    have one entry per case variant) and looks it up in a 64 Ki-entry hash table of 3 bytes of
 *    every keyword (its anchor). A few hits per KiB of minified JS; a hit compares the keyword
 *    bytes (the table has collisions).
 * 2. A keyword hit checks each of its rules' token boundary on the raw bytes (`ghp_` after a
 *    letter is not a token start) and only then decodes a bounded window around it (`latin1`).
 * 3. The rule runs its sticky, bounded regex on that window. Work per hit is bounded by the
 *    window, and boundaries stop repeated keywords (`AKIAAKIA…`) from each starting a long match.
 * 4. Line and column are computed for findings only.
 *
 * Decoding: the file is never decoded as a whole. Every keyword and every secret is ASCII, and
 * UTF-8 never puts an ASCII byte inside a multi-byte sequence, so scanning the bytes finds exactly
 * what scanning the decoded text would. Measured on monaco-editor/min (25.6 MB, 85% of it in files
 * with non-ASCII text): UTF-8 decoding alone runs at ~430 MB/s, windows-1252 at ~270 MB/s, the
 * byte prefilter at 600+ MB/s. Columns are counted in UTF-16 units of the UTF-8-decoded line, what
 * an editor shows.
 */

import { inDocumentation } from "./context.ts";
import { redact } from "./redact.ts";
import { type RuleMatch, SECRET_RULES, type SecretRule, type Severity } from "./rules/index.ts";

export interface SecretFinding {
  /** Rule id: `github-token`. */
  readonly rule: string;
  /** `block` refuses a publish; `warn` is shown and does not (rules/index.ts, rule 4). */
  readonly severity: Severity;
  /** The file's path in the bundle. */
  readonly path: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based, in UTF-16 code units of the decoded line (what editors and browsers count). */
  readonly column: number;
  /** Redacted: at most the first 4 characters and the length, `AKIA…(20 chars)`. Never the secret. */
  readonly match: string;
}

/** Bytes read to decide that a file is binary: git's heuristic (a NUL in the first 8 KiB). */
const BINARY_SNIFF_BYTES = 8192;

/**
 * Binary files are not scanned: images, fonts, wasm, archives. Decided on content, never on the
 * file name (a bundle author controls names): a NUL byte in the first 8 KiB (PNG, WOFF, ICO, MP4,
 * wasm, zip all have one in their header), or a signature of a format that may not (JPEG, GIF,
 * gzip). UTF-16 text also has NULs; bundles are UTF-8 (it is what browsers assume for JS).
 */
export function looksBinary(bytes: Uint8Array): boolean {
  const b0 = bytes[0];
  const b1 = bytes[1];
  if (b0 === 0xff && b1 === 0xd8 && bytes[2] === 0xff) return true; // JPEG
  if (b0 === 0x1f && b1 === 0x8b) return true; // gzip
  if (b0 === 0x47 && b1 === 0x49 && bytes[2] === 0x46 && bytes[3] === 0x38) return true; // GIF8
  // The runtime's own search (memchr-like), not a JS loop: this runs on every file.
  return bytes.subarray(0, BINARY_SNIFF_BYTES).indexOf(0) >= 0;
}

interface Keyword {
  readonly text: string;
  readonly bytes: Uint8Array;
  /** Offset of the 3 bytes the hash table is keyed on. */
  readonly anchor: number;
  readonly ignoreCase: boolean;
  readonly rules: readonly CompiledRule[];
}

interface CompiledRule {
  readonly rule: SecretRule;
  readonly priority: number;
  /** 256 entries, 1 where a byte may not precede the keyword. */
  readonly notAfter: Uint8Array;
}

const FOLD = new Uint8Array(256);
for (let i = 0; i < 256; i++) FOLD[i] = i >= 65 && i <= 90 ? i + 32 : i;

const TABLE_BITS = 16;
/**
 * Fibonacci hashing's 2^32/φ (0x9e3779b1), written as the int32 with the same bits: as 2654435761 it
 * is a heap number that optimized code reloads and converts on every byte.
 */
const HASH_MULTIPLIER = -1640531535;

function hash3(key: number): number {
  return Math.imul(key, HASH_MULTIPLIER) >>> (32 - TABLE_BITS);
}

/**
 * Which 3 characters of a keyword the table is keyed on (default: the first 3). Every table hit
 * costs a compare, so each keyword is keyed on its rarest trigram, measured (case-folded where the
 * keyword is) over 66 MB of real libraries (the many-file benchmark set and Monaco's min build):
 * `-----BEGIN ` on `---` fired 40,000 times (every Markdown rule and CSS banner) and on `--B` once;
 * `key-` 26,800 → `ey-` 61; `credential` on `cre` (createElement) 29,500 → `tia` 10,500;
 * `discord.com/…` on `dis` 17,700 → `i/w` 0. What stays frequent is `htt`/`s:/` (every URL),
 * `tok`/`ken` (`token` itself, 24,000 times in editor grammars) and `pat` (path, pattern).
 */
const ANCHORS: Readonly<Record<string, number>> = {
  service_account: 9, // cco
  AKIA: 1, // KIA
  ASIA: 1, // SIA
  secret_access_key: 12, // s_k
  secretaccesskey: 10, // ssk
  "secret-access-key": 12, // s-k
  aws_secret_key: 1, // ws_
  ACCA: 1, // CCA
  AGPA: 1, // GPA
  AIza: 1, // Iza
  "AccountKey=": 8, // ey=
  "SharedAccessKey=": 10, // ssK
  "sig=": 1, // ig=
  dop_v1_: 3, // _v1
  dor_v1_: 3, // _v1
  "-----BEGIN ": 3, // --B
  gho_: 1, // ho_
  github_pat_: 4, // ub_
  "glimt-": 2, // imt
  rubygems_: 2, // byg
  "hooks.slack.com/": 10, // k.c
  "discord.com/api/webhooks/": 14, // i/w
  "discordapp.com/api/webhooks/": 17, // i/w
  ".webhook.office.com/webhookb2/": 2, // ebh
  sk_live_: 1, // k_l
  rk_live_: 1, // k_l
  access_token$: 10, // en$
  twilio: 3, // lio
  "key-": 1, // ey-
  api_org_: 5, // rg_
  "pplx-": 2, // lx-
  lin_api_: 5, // pi_
  ATATT3: 3, // TT3
  ops_ey: 3, // _ey
  ".atlasv1.": 5, // sv1
  figd_: 2, // gd_
  "PMAK-": 2, // AK-
  "pul-": 1, // ul-
  "AGE-SECRET-KEY-1": 9, // T-K
  "postgres://": 2, // stg
  "postgresql://": 9, // l:/
  "mysql://": 4, // l:/
  "mysqlx://": 3, // qlx
  "mariadb://": 6, // b:/
  "mongodb://": 6, // b:/
  "mongodb+srv://": 5, // db+
  "redis://": 3, // is:
  "rediss://": 4, // ss:
  "amqp://": 2, // qp:
  "amqps://": 1, // mqp
  "mssql://": 4, // l:/
  "sqlserver://": 8, // r:/
  "cockroachdb://": 10, // b:/
  "clickhouse://": 4, // kho
  "http://": 3, // p:/
  "Basic ": 2, // sic
  secret: 1, // ecr
  passwd: 3, // swd
  password: 2, // ssw
  apikey: 1, // pik
  api_key: 2, // i_k
  "api-key": 2, // i-k
  auth: 1, // uth
  credential: 6, // tia
  accesskey: 4, // ssk
  access_key: 5, // s_k
  "access-key": 5, // s-k
  privatekey: 5, // tek
  private_key: 6, // e_k
  "private-key": 6, // e-k
};

function caseVariants(head: string, ignoreCase: boolean): string[] {
  if (!ignoreCase) return [head];
  let variants = [""];
  for (const c of head) {
    const cases = new Set([c.toLowerCase(), c.toUpperCase()]);
    variants = variants.flatMap((v) => [...cases].map((x) => v + x));
  }
  return variants;
}

interface Prefilter {
  /** Slot → bucket index + 1 (0: no keyword starts with these 3 bytes). */
  readonly table: Uint16Array;
  readonly buckets: readonly (readonly Keyword[])[];
}

function buildPrefilter(rules: readonly SecretRule[]): Prefilter {
  const byKeyword = new Map<string, { text: string; ignoreCase: boolean; rules: CompiledRule[] }>();
  rules.forEach((rule, priority) => {
    const notAfter = new Uint8Array(256);
    for (const c of rule.notAfter ?? "") notAfter[c.charCodeAt(0)] = 1;
    const compiled: CompiledRule = { rule, priority, notAfter };
    const add = (text: string, ignoreCase: boolean) => {
      if (text.length < 3 || /[^\x20-\x7e]/.test(text)) throw new Error(`bad keyword ${text} in ${rule.id}`);
      const key = `${ignoreCase ? "i" : "s"}:${ignoreCase ? text.toLowerCase() : text}`;
      const entry = byKeyword.get(key) ?? { text, ignoreCase, rules: [] };
      entry.rules.push(compiled);
      byKeyword.set(key, entry);
    };
    for (const k of rule.keywords) add(k, false);
    for (const k of rule.keywordsIgnoreCase ?? []) add(k, true);
  });
  const table = new Uint16Array(1 << TABLE_BITS);
  const buckets: Keyword[][] = [];
  for (const entry of byKeyword.values()) {
    // Keywords are printable ASCII (checked in `add`): one byte per character.
    const text = entry.ignoreCase ? entry.text.toLowerCase() : entry.text;
    const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
    // The table is indexed by raw bytes (folding case in the hot loop costs a load per byte), so a
    // case-insensitive keyword gets one entry per case variant of its first 3 characters.
    const anchor = ANCHORS[entry.text] ?? 0;
    const keyword: Keyword = {
      text: entry.text,
      bytes,
      anchor,
      ignoreCase: entry.ignoreCase,
      rules: entry.rules,
    };
    for (const head of caseVariants(entry.text.slice(anchor, anchor + 3), entry.ignoreCase)) {
      const slot = hash3((head.charCodeAt(0) << 16) | (head.charCodeAt(1) << 8) | head.charCodeAt(2));
      if (table[slot] === 0) {
        buckets.push([]);
        table[slot] = buckets.length;
      }
      const bucket = buckets[(table[slot] as number) - 1] as Keyword[];
      if (!bucket.includes(keyword)) bucket.push(keyword);
    }
  }
  return { table, buckets };
}

const PREFILTER = buildPrefilter(SECRET_RULES);
if (Math.imul(0x616263, HASH_MULTIPLIER) >>> (32 - TABLE_BITS) !== Math.imul(0x616263, -1640531535) >>> 16) {
  throw new Error("the prefilter loop's hash literals differ from HASH_MULTIPLIER / TABLE_BITS");
}
/** Made on first use: only findings need it, and a TextDecoder costs start-up time in Node. */
let decoder: { decode(bytes: Uint8Array): string } | undefined;

interface RawFinding {
  readonly priority: number;
  readonly rule: string;
  readonly severity: Severity;
  readonly start: number;
  readonly end: number;
  readonly secret: string;
}

function keywordAt(bytes: Uint8Array, start: number, kw: Keyword): boolean {
  const k = kw.bytes;
  if (start < 0 || start + k.length > bytes.length) return false;
  if (kw.ignoreCase) {
    for (let j = 0; j < k.length; j++) if (FOLD[bytes[start + j] as number] !== k[j]) return false;
  } else {
    for (let j = 0; j < k.length; j++) if (bytes[start + j] !== k[j]) return false;
  }
  return true;
}

/**
 * Rule windows are decoded one byte to one char (Latin-1 by hand: `String.fromCharCode` over
 * bytes, which every runtime has; Workers' TextDecoder does not promise `latin1`). Offsets then
 * map back to bytes by identity. Rules match ASCII only, and a byte ≥ 0x80 is never part of a
 * match's token characters whichever way it is decoded; lines and columns are computed with real
 * UTF-8 decoding (see `locate`).
 */
function latin1(bytes: Uint8Array, from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i += 8192) {
    const part = bytes.subarray(i, Math.min(to, i + 8192));
    text += String.fromCharCode.apply(null, part as unknown as number[]);
  }
  return text;
}

/**
 * The last decoded span of the file. A new window that fits inside it is an O(1) slice, so a
 * keyword repeated every few bytes (`-----BEGIN ` × 100,000) decodes each byte a bounded number
 * of times instead of once per hit: spans are decoded one window-length past what the hit needs.
 */
interface DecodedSpan {
  from: number;
  to: number;
  text: string;
}

function windowText(bytes: Uint8Array, span: DecodedSpan, from: number, to: number): string {
  if (from < span.from || to > span.to) {
    // Overlapping the previous span means hits are dense here: decode ahead.
    const dense = from >= span.from && from < span.to;
    span.from = from;
    span.to = dense ? Math.min(bytes.length, to + (to - from)) : to;
    span.text = latin1(bytes, span.from, span.to);
  }
  return span.text.slice(from - span.from, to - span.from);
}

/** Rules of one keyword that pass their byte checks at a hit (reused: scanning is synchronous). */
const passing: CompiledRule[] = [];

function runRules(
  path: string,
  bytes: Uint8Array,
  span: DecodedSpan,
  start: number,
  kw: Keyword,
  out: RawFinding[],
): void {
  const prev = start > 0 ? (bytes[start - 1] as number) : -1;
  const after = start + kw.bytes.length;
  let lookback = 0;
  let window = 0;
  passing.length = 0;
  for (const r of kw.rules) {
    if (prev >= 0 && r.notAfter[prev] === 1) continue;
    if (r.rule.precheck !== undefined && !r.rule.precheck(bytes, after)) continue;
    passing.push(r);
    if (r.rule.find !== undefined) {
      if (r.rule.lookback > lookback) lookback = r.rule.lookback;
      if (r.rule.window > window) window = r.rule.window;
    }
  }
  if (passing.length === 0) return;
  let documentation: boolean | undefined;
  const isDocumentation = () => {
    documentation ??= inDocumentation(bytes, start, path);
    return documentation;
  };
  let text: string | undefined;
  let from = 0;
  for (const r of passing) {
    let m: RuleMatch | undefined;
    if (r.rule.findBytes !== undefined) {
      m = r.rule.findBytes({ bytes, start, keyword: kw.text, path, inDocumentation: isDocumentation });
    } else if (r.rule.find !== undefined) {
      if (text === undefined) {
        from = Math.max(0, start - lookback);
        text = windowText(bytes, span, from, Math.min(bytes.length, start + window));
      }
      m = r.rule.find({
        text,
        at: start - from,
        offset: from,
        keyword: kw.text,
        path,
        inDocumentation: isDocumentation,
      });
    }
    if (m === undefined) continue;
    out.push({
      priority: r.priority,
      rule: r.rule.id,
      severity: r.rule.severity,
      start: m.start,
      end: m.end,
      secret: latin1(bytes, m.start, m.end),
    });
  }
}

/** Keeps, among overlapping findings, the one of the highest-priority rule. */
function dedupe(raw: RawFinding[]): RawFinding[] {
  raw.sort((a, b) => a.start - b.start || a.priority - b.priority);
  const kept: RawFinding[] = [];
  for (const f of raw) {
    let overlapped = false;
    for (let i = kept.length - 1; i >= 0; i--) {
      const k = kept[i] as RawFinding;
      if (k.end <= f.start || f.end <= k.start) continue;
      overlapped = true;
      if (f.priority < k.priority) kept[i] = f;
      break;
    }
    if (!overlapped) kept.push(f);
  }
  return kept;
}

function locate(path: string, bytes: Uint8Array, found: RawFinding[]): SecretFinding[] {
  found.sort((a, b) => a.start - b.start);
  const out: SecretFinding[] = [];
  let line = 1;
  let lineStart = 0;
  for (const f of found) {
    for (
      let nl = bytes.indexOf(0x0a, lineStart);
      nl >= 0 && nl < f.start;
      nl = bytes.indexOf(0x0a, lineStart)
    ) {
      line++;
      lineStart = nl + 1;
    }
    decoder ??= new TextDecoder("utf-8");
    const column = decoder.decode(bytes.subarray(lineStart, f.start)).length + 1;
    out.push({ rule: f.rule, severity: f.severity, path, line, column, match: redact(f.secret) });
  }
  return out;
}

/**
 * The hot loop, kept minimal so that it compiles to a tight native loop: it only records where a
 * table slot fired. Returns how many entries of `hits` (position, slot) it filled; stops early
 * when `hits` is full and is called again from there.
 */
function prefilter(bytes: Uint8Array, from: number, table: Uint16Array, hits: Int32Array): number {
  const n = bytes.length;
  const max = hits.length;
  let count = 0;
  let w = from >= 2 ? ((bytes[from - 2] as number) << 8) | (bytes[from - 1] as number) : 0;
  for (let i = from; i < n; i++) {
    w = ((w << 8) | (bytes[i] as number)) & 0xffffff;
    // Literals, not the module constants: a module binding is a context load and a check per byte.
    const slot = table[Math.imul(w, -1640531535) >>> 16] as number;
    if (slot !== 0) {
      hits[count++] = i;
      hits[count++] = slot;
      if (count === max) return count;
    }
  }
  return count;
}

const HIT_BATCH = 4096;
/** One buffer for every file: scanning is synchronous, and a fresh 32 KiB per file is garbage. */
const HITS = new Int32Array(HIT_BATCH * 2);

function scan(path: string, bytes: Uint8Array): SecretFinding[] {
  const { table, buckets } = PREFILTER;
  const raw: RawFinding[] = [];
  const hits = HITS;
  const span: DecodedSpan = { from: 0, to: 0, text: "" };
  let from = 0;
  while (from < bytes.length) {
    const count = prefilter(bytes, from, table, hits);
    for (let h = 0; h < count; h += 2) {
      const anchorEnd = hits[h] as number;
      for (const kw of buckets[(hits[h + 1] as number) - 1] as readonly Keyword[]) {
        const start = anchorEnd - 2 - kw.anchor;
        if (keywordAt(bytes, start, kw)) runRules(path, bytes, span, start, kw, raw);
      }
    }
    from = count === hits.length ? (hits[count - 2] as number) + 1 : bytes.length;
  }
  if (raw.length === 0) return [];
  return locate(path, bytes, dedupe(raw));
}

/** Scans one file of a bundle. Binary files (see `looksBinary`) give no findings. */
export function scanBytes(path: string, bytes: Uint8Array): SecretFinding[] {
  if (looksBinary(bytes)) return [];
  return scan(path, bytes);
}

/** Scans text already decoded (the CLI's single-file mode, tests). Never treated as binary. */
export function scanText(path: string, text: string): SecretFinding[] {
  return scan(path, new TextEncoder().encode(text));
}
