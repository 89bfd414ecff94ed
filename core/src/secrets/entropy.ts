/**
 * Measures of "does this string look machine-generated". Secrets issued by a provider are random
 * strings; what developers and libraries write next to the word `token` or `password` is mostly
 * words, identifiers, paths and placeholders. These functions are what the rules gate on.
 */

/** Shannon entropy of the string's character distribution, in bits per character. */
export function shannonEntropy(value: string): number {
  const n = value.length;
  if (n === 0) return 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / n;
    bits -= p * Math.log2(p);
  }
  return bits;
}

export interface CharClasses {
  readonly lower: number;
  readonly upper: number;
  readonly digit: number;
  readonly other: number;
}

export function charClasses(value: string): CharClasses {
  let lower = 0;
  let upper = 0;
  let digit = 0;
  let other = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 97 && c <= 122) lower++;
    else if (c >= 65 && c <= 90) upper++;
    else if (c >= 48 && c <= 57) digit++;
    else other++;
  }
  return { lower, upper, digit, other };
}

/** How many of lower / upper / digit / other occur at least once. */
export function classCount(value: string): number {
  const c = charClasses(value);
  return (c.lower > 0 ? 1 : 0) + (c.upper > 0 ? 1 : 0) + (c.digit > 0 ? 1 : 0) + (c.other > 0 ? 1 : 0);
}

/**
 * Words that mark a value as an example rather than a credential. Matched case-insensitively as
 * substrings, so `YOUR_API_KEY`, `example-token`, `<token>` and `${API_KEY}` are all placeholders.
 * Kept short on purpose: every word here is a way for a real secret to slip through.
 */
const PLACEHOLDER_MARKERS = [
  "your",
  "example",
  "placeholder",
  "changeme",
  "change_me",
  "replace",
  "insert",
  "dummy",
  "redacted",
  "xxxxxx", // six: four x's turn up in random token bodies (~1 in 600 for base32)
  "****",
  "....",
  "<",
  ">",
  "${",
  "{{",
  "process.env",
  "import.meta.env",
];

export function isPlaceholder(value: string): boolean {
  const lower = value.toLowerCase();
  for (const marker of PLACEHOLDER_MARKERS) if (lower.includes(marker)) return true;
  // One character repeated for most of the string: `aaaaaaaa`, `0000000000`, `XXXXXXXXXX`.
  return shannonEntropy(value) < 1.5;
}

/**
 * Gate for the body of a token whose prefix already names its provider (`ghp_`, `glpat-`, `xoxb-`…).
 * The prefix is the strong signal; this only throws out placeholders such as `ghp_XXXXXXXX…` or
 * `ghp_your_token_here_…`. A random body of ≥ 20 base62 characters has ≥ 3.9 bits/char (log2 of the
 * number of distinct characters, which is ~17 in 20 draws out of 62); 3.0 leaves room for short
 * bodies and hex alphabets while rejecting runs and words.
 */
export function looksLikeTokenBody(body: string): boolean {
  if (isPlaceholder(body)) return false;
  return shannonEntropy(body) >= 3.0 && classCount(body) >= 2;
}
