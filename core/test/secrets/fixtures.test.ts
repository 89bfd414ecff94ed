import { describe, expect, it } from "vitest";
import { SECRET_RULES, scanText } from "../../src/secrets/index.ts";
import { negativeFixtures, recallByFamily, secretFixtures } from "../fixtures/secret-fixtures.ts";

const fixtures = secretFixtures();

describe("secret fixtures", () => {
  it.each(fixtures.map((f) => [f.family, f.path, f] as const))("detects the %s secret in %s", (_, __, f) => {
    const rules = scanText(f.path, f.text).map((x) => x.rule);
    expect(rules).toContain(f.expectRule);
  });

  it("has full recall in every family, and covers every rule", () => {
    const recall = recallByFamily(fixtures, (f) =>
      scanText(f.path, f.text).some((x) => x.rule === f.expectRule),
    );
    console.table(recall);
    for (const r of recall) expect(r.recall, r.family).toBe(1);
    const covered = new Set(fixtures.map((f) => f.expectRule));
    expect(SECRET_RULES.map((r) => r.id).filter((id) => !covered.has(id))).toEqual([]);
  });

  it("generates the same fixtures on every run", () => {
    expect(secretFixtures()).toEqual(fixtures);
  });

  it.each(negativeFixtures().map((n) => [n.why, n.path, n] as const))(
    "reports nothing for %s (%s)",
    (_, __, n) => {
      expect(scanText(n.path, n.text)).toEqual([]);
    },
  );
});

describe("redaction", () => {
  it("never puts a full secret in a finding: at most 4 characters and the length", () => {
    for (const f of fixtures) {
      for (const finding of scanText(f.path, f.text)) {
        expect(f.text.includes(finding.match)).toBe(false);
        expect(finding.match.includes(f.secret)).toBe(false);
        expect(finding.match).toMatch(/^[^…]{0,4}…\(\d+ chars\)$/);
        // The end of a secret is its random part (the start may be a provider prefix such as `rubygems_`).
        expect(JSON.stringify(finding)).not.toContain(f.secret.slice(-8));
      }
    }
  });
});
