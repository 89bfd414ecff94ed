import { describe, expect, it } from "vitest";
import { looksBinary, redact, SECRET_RULES, scanBytes, scanText } from "../../src/secrets/index.ts";
import { isRealJwt } from "../../src/secrets/validators.ts";
import { secretFixtures } from "../fixtures/secret-fixtures.ts";

const github = secretFixtures().find((f) => f.expectRule === "github-token" && f.path === "deploy.js");
const token = github?.secret ?? "";

function b64url(value: string | Uint8Array): string {
  const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
  return Buffer.from(bytes).toString("base64url");
}

describe("scanBytes", () => {
  it("reports 1-based line and column in characters, after multi-byte text", () => {
    const text = `// première ligne\nconst é = "ü"; const t = "${token}";\n`;
    const [finding] = scanBytes("a.js", new TextEncoder().encode(text));
    const secondLine = text.split("\n")[1] ?? "";
    expect(finding).toEqual({
      rule: "github-token",
      severity: "block",
      path: "a.js",
      line: 2,
      column: secondLine.indexOf("ghp_") + 1,
      match: `ghp_…(${token.length} chars)`,
    });
  });

  it("finds every secret of a file, in order", () => {
    const text = `a="${token}"\n\n\nb="${token.replace("ghp_", "gho_")}"`;
    expect(scanText("x.js", text).map((f) => [f.rule, f.line, f.column])).toEqual([
      ["github-token", 1, 4],
      ["github-token", 4, 4],
    ]);
  });

  it("does not report a token glued to a longer identifier", () => {
    expect(scanText("x.js", `const x = "x${token}";`)).toEqual([]);
    // npm tokens have a fixed length: one more character makes it something else.
    const npm = `npm_${token.slice(4)}`;
    expect(scanText("x.js", `const x = "${npm}";`).map((f) => f.rule)).toEqual(["npm-token"]);
    expect(scanText("x.js", `const x = "${npm}x";`)).toEqual([]);
  });

  it("skips binary files by content, whatever their name", () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    const withSecret = new Uint8Array([...png, ...new TextEncoder().encode(token)]);
    expect(looksBinary(withSecret)).toBe(true);
    expect(scanBytes("logo.png", withSecret)).toEqual([]);
    const textNamedPng = new TextEncoder().encode(`token=${token}`);
    expect(looksBinary(textNamedPng)).toBe(false);
    expect(scanBytes("logo.png", textNamedPng).map((f) => f.rule)).toEqual(["github-token"]);
  });

  it("returns nothing for empty and tiny files", () => {
    expect(scanBytes("a", new Uint8Array())).toEqual([]);
    expect(scanText("a", "gh")).toEqual([]);
  });
});

describe("rules", () => {
  it("have unique ids, a family, a description and keywords of at least 3 characters", () => {
    const ids = SECRET_RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of SECRET_RULES) {
      expect(r.family).not.toBe("");
      expect(r.description).not.toBe("");
      const keywords = [...r.keywords, ...(r.keywordsIgnoreCase ?? [])];
      expect(keywords.length).toBeGreaterThan(0);
      for (const k of keywords) expect(k.length).toBeGreaterThanOrEqual(3);
    }
  });

  it("keep the prefilter's case-insensitive keywords case-insensitive", () => {
    const secret = "Zq8vN2kP4xR7tW1mY5bC";
    for (const name of ["password", "PASSWORD", "Password", "dbPassword", "DB_PASSWORD"]) {
      expect(scanText("x.js", `const ${name} = "${secret}";`).map((f) => f.rule)).toEqual([
        "generic-secret-assignment",
      ]);
    }
  });

  it("do not read a name that ends inside a string as an assignment", () => {
    expect(scanText("x.js", `x("label",{htmlFor:"pw"},"Password:"),t?O().createElement("code")`)).toEqual([]);
  });
});

describe("what counts as a real JWT", () => {
  const payload = b64url(JSON.stringify({ sub: "42", iat: 1 }));
  const sig = (n: number) => b64url(new Uint8Array(n).map((_, i) => (i * 37 + 11) & 0xff));
  const header = (alg: string) => b64url(JSON.stringify({ alg, typ: "JWT" }));

  it("accepts signatures of the length their alg produces", () => {
    expect(isRealJwt(`${header("HS256")}.${payload}.${sig(32)}`)).toBe(true);
    expect(isRealJwt(`${header("RS256")}.${payload}.${sig(256)}`)).toBe(true);
    expect(isRealJwt(`${header("ES256")}.${payload}.${sig(64)}`)).toBe(true);
  });

  it("rejects alg none, unknown algs, wrong lengths and non-JSON parts", () => {
    expect(isRealJwt(`${header("none")}.${payload}.${sig(32)}`)).toBe(false);
    expect(isRealJwt(`${header("XX999")}.${payload}.${sig(32)}`)).toBe(false);
    expect(isRealJwt(`${header("HS256")}.${payload}.${sig(31)}`)).toBe(false);
    expect(isRealJwt(`${header("ES256")}.${payload}.${sig(256)}`)).toBe(false);
    expect(isRealJwt(`${header("HS256")}.${b64url("not json")}.${sig(32)}`)).toBe(false);
  });
});

describe("redact", () => {
  it("shows at most 4 characters, and at most a quarter of short secrets", () => {
    expect(redact("AKIAABCDEFGHIJKLMNOP")).toBe("AKIA…(20 chars)");
    expect(redact("hunter2pass")).toBe("hu…(11 chars)");
    expect(redact("abc")).toBe("…(3 chars)");
  });
});

describe("tokens whose random body happens to spell a placeholder word", () => {
  // Regression: `ms_…xxxx…` was taken for a placeholder and missed (~1 in 600 of our own tokens).
  it.each(["xxxx", "your", "dummy", "insert"])("still finds an ms_ token containing %s", (word) => {
    const body = `${word}ibledmys7navedvdxggiurwr5he75yw4bpgndrcscvx3wqabcdefgh`.slice(0, 52);
    const findings = scanText("deploy.js", `const t = "ms_${body}";`);
    expect(findings.map((f) => f.rule)).toEqual(["mini-sites-api-token"]);
  });

  it("still treats a low-entropy ms_ body as an example", () => {
    expect(scanText("docs.js", `const t = "ms_${"a".repeat(52)}";`)).toEqual([]);
  });
});
