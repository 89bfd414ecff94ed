/**
 * What a rule is and the helpers that the provider families share. The policy every rule follows
 * (severities, comments, documentation examples, dictionary words) is stated once, in `index.ts`.
 */

import { looksLikeTokenBody } from "../entropy.ts";

/**
 * `block`: a credential — the publish is refused until it is removed (or a tenant admin accepts this
 * exact finding). `warn`: reported to the author but never refuses: identifiers that travel with a
 * secret (an AWS access key id, a Twilio API key SID) and keys that are public by design (a Google
 * browser key, which Google expects in page source and restricts by referrer).
 */
export type Severity = "block" | "warn";

/** Where a rule found its secret: byte offsets into the file, end exclusive. */
export interface RuleMatch {
  readonly start: number;
  readonly end: number;
}

/** What a window rule sees: a decoded window of the file with the keyword at `at`. */
export interface RuleWindow {
  readonly text: string;
  /** Index in `text` where the keyword starts. */
  readonly at: number;
  /** Byte offset of `text[0]` in the file (windows decode one byte to one character). */
  readonly offset: number;
  /** The keyword that fired, as written in the rule. */
  readonly keyword: string;
  /** The file's path in the bundle: some formats (`.env`, `.npmrc`) change what a value looks like. */
  readonly path: string;
  /**
   * True when the keyword stands in a comment or in documentation (index.ts says what counts).
   * Computed on demand: only the rules whose weak signals need it ask.
   */
  inDocumentation(): boolean;
}

/** What a byte rule sees: the whole file and where its keyword starts. Nothing is decoded for it. */
export interface ByteInput {
  readonly bytes: Uint8Array;
  /** Byte offset of the keyword. */
  readonly start: number;
  readonly keyword: string;
  readonly path: string;
  inDocumentation(): boolean;
}

export interface SecretRule {
  /** Stable id, shown in findings and SECRET_DETECTED errors: `github-token`. */
  readonly id: string;
  /** Provider or kind, for grouping and recall reports: `github`. */
  readonly family: string;
  readonly severity: Severity;
  readonly description: string;
  /** Literal strings (≥ 3 chars), one of which every match contains. Case-sensitive. */
  readonly keywords: readonly string[];
  /** Literal strings compared ignoring ASCII case. */
  readonly keywordsIgnoreCase?: readonly string[];
  /**
   * Characters that may not directly precede the keyword (a token boundary): `ghp_` inside
   * `xghp_…` is not a GitHub token. Checked on bytes, before any decoding.
   */
  readonly notAfter?: string;
  /**
   * A cheap test on the raw bytes right after the keyword (`afterKeyword` is their offset), run
   * before anything is decoded. For keywords that are frequent in ordinary code (`https://`), it
   * throws out almost every hit for the price of a few byte compares.
   */
  readonly precheck?: (bytes: Uint8Array, afterKeyword: number) => boolean;
  /** Characters of context the rule needs before the keyword (window rules). */
  readonly lookback: number;
  /** Characters after the keyword start that a match can reach (longest match + 1). */
  readonly window: number;
  /** A window rule: runs on the decoded window around the keyword. */
  readonly find?: (w: RuleWindow) => RuleMatch | undefined;
  /** A byte rule: runs on the file's bytes, for keywords too frequent to decode a window per hit. */
  readonly findBytes?: (input: ByteInput) => RuleMatch | undefined;
}

export const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
export const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
export const WORD = `${ALNUM}_`;
export const TOKEN = `${WORD}-`;

export function isIn(chars: string, code: number): boolean {
  return code >= 0 && chars.includes(String.fromCharCode(code));
}

/** Runs a sticky regex at the keyword (`offset` characters before it); returns the match or null. */
export function stickyAt(re: RegExp, w: RuleWindow, offset = 0): RegExpExecArray | null {
  re.lastIndex = w.at - offset;
  return re.exec(w.text);
}

/** The byte span of `m[group]` (0: the whole match) in the file. */
export function groupSpan(w: RuleWindow, m: RegExpExecArray, group: number): RuleMatch | undefined {
  const value = m[group];
  if (value === undefined) return undefined;
  // `d` flag indices would do this, but cost on every exec; the group is always the match suffix
  // or found by lastIndexOf from the end of the match.
  const start = group === 0 ? m.index : m.index + m[0].lastIndexOf(value);
  return { start: w.offset + start, end: w.offset + start + value.length };
}

/** A span of the window text, as byte offsets in the file. */
export function span(w: RuleWindow, start: number, end: number): RuleMatch {
  return { start: w.offset + start, end: w.offset + end };
}

/** Lowercase hex digit (the byte, or undefined past the end of the file). */
export function isHexByte(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66));
}

export interface TokenRuleSpec {
  readonly id: string;
  readonly family: string;
  readonly description: string;
  readonly severity?: Severity;
  readonly keywords: readonly string[];
  readonly keywordsIgnoreCase?: readonly string[];
  /** Sticky; matches from the keyword. */
  readonly pattern: RegExp;
  /** The part of the match that must look random (defaults to the whole match minus `keyword`). */
  readonly body?: (m: RegExpExecArray, keyword: string) => string;
  readonly validate?: (m: RegExpExecArray) => boolean;
  /** A byte test after the keyword that throws out most hits before anything is decoded. */
  readonly precheck?: (bytes: Uint8Array, afterKeyword: number) => boolean;
  readonly window: number;
  readonly notAfter?: string;
}

/**
 * A provider token with a fixed prefix: the prefix is the signal, the body must not be a
 * placeholder. Found in code, strings, comments and documentation alike (index.ts, rule 1).
 * The default boundary is a letter or digit before the prefix, the same as secretlint's (which only
 * refuses a letter): `%22ghp_…` in a URL-encoded string is still a token.
 */
export function tokenRule(spec: TokenRuleSpec): SecretRule {
  return {
    id: spec.id,
    family: spec.family,
    severity: spec.severity ?? "block",
    description: spec.description,
    keywords: spec.keywords,
    ...(spec.keywordsIgnoreCase === undefined ? {} : { keywordsIgnoreCase: spec.keywordsIgnoreCase }),
    notAfter: spec.notAfter ?? ALNUM,
    ...(spec.precheck === undefined ? {} : { precheck: spec.precheck }),
    lookback: 1,
    window: spec.window,
    find(w) {
      const m = stickyAt(spec.pattern, w);
      if (m === null) return undefined;
      const body = spec.body ? spec.body(m, w.keyword) : m[0].slice(w.keyword.length);
      if (!looksLikeTokenBody(body)) return undefined;
      if (spec.validate && !spec.validate(m)) return undefined;
      return groupSpan(w, m, 0);
    },
  };
}
