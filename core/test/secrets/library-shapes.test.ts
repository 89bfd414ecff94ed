/**
 * The shapes in real libraries and documentation that look like secrets and are not, and the real
 * credentials that hide in the same places (rules/index.ts states the policy). The files in
 * fixtures/library-shapes are committed excerpts of what a scanner meets in static sites:
 *
 * - angular.js — angular@1.8.3 (MIT): `$http` docs with `Authorization = 'Basic YmVlcDpib29w'`.
 * - mode-markdown.js, mode-actionscript.min.js — ace-builds@1.45.2 (BSD-3-Clause): grammar rules
 *   assigning `token: "markup.heading.1"`, `'support.function.actionscript.2'`, unminified and minified.
 * - nsis.js, rst.js — codemirror@5.65.21 (MIT): `token: "variable-2"` and `token = 'variable-2'`.
 * - id_token.d.ts — @firebase/auth (Apache-2.0): `VerifyPassword = "identitytoolkit#…Response"`.
 * - emoji.js — docsify@5.0.0 (MIT): `"compass": "unicode/1f9ed.png?v8"`, `"secret": …`.
 * - tex-chtml.min.js — mathjax@4.1.3 (Apache-2.0): `"Bad token: "+…` inside minified code.
 * - ol.js — ol@10.11.0 (BSD-2-Clause): `"?api_key="+t.apiKey` building a tile URL.
 * - firebase-database.js, firebase-data-connect.js — firebase@13.2.0 (Apache-2.0):
 *   `"Failed to get token: "+e`, `this._authToken=null`; firebase-auth.js.map — its source map's
 *   `SIGN_IN_WITH_PASSWORD = '/v1/accounts:signInWithPassword'` endpoints.
 * - index.html, config.example.js, docs/setup.md — written for this test: SRI hashes, UUIDs,
 *   data URIs, a CSP nonce, commit hashes, placeholder and dictionary-word credentials
 *   (`user:pass`, `beep:boop`, `xxxx`, `YOUR_API_KEY`), `<pre>` and Markdown examples.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { scanBytes, scanText } from "../../src/secrets/index.ts";
import { secretFixtures } from "../fixtures/secret-fixtures.ts";

const DIR = join(import.meta.dirname, "../fixtures/library-shapes");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}

const SHAPES = files(DIR).map((file) => [relative(DIR, file), readFileSync(file)] as const);

/** A generated value for each family, from the recall fixtures (never committed in clear). */
function secretOf(rule: string): string {
  const fixture = secretFixtures().find((f) => f.expectRule === rule);
  if (fixture === undefined) throw new Error(`no fixture for ${rule}`);
  return fixture.secret;
}

function basic(user: string, password: string): string {
  return btoa(`${user}:${password}`);
}

/** Random-looking, as a password manager makes them (3 classes, no words). */
const GENERATED_PASSWORD = "k7#Qv2LmX9wzRt4p";

describe("shapes from real libraries and documentation", () => {
  it("the committed sample has every kind of shape", () => {
    expect(SHAPES.map(([path]) => path).sort()).toEqual([
      "angular.js",
      "config.example.js",
      "docs/setup.md",
      "emoji.js",
      "firebase-auth.js.map",
      "firebase-data-connect.js",
      "firebase-database.js",
      "id_token.d.ts",
      "index.html",
      "mode-actionscript.min.js",
      "mode-markdown.js",
      "nsis.js",
      "ol.js",
      "rst.js",
      "tex-chtml.min.js",
    ]);
  });

  it.each(SHAPES)("%s gives no finding", (path, bytes) => {
    expect(scanBytes(path, bytes)).toEqual([]);
  });
});

describe("a real credential in the same places is still found", () => {
  const angular = readFileSync(join(DIR, "angular.js"), "utf8");

  it("Basic credentials with a generated password in a JSDoc example", () => {
    const text = angular.replace("YmVlcDpib29w", basic("deploy", GENERATED_PASSWORD));
    expect(text).not.toBe(angular);
    expect(scanText("angular.js", text).map((f) => f.rule)).toEqual(["http-basic-auth"]);
  });

  it("a provider token in a line comment, a block comment, Markdown and an HTML comment", () => {
    const token = secretOf("github-token");
    for (const [path, text] of [
      ["app.js", `// temporary: const token = "${token}";\nrun();\n`],
      ["app.js", `/*\n * old key: ${token}\n */\nrun();\n`],
      ["docs/setup.md", `Use this token for now: \`${token}\`\n`],
      ["index.html", `<!-- deploy token ${token} -->\n<p>hi</p>\n`],
    ] as const) {
      expect(
        scanText(path, text).map((f) => f.rule),
        `${path}: ${text.slice(0, 20)}`,
      ).toEqual(["github-token"]);
    }
  });

  it("a generated password assigned in a comment, a database URL in Markdown", () => {
    expect(scanText("app.js", `// password = "${GENERATED_PASSWORD}"\n`).map((f) => f.rule)).toEqual([
      "generic-secret-assignment",
    ]);
    const url = `postgres://app:${GENERATED_PASSWORD.replace("#", "")}@db.internal.acme.io:5432/app`;
    expect(scanText("docs/setup.md", `DATABASE_URL=${url}\n`).map((f) => f.rule)).toEqual(["database-url"]);
  });

  it("a word-like password is an example in a comment but reported in code when it has digits", () => {
    const comment = `/**\n * $http.defaults.headers.common.Authorization = 'Basic ${basic("admin", "Hunter2024")}';\n */`;
    expect(scanText("app.js", comment)).toEqual([]);
    const code = `$http.defaults.headers.common.Authorization = 'Basic ${basic("admin", "Hunter2024")}';`;
    expect(scanText("app.js", code).map((f) => f.rule)).toEqual(["http-basic-auth"]);
  });

  it("dictionary-word credentials are examples everywhere", () => {
    for (const text of [
      `fetch(u,{headers:{Authorization:"Basic ${basic("beep", "boop")}"}})`,
      `fetch(u,{headers:{Authorization:"Basic ${basic("Aladdin", "open sesame")}"}})`,
      `const api = "https://user:pass@api.example.com/";`,
      `const db = "mysql://reader:secret@db.example.com/app";`,
    ]) {
      expect(scanText("app.js", text), text).toEqual([]);
    }
  });
});

describe("grammar token names and labels are not secrets; random values under the same names are", () => {
  it.each([
    `{token:"support.function.dom",regex:"\\\\b(?:alert|confirm)\\\\b"}`,
    `{token: "markup.heading.2", regex: "^\\\\-+(?=\\\\s*$)"}`,
    `this.$rules={start:[{token:"constant.language.actionscript.2",regex:"x"}]}`,
    `{regex: /\\$\\{[\\!\\w\\.:-]+}/, token: "variable-2"}`,
    `throw Error("Bad token: "+Ot(t.a));if("("==wt(t.a,1))`,
    `s=t.apiKey?"?api_key="+t.apiKey:""`,
    `const headers={OP_SECRET:"MF-Op-Secret"}`,
    `VerifyPassword = "identitytoolkit#VerifyPasswordResponse"`,
  ])("%s", (text) => {
    expect(scanText("grammar.js", text)).toEqual([]);
  });

  it("the same names with a generated value", () => {
    for (const text of [
      `{token:"${GENERATED_PASSWORD}"}`,
      `const OP_SECRET = "x9Qm2vLk7RtZp4Wn8sYc";`,
      `fetch("https://api.example.com/v1/data?api_key=k3j4h5g6f7d8s9a0q1w2e3r4")`,
    ]) {
      expect(
        scanText("app.js", text).map((f) => f.rule),
        text,
      ).toEqual(["generic-secret-assignment"]);
    }
  });
});

describe("severity", () => {
  it("public browser keys and key identifiers warn; credentials block", () => {
    const severities = new Map<string, string>();
    for (const f of secretFixtures()) {
      for (const finding of scanText(f.path, f.text)) severities.set(finding.rule, finding.severity);
    }
    expect(severities.get("google-api-key")).toBe("warn");
    expect(severities.get("aws-access-key-id")).toBe("warn");
    expect(severities.get("twilio-api-key-sid")).toBe("warn");
    expect(severities.get("alibaba-access-key-id")).toBe("warn");
    for (const rule of ["aws-secret-access-key", "github-token", "stripe-secret-key", "private-key", "jwt"]) {
      expect(severities.get(rule), rule).toBe("block");
    }
  });

  it("a Twilio API key SID alone, assigned to a key-like name, is reported as a warning", () => {
    const sid = secretOf("twilio-api-key-sid");
    expect(scanText("voice.js", `const TWILIO_API_KEY = "${sid}";`)).toEqual([
      {
        rule: "twilio-api-key-sid",
        severity: "warn",
        path: "voice.js",
        line: 1,
        column: 25,
        match: `${sid.slice(0, 4)}…(34 chars)`,
      },
    ]);
  });

  it("a Firebase web config's apiKey warns and does not also block as a generic assignment", () => {
    const key = secretOf("google-api-key");
    const findings = scanText(
      "firebase.js",
      `const firebaseConfig = { apiKey: "${key}", projectId: "demo" };`,
    );
    expect(findings.map((f) => [f.rule, f.severity])).toEqual([["google-api-key", "warn"]]);
  });
});

describe("generated keys under credential names are found whatever their alphabet", () => {
  // Seeded, so the same values every run; the rates are properties of the rules, not of luck.
  let seed = 0x5eed;
  const random = () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const draw = (alphabet: string, length: number) =>
    Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join("");
  const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const LOWER = "abcdefghijklmnopqrstuvwxyz";
  const DIGITS = "0123456789";

  it.each([
    ["base62", UPPER + LOWER + DIGITS, [20, 24, 32, 40, 64], 0.005],
    ["base64url", `${UPPER}${LOWER}${DIGITS}-_`, [20, 32, 43, 64], 0.005],
    ["base64", `${UPPER}${LOWER}${DIGITS}+/`, [20, 40, 44, 88], 0.005],
    ["hex", "0123456789abcdef", [32, 40, 64], 0.005],
    ["base36", LOWER + DIGITS, [24, 32, 40], 0.02],
    ["password", `${UPPER}${LOWER}${DIGITS}!@#$%^&*`, [12, 16, 20], 0.02],
  ] as const)(
    '%s keys in `apiKey: "…"` are missed at most at the stated rate',
    (_, alphabet, lengths, rate) => {
      let missed = 0;
      let total = 0;
      for (const length of lengths) {
        for (let i = 0; i < 300; i++) {
          const key = draw(alphabet, length);
          total++;
          if (scanText("config.js", `export const config = { apiKey: "${key}" };`).length === 0) missed++;
        }
      }
      expect(missed / total).toBeLessThanOrEqual(rate);
    },
  );
});
