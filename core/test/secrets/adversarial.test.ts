/**
 * Scanning must stay linear whatever a bundle contains (a Worker has a CPU budget; an author can
 * upload anything). Each input is ~1 MB built to make a naive regex backtrack or a naive scanner
 * run every rule at every position. Completion within vitest's timeout is the assertion: no
 * wall-clock thresholds, which flake on shared CI.
 */
import { describe, expect, it } from "vitest";
import { SECRET_RULES, scanText } from "../../src/secrets/index.ts";

const MB = 1 << 20;

function fill(unit: string, size = MB): string {
  return unit.repeat(Math.ceil(size / unit.length));
}

const fixed: [string, string][] = [
  ["a × 1 MB", fill("a")],
  ["= × 1 MB", fill("=")],
  ['" × 1 MB', fill('"')],
  ["AKIA repeated", fill("AKIA")],
  ["AKIA ids separated by spaces", fill("AKIAAAAAAAAAAAAAAAAA ")],
  ["eyJ repeated", fill("eyJ")],
  ["eyJ after dots", fill(".eyJ")],
  ["JWT-shaped segments", fill(" eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.")],
  ["-----BEGIN without END", `-----BEGIN RSA PRIVATE KEY-----\n${fill("QUJD")}`],
  ["-----BEGIN repeated", fill("-----BEGIN PRIVATE KEY-----\n")],
  ["postgres:// then 100 KB of :", `postgres://${fill(":", 100 * 1024)}`],
  ["postgres://a: then 100 KB of :", `postgres://a:${fill(":", 100 * 1024)}`],
  ["URL user:pass without @", fill("https://u:p")],
  ["token= repeated", fill('token="')],
  ["password: quotes", fill("password:'")],
  ["xoxb- digit runs", fill("xoxb-1-")],
  ["sk-proj- dashes", `sk-proj-${fill("-")}`],
  ["hooks.slack.com repeated", fill("hooks.slack.com/services/T")],
  ["Basic repeated", fill("Basic ")],
  ["Bearer + long run", `Bearer ${fill("A")}`],
  ["twilio near SIDs", fill(`twilio AC${"0".repeat(32)} `)],
  ["service_account repeated", fill('"type":"service_account",')],
  ["sig= repeated", fill("?sv=2020-01-01&sig=")],
];

describe("adversarial inputs finish in linear time", () => {
  it.each(fixed)("%s", (_, text) => {
    expect(Array.isArray(scanText("evil.js", text))).toBe(true);
  });

  it("every keyword of every rule, repeated and followed by long runs", () => {
    let scanned = 0;
    for (const rule of SECRET_RULES) {
      for (const k of [...rule.keywords, ...(rule.keywordsIgnoreCase ?? [])]) {
        for (const text of [
          fill(k, 256 * 1024),
          fill(` ${k}`, 256 * 1024),
          fill(`${k}${"a".repeat(40)}=`, 256 * 1024),
          ` ${k}${fill("A", 256 * 1024)}`,
        ]) {
          scanText("evil.js", text);
          scanned += text.length;
        }
      }
    }
    expect(scanned).toBeGreaterThan(100 * MB);
  });
});
