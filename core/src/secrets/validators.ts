/**
 * Structural checks that turn "looks like a key" into "is a key": a JWT's header and signature
 * length, a PEM body's DER framing, a URL password that is not a placeholder. Pure functions over
 * strings; `atob` is the only platform API used (Web-standard: Workers, Node ≥ 16, browsers).
 */

import { classCount, isPlaceholder, shannonEntropy } from "./entropy.ts";

/** Decodes base64 or base64url (padding optional). Returns undefined when it is not valid base64. */
export function decodeBase64(value: string): Uint8Array | undefined {
  let b64 = value.replace(/-/g, "+").replace(/_/g, "/");
  const rem = b64.length % 4;
  if (rem === 1) return undefined;
  if (rem !== 0) b64 += "=".repeat(4 - rem);
  try {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}

function decodeJsonObject(segment: string): Record<string, unknown> | undefined {
  const bytes = decodeBase64(segment);
  if (bytes === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(
      new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes),
    );
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Signature sizes in bytes per JWS `alg` (RFC 7518 §3). A token whose signature length does not fit
 * its alg is not a token any server would accept, so it is not a credential:
 * - HS256/384/512: the HMAC output, 32/48/64 bytes.
 * - RS*, PS*: the RSA modulus size. 128 (RSA-1024, still seen on legacy IdPs) to 1024 (RSA-8192);
 *   2048–4096-bit keys (256–512 bytes) are what real issuers use.
 * - ES256/384/512: r‖s, 64/96/132 bytes. ES256K 64. EdDSA: 64 (Ed25519) or 114 (Ed448).
 * `alg: none` is not signed, so it proves nothing and grants nothing to a correct verifier.
 */
const JWS_SIGNATURE_BYTES: Record<string, readonly [number, number]> = {
  HS256: [32, 32],
  HS384: [48, 48],
  HS512: [64, 64],
  RS256: [128, 1024],
  RS384: [128, 1024],
  RS512: [128, 1024],
  PS256: [128, 1024],
  PS384: [128, 1024],
  PS512: [128, 1024],
  ES256: [64, 64],
  ES384: [96, 96],
  ES512: [132, 132],
  ES256K: [64, 64],
  EdDSA: [64, 114],
};

/**
 * Documentation samples that are everywhere and grant nothing: jwt.io's default token (HS256,
 * secret `your-256-bit-secret`, payload `{"sub":"1234567890","name":"John Doe",…}`) in its
 * successive versions. Recognised by payload so that every signature variant of it is covered.
 */
function isDocumentationSamplePayload(payload: Record<string, unknown>): boolean {
  return payload.sub === "1234567890" && payload.name === "John Doe";
}

/**
 * A JWT counts as a secret when: three base64url segments; the header is a JSON object whose `alg`
 * is a real signing algorithm (not `none`); the payload is a JSON object; the signature has the
 * length that alg produces; and it is not a documentation sample. Supabase `anon` keys are JWTs
 * that are public by design (shipped in every Supabase web app, gated by row-level security), so
 * `role: "anon"` is not reported; a `service_role` key is.
 */
export function isRealJwt(token: string): boolean {
  const parts = token.split(".");
  if (parts.length !== 3) return false;
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJsonObject(h);
  if (header === undefined || typeof header.alg !== "string") return false;
  const range = JWS_SIGNATURE_BYTES[header.alg];
  if (range === undefined) return false;
  const payload = decodeJsonObject(p);
  if (payload === undefined) return false;
  const sig = decodeBase64(s);
  if (sig === undefined || sig.length < range[0] || sig.length > range[1]) return false;
  if (isDocumentationSamplePayload(payload)) return false;
  if (payload.role === "anon") return false;
  return true;
}

/**
 * The base64 body of a PEM private key, as found in a file, a JS string with `\n` escapes, or a
 * JSON value. Header lines (`Proc-Type:`, `DEK-Info:`, PGP `Version:`) and the PGP checksum line
 * (`=abcd`) are dropped.
 */
export function pemBody(between: string): { body: string; encryptedLegacy: boolean } {
  const lines = between.split(/\\r\\n|\\n|\\r|\r?\n|\r/);
  let body = "";
  let encryptedLegacy = false;
  for (const raw of lines) {
    // String concatenation (`"…" +`, `+ "…"`) goes first: `+` is also a base64 character.
    const line = raw.replace(/["'`]\s{0,8}\+|\+\s{0,8}["'`]/g, "").replace(/["'`,\s\\]/g, "");
    if (raw.includes(":")) {
      if (raw.includes("ENCRYPTED")) encryptedLegacy = true;
      continue;
    }
    if (line.startsWith("=")) continue;
    body += line;
  }
  return { body, encryptedLegacy };
}

/** DER length of a SEQUENCE at offset 0: total encoded size, or -1 if not a SEQUENCE. */
function derSequenceSize(der: Uint8Array): number {
  if (der.length < 2 || der[0] !== 0x30) return -1;
  const first = der[1] as number;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 3 || der.length < 2 + n) return -1;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + (der[2 + i] as number);
  return 2 + n + len;
}

/**
 * Minimum base64 body: 64 characters, the size of the smallest real private key (Ed25519 in
 * PKCS#8, 48 DER bytes). What is shorter is a `MIIE…` ellipsis in documentation.
 * Then, by kind:
 * - OPENSSH: the body starts with base64("openssh-key-v1").
 * - PGP, legacy encrypted PEM (`Proc-Type: 4,ENCRYPTED`): ciphertext or packets with no fixed
 *   magic; base64 with ≥ 4.5 bits/char (random base64 is ~6; a repeated placeholder is < 3).
 * - everything else (PKCS#1, PKCS#8, SEC1, ENCRYPTED PRIVATE KEY): the body decodes to exactly one
 *   DER SEQUENCE whose declared length matches the decoded size, or — what secretlint accepts — it
 *   is ≥ 100 characters starting with `MI` (a SEQUENCE with a two-byte length: every RSA and
 *   PKCS#8 key) with the entropy of random base64 (≥ 4.5 bits/char). The second form keeps keys
 *   whose framing was damaged by copying (a lost line, a changed character) reportable: a damaged
 *   key is still the secret.
 */
export function isRealPrivateKeyBody(label: string, between: string): boolean {
  const { body, encryptedLegacy } = pemBody(between);
  if (body.length < 64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return false;
  if (label.startsWith("OPENSSH")) return body.startsWith("b3BlbnNzaC1rZXktdjE");
  if (label.startsWith("PGP") || label.startsWith("SSH2") || encryptedLegacy) {
    return shannonEntropy(body) >= 4.5;
  }
  const der = decodeBase64(body);
  if (der !== undefined && derSequenceSize(der) === der.length) return true;
  return body.length >= 100 && body.startsWith("MI") && shannonEntropy(body) >= 4.5;
}

/**
 * True when a value reads as words rather than as a machine-generated string. It is cut the way
 * identifiers are read — `XMLHttpRequest` → XML, Http, Request; `markup.heading.1` → markup,
 * heading, 1 — and it is word-like when its digits come in at most two groups of ≤ 5 (`variable-2`,
 * `Summer2024`, `h264`), at most one word has fewer than 3 letters, and ≥ 80% of its letters are in
 * words (≥ 3 letters with a vowel in every 4, or an acronym of ≤ 4 capitals: `ikrdkjd` and
 * `Hjq` are not words) — or when it is separated short words (`MF-Op-Secret`, `X-Api-Key`). Random strings
 * fail: their case flips mid-word (`pINerUayMieoR6EjvHPQ` → p, I, Ner, Uay, Mieo, R, 6, Ejv, HPQ: three
 * one-letter words) and their digits are scattered (`su23upovp3qf3qp3`: four groups).
 * core/test/secrets/library-shapes.test.ts holds it to ≤ 1% of seeded random keys of ≥ 16
 * characters (base62, base64, base36, hex, passwords) and to every grammar name of the sample.
 */
export function isWordLike(value: string): boolean {
  let letters = 0;
  let inWords = 0;
  let digitGroups = 0;
  let shortWords = 0;
  let acronyms = 0;
  let lastWasShort = false;
  let lastEnd = -1;
  WORDS.lastIndex = 0;
  for (let m = WORDS.exec(value); m !== null; m = WORDS.exec(value)) {
    const word = m[0];
    const c = word.charCodeAt(0);
    if (c >= 48 && c <= 57) {
      if (++digitGroups > 2 || word.length > 5) return isWordSegments(value);
      // Letters and digits together name things: `ec2`, `S3`, `v8`, `h264`, `es2015`.
      if (lastWasShort && m.index === lastEnd) shortWords--;
      lastWasShort = false;
      continue;
    }
    letters += word.length;
    lastWasShort = word.length < 3;
    lastEnd = m.index + word.length;
    if (word.length < 3) shortWords++;
    else if (isAcronym(word)) {
      // One acronym reads (`XMLHttpRequest`); random strings are full of capital runs.
      if (++acronyms === 1) inWords += word.length;
    } else if (isWord(word)) inWords += word.length;
  }
  if (letters > 0 && shortWords <= 1 && inWords >= 0.8 * letters) return true;
  return isWordSegments(value);
}

/** Identifier words: an upper-case run not followed by lower case, a (capitalised) lower-case run, digits. */
const WORDS = /[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+/g;

/**
 * A word of ≥ 3 letters reads as one: an acronym of ≤ 4 capitals (`XML`, `HTTP`), or letters with a
 * vowel (y counts) in every 4 (`css` and `ctx` are not words; `Password` and `actionscript` are).
 */
function isWord(word: string): boolean {
  return isAcronym(word) || vowels(word) * 6 >= word.length;
}

function isAcronym(word: string): boolean {
  return word.length <= 4 && word === word.toUpperCase();
}

function vowels(word: string): number {
  let n = 0;
  for (let i = 0; i < word.length; i++) if ("aeiouyAEIOUY".includes(word.charAt(i))) n++;
  return n;
}

/**
 * Every part between separators is one regular word or a short number (`MF-Op-Secret`,
 * `X-Api-Key`, `DB_HOST`): the shape of header names and constants. A random string of the same
 * length has digits or irregular case inside its parts.
 */
function isWordSegments(value: string): boolean {
  if (!/^[A-Za-z0-9]+(?:[-_.:/# ][A-Za-z0-9]+)+$/.test(value)) return false;
  return value
    .split(/[-_.:/# ]/)
    .every(
      (p) =>
        /^\d{1,4}$/.test(p) ||
        /^[A-Za-z]{1,3}\d{1,4}$/.test(p) ||
        (/^(?:[A-Z]?[a-z]+|[A-Z]+)$/.test(p) && isWord(p)),
    );
}

/**
 * Passwords that are examples, not credentials (the same list secretlint uses for URLs, plus
 * template syntax). Compared whole and lower-cased: `password` is a placeholder, `password1!x` is not.
 */
const PLACEHOLDER_PASSWORDS = new Set([
  "password",
  "passwd",
  "pass",
  "pwd",
  "secret",
  "username",
  "user",
  "root",
  "admin",
  "mypassword",
  "changeme",
  "test",
  "example",
  "postgres",
  "mysql",
  "guest",
]);

/** Template variables: `${PASS}`, `{{pass}}`, `{pass}`, `%PASS%`, `$PASS`, `$(pass)`, `:pass`. */
const VARIABLE_LIKE = /\$\{|\{\{|^\{[^}]{1,64}\}$|%[A-Z_]{1,32}%|\$[A-Z_]{1,32}|\$\(|^:/;

/**
 * A password made only of letter words (`boop`, `pass`, `secret`, `open sesame`): the shape of
 * documentation examples (RFC 7617's own is `Aladdin:open sesame`, AngularJS documents
 * `beep:boop`). Issued passwords and anything a password policy accepts have a digit, a symbol or a
 * case change inside a word.
 */
export function isDictionaryPassword(password: string): boolean {
  return /^[A-Za-z]{1,16}(?:[ ._-][A-Za-z]{1,16}){0,3}$/.test(password) && isWordLike(password);
}

/**
 * For the password of `scheme://user:password@host` and of HTTP Basic credentials. In code a
 * password is reported unless it is a placeholder, a template variable or dictionary words; in a
 * comment or documentation (`documentation`) it must also look machine-generated, because that is
 * where examples live and a generated password is what a pasted real one looks like.
 */
export function isLikelyRealPassword(user: string, password: string, documentation = false): boolean {
  if (password.length < 4 || password === user) return false;
  if (PLACEHOLDER_PASSWORDS.has(password.toLowerCase())) return false;
  if (VARIABLE_LIKE.test(password) || isPlaceholder(password)) return false;
  if (isDictionaryPassword(password)) return false;
  return !documentation || looksGenerated(password);
}

/**
 * Machine-generated: not word-like, characters of ≥ 3 classes (or ≥ 32 hex digits), and the
 * entropy of `genericEntropyThreshold`.
 */
export function looksGenerated(value: string): boolean {
  if (isWordLike(value)) return false;
  const hex = value.length >= 32 && /^[0-9a-f]+$/i.test(value);
  if (!hex && classCount(value) < 3) return false;
  return shannonEntropy(value) >= genericEntropyThreshold(value.length);
}

/**
 * Threshold for the generic `secret = "…"` rule: at least `min(3.2, 0.8 · log2(length))` bits/char.
 * A random string of n characters over a ≥ 16-symbol alphabet has close to log2(min(n, |alphabet|))
 * bits/char; 80% of that allows for repeated characters. The cap of 3.2 lets 32-char hex keys
 * (≤ 4 bits/char, typically ~3.7) through. Words and identifiers (`my-secret-value` ≈ 3.0,
 * `keyword.operator` ≈ 3.1 — but those fail the word test anyway) sit under it.
 */
export function genericEntropyThreshold(length: number): number {
  return Math.min(3.2, 0.8 * Math.log2(length));
}

/**
 * A value assigned to a name like `secret`, `token`, `password` or `api_key` is reported when it is
 * 10–256 characters without whitespace; not a placeholder, a URL, a path or a data URI
 * (`./token.json`, `unicode/1f9ed.png?v8`); not word-like (`keyword.operator.js`, `markup.heading.1`, `variable-2`,
 * `identitytoolkit#VerifyPasswordResponse`: grammar token classes, labels, i18n strings); and
 * either machine-generated (`looksGenerated`) or, outside comments and documentation, ≥ 12
 * characters of two classes mixed the way random strings are (lower-case letters and digits:
 * many providers issue base36 keys, and gitleaks reports them).
 */
export function isLikelyGenericSecret(value: string, documentation = false): boolean {
  const n = value.length;
  if (n < 10 || n > 256 || /\s/.test(value)) return false;
  // Cheapest first: editor grammars reach this point ~10,000 times per 40 MB with word-like names.
  if (isWordLike(value)) return false;
  if (value.includes("://") || value.startsWith("data:")) return false;
  // A path (`./token.json`, `/api/v1/keys`, `/v1/accounts:signInWithPassword`): base64 may start with
  // `/` too, but holds nothing outside its alphabet and does not read as words.
  if (/^\.{0,2}\//.test(value) && (/[^A-Za-z0-9+/=]/.test(value) || isWordLike(value))) return false;
  // A relative path to a file (`unicode/1f9ed.png?v8`): base64 has `/` but never `.`.
  if (value.includes("/") && /\.[A-Za-z][A-Za-z0-9]{0,4}(?:[?#][^/]*)?$/.test(value)) return false;
  if (isPlaceholder(value)) return false;
  if (looksGenerated(value)) return true;
  if (documentation || n < 12 || classCount(value) < 2) return false;
  return shannonEntropy(value) >= genericEntropyThreshold(n);
}
