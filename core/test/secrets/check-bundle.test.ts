/**
 * What a finding does to a publish (core/src/pipeline.ts): `block` refuses, `warn` is reported and
 * does not, and a tenant admin's accepted finding (rule + SHA-256 of the file's bytes) is reported as
 * accepted instead of refusing — for that exact file content only, never for the rule as a whole.
 */

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { checkBundle, fileHashOf, withAcceptedFindings } from "../../src/pipeline.ts";
import { summarizeFindings } from "../../src/secrets/index.ts";
import { secretFixtures } from "../fixtures/secret-fixtures.ts";
import { filesInput } from "../helpers/zip-writer.ts";

function secretOf(rule: string): string {
  const fixture = secretFixtures().find((f) => f.expectRule === rule);
  if (fixture === undefined) throw new Error(`no fixture for ${rule}`);
  return fixture.secret;
}

const GITHUB = secretOf("github-token");
const MAPS_KEY = secretOf("google-api-key");
const DEPLOY_JS = `fetch("https://api.github.com/x",{headers:{Authorization:"token ${GITHUB}"}});\n`;
const MAPS_JS = `const firebaseConfig = { apiKey: "${MAPS_KEY}", projectId: "demo" };\n`;

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

describe("checkBundle and secret findings", () => {
  it("refuses a block finding with SECRET_DETECTED and gives the file's hash to accept it by", async () => {
    const report = await checkBundle(filesInput({ "index.html": "<p>x</p>", "deploy.js": DEPLOY_JS }));
    expect(report.ok).toBe(false);
    expect(report.errors.map((e) => [e.code, e.path])).toEqual([["SECRET_DETECTED", "deploy.js"]]);
    expect(report.findings).toEqual([
      expect.objectContaining({ rule: "github-token", severity: "block", fileHash: sha256(DEPLOY_JS) }),
    ]);
    expect(report.accepted).toEqual([]);
    expect(await fileHashOf(new TextEncoder().encode(DEPLOY_JS))).toBe(sha256(DEPLOY_JS));
  });

  it("hosts a bundle whose only findings are warnings, and still reports them", async () => {
    const report = await checkBundle(filesInput({ "index.html": "<p>x</p>", "firebase.js": MAPS_JS }));
    expect(report.ok).toBe(true);
    expect(report.errors).toEqual([]);
    expect(report.findings.map((f) => [f.rule, f.severity, f.path])).toEqual([
      ["google-api-key", "warn", "firebase.js"],
    ]);
  });

  it("reports an accepted finding as accepted and hosts the bundle", async () => {
    const report = await checkBundle(filesInput({ "index.html": "<p>x</p>", "deploy.js": DEPLOY_JS }), {
      accepted: [{ ruleId: "github-token", fileHash: sha256(DEPLOY_JS) }],
    });
    expect(report.ok).toBe(true);
    expect(report.findings).toEqual([]);
    expect(report.accepted.map((f) => [f.rule, f.path])).toEqual([["github-token", "deploy.js"]]);
  });

  it("does not carry an acceptance over to another file, another content or another rule", async () => {
    const accepted = [{ ruleId: "github-token", fileHash: sha256(DEPLOY_JS) }];
    const edited = `${DEPLOY_JS}// one more line\n`;
    const otherRule = `${DEPLOY_JS}const db = "postgres://app:k7Qv2LmX9wzRt4p@db.acme.io/app";\n`;
    for (const [name, content, refused] of [
      ["the same file edited", edited, ["github-token"]],
      ["another rule in the accepted file's twin", otherRule, ["github-token", "database-url"]],
    ] as const) {
      const report = await checkBundle(filesInput({ "index.html": "<p>x</p>", "deploy.js": content }), {
        accepted,
      });
      expect(report.ok, name).toBe(false);
      expect(report.findings.map((f) => f.rule).sort(), name).toEqual([...refused].sort());
    }
    const twoFiles = await checkBundle(
      filesInput({ "index.html": "<p>x</p>", "deploy.js": DEPLOY_JS, "copy.js": `${DEPLOY_JS} ` }),
      { accepted },
    );
    expect(twoFiles.findings.map((f) => f.path)).toEqual(["copy.js"]);
    expect(twoFiles.accepted.map((f) => f.path)).toEqual(["deploy.js"]);
  });

  it("gives the same verdict when the accepted list is learned after the check (no second scan)", async () => {
    const input = () =>
      filesInput({
        "index.html": "<p>x</p>",
        "deploy.js": DEPLOY_JS,
        "copy.js": `${DEPLOY_JS} `,
        "firebase.js": MAPS_JS,
        "../bad.js": "1",
      });
    const lists = [
      [],
      [{ ruleId: "github-token", fileHash: sha256(DEPLOY_JS) }],
      [
        { ruleId: "github-token", fileHash: sha256(DEPLOY_JS) },
        { ruleId: "github-token", fileHash: sha256(`${DEPLOY_JS} `).toUpperCase() },
      ],
      [{ ruleId: "google-api-key", fileHash: sha256(MAPS_JS) }],
    ];
    const plain = await checkBundle(input());
    for (const accepted of lists) {
      const direct = await checkBundle(input(), { accepted });
      const later = withAcceptedFindings(plain, accepted);
      const key = (r: typeof direct) => ({
        ok: r.ok,
        errors: r.errors.map((e) => `${e.code} ${e.path}`).sort(),
        findings: r.findings.map((f) => `${f.rule} ${f.path}`).sort(),
        accepted: r.accepted.map((f) => `${f.rule} ${f.path}`).sort(),
      });
      expect(key(later)).toEqual(key(direct));
      // Applying a list twice, or going back to none, is the same as applying it once / never.
      expect(key(withAcceptedFindings(later, accepted))).toEqual(key(direct));
      expect(key(withAcceptedFindings(later, []))).toEqual(key(plain));
    }
    // The path-traversal entry stays refused whatever is accepted: acceptance touches secrets only.
    const all = withAcceptedFindings(plain, lists[2] ?? []);
    expect(all.ok).toBe(false);
    expect(all.errors.map((e) => e.code)).not.toContain("SECRET_DETECTED");
  });

  it("summarizes findings per rule, block rules first", async () => {
    const report = await checkBundle(
      filesInput({
        "index.html": "<p>x</p>",
        "a.js": MAPS_JS,
        "b.js": MAPS_JS,
        "deploy.js": `${DEPLOY_JS}${DEPLOY_JS}`,
      }),
    );
    expect(summarizeFindings(report.findings)).toEqual([
      { rule: "github-token", severity: "block", count: 2, files: 1 },
      { rule: "google-api-key", severity: "warn", count: 2, files: 2 },
    ]);
  });
});
