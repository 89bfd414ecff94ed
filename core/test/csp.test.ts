/**
 * Tenant CSP sources are pasted into a response header: only plain https/wss host sources pass, and no
 * input — however it is spelled — can end the directive, widen it to everything, or add a keyword.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cspListProblems, cspSourceProblem, MAX_CSP_SOURCES } from "../src/csp.ts";

describe("cspSourceProblem", () => {
  it("accepts plain https hosts, wildcard subdomains, ports and paths; wss only for network calls", () => {
    for (const source of [
      "https://cdn.example.com",
      "https://*.example.com",
      "https://cdn.example.com:8443",
      "https://cdn.example.com/libs/",
      "https://fonts.googleapis.com",
    ])
      expect(cspSourceProblem(source, "cdn"), source).toBeUndefined();
    expect(cspSourceProblem("wss://live.example.com", "connect")).toBeUndefined();
    expect(cspSourceProblem("wss://live.example.com", "cdn")).toMatch(/network list/);
  });

  it("refuses what would widen or break the policy", () => {
    for (const source of [
      "*",
      "https:",
      "https://*",
      "https://*.com",
      "'unsafe-eval'",
      "'self'",
      "data:",
      "http://cdn.example.com",
      "https://cdn.example.com; script-src *",
      "https://a.example.com https://b.example.com",
      "https://cdn.example.com,https://x.example.com",
      "https://CDN.example.com",
      "https://[::1]",
      "https://user@cdn.example.com",
      "",
      `https://${"a".repeat(250)}.com`,
    ])
      expect(cspSourceProblem(source, "cdn"), source).toBeDefined();
  });

  it("never accepts a source holding a separator, a quote or whitespace (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 80 }),
        fc.constantFrom(";", ",", " ", "'", '"', "\n", "\t", "\\"),
        (s, bad) => {
          const source = `https://cdn.example.com/${s}${bad}`;
          expect(cspSourceProblem(source, "cdn")).toBeDefined();
        },
      ),
    );
  });

  it("limits the length of a list", () => {
    const list = Array.from({ length: MAX_CSP_SOURCES + 1 }, (_, i) => `https://c${i}.example.com`);
    expect(cspListProblems(list, "cdn")).toHaveLength(1);
    expect(cspListProblems(list.slice(1), "cdn")).toEqual([]);
  });
});
