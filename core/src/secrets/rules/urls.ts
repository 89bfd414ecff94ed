/**
 * Credentials in URLs and HTTP headers: database and broker URLs with a password, `user:password@`
 * in HTTP(S)/FTP URLs, `Authorization: Basic …` and literal `Bearer …` tokens. Their signal is a
 * shape that documentation uses all the time (`postgres://user:password@localhost`,
 * `Authorization: Basic YmVlcDpib29w`), so the password is judged by `isLikelyRealPassword`:
 * placeholders, template variables and dictionary words are examples everywhere, and in comments
 * and documentation the password must also look machine-generated (index.ts, rule 2).
 */

import { classCount, shannonEntropy } from "../entropy.ts";
import { decodeBase64, isLikelyRealPassword } from "../validators.ts";
import { ALNUM, groupSpan, type SecretRule, stickyAt, tokenRule } from "./shared.ts";

const DB_SCHEMES = [
  "postgres://",
  "postgresql://",
  "mysql://",
  "mysqlx://",
  "mariadb://",
  "mongodb://",
  "mongodb+srv://",
  "redis://",
  "rediss://",
  "amqp://",
  "amqps://",
  "mssql://",
  "sqlserver://",
  "cockroachdb://",
  "clickhouse://",
];

/**
 * `scheme://user:password@host`. The user may be empty (`redis://:pass@host`). Bounded: user ≤ 128,
 * password ≤ 256, host ≤ 253.
 */
const URL_CREDENTIALS =
  /[A-Za-z+]{3,14}:\/\/([^\s:@/?#"'`<>]{0,128}):([^\s@/?#"'`<>]{1,256})@[A-Za-z0-9.-]{1,253}/y;

/** An `@` comes before the authority ends: `/`, `?`, `#`, a quote, `<`, `>` or whitespace. */
function hasAtInAuthority(bytes: Uint8Array, after: number): boolean {
  const end = Math.min(bytes.length, after + 386);
  for (let i = after; i < end; i++) {
    const b = bytes[i] as number;
    if (b === 0x40) return true;
    if (b <= 0x20 || b === 0x2f || b === 0x3f || b === 0x23 || b === 0x22 || b === 0x27 || b === 0x60)
      return false;
    if (b === 0x3c || b === 0x3e) return false;
  }
  return false;
}

function urlCredentialRule(id: string, family: string, description: string, keywords: string[]): SecretRule {
  return {
    id,
    family,
    severity: "block",
    description,
    keywords: [],
    keywordsIgnoreCase: keywords,
    notAfter: `${ALNUM}+.-`,
    precheck: hasAtInAuthority,
    lookback: 1,
    window: 660,
    find(w) {
      const m = stickyAt(URL_CREDENTIALS, w);
      if (!m) return undefined;
      const user = m[1] ?? "";
      if (id === "url-basic-auth" && user.length < 2) return undefined;
      if (!isLikelyRealPassword(user, m[2] ?? "", w.inDocumentation())) return undefined;
      return groupSpan(w, m, 0);
    },
  };
}

const databaseUrl = urlCredentialRule(
  "database-url",
  "database-url",
  "Database or broker URL with a password (postgres, mysql, mongodb, redis, amqp, mssql, …)",
  DB_SCHEMES,
);

const urlBasicAuth = urlCredentialRule(
  "url-basic-auth",
  "basic-auth",
  "HTTP(S)/FTP URL with user:password@",
  ["http://", "https://", "ftp://", "ftps://"],
);

/** `Basic base64(user:password)`: decodes to printable `user:password` with a real password. */
const httpBasicAuth: SecretRule = {
  id: "http-basic-auth",
  family: "basic-auth",
  severity: "block",
  description: "HTTP Authorization: Basic credentials",
  keywords: ["Basic "],
  notAfter: ALNUM,
  lookback: 1,
  window: 320,
  find(w) {
    const m = stickyAt(/Basic ([A-Za-z0-9+/]{8,300}={0,2})(?![A-Za-z0-9+/=])/y, w);
    if (!m || m[1] === undefined) return undefined;
    const bytes = decodeBase64(m[1]);
    if (bytes === undefined) return undefined;
    const plain = String.fromCharCode(...bytes);
    const colon = plain.indexOf(":");
    if (!/^[\x20-\x7e]+$/.test(plain) || colon < 1) return undefined;
    if (!isLikelyRealPassword(plain.slice(0, colon), plain.slice(colon + 1), w.inDocumentation())) {
      return undefined;
    }
    return groupSpan(w, m, 1);
  },
};

/**
 * `Bearer <token>` written literally: ≥ 20 chars that look random (≥ 3.5 bits/char, 3 classes);
 * what documentation shows (`Bearer <token>`, `Bearer ${token}`, `Bearer YOUR_TOKEN`) is not.
 */
const bearer = tokenRule({
  id: "bearer-token",
  family: "generic",
  description: "HTTP Authorization: Bearer with a literal token",
  keywords: ["Bearer "],
  pattern: /Bearer ([A-Za-z0-9._~+/-]{20,2048}={0,2})(?![A-Za-z0-9._~+/=-])/y,
  body: (m) => m[1] ?? "",
  validate: (m) => shannonEntropy(m[1] ?? "") >= 3.5 && classCount(m[1] ?? "") >= 3,
  window: 2070,
});

export const URL_RULES: readonly SecretRule[] = [databaseUrl, urlBasicAuth, httpBasicAuth, bearer];
