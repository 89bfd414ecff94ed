/**
 * Tenant CSP sources are pasted into a response header: only plain https/wss host sources pass, and no
 * input — however it is spelled — can end the directive, widen it to everything, or add a keyword.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  cspListProblems,
  cspSourceProblem,
  decodeTenantAllowLists,
  encodeTenantAllowLists,
  MAX_CSP_SOURCES,
  MAX_TENANT_ALLOW_LISTS_LENGTH,
} from "../src/csp.ts";

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

describe("the stored allow-lists (control writes, dispatch reads)", () => {
  it("round-trips what the control Worker accepts", () => {
    const lists = { cdn: ["https://cdn.example.com"], connect: ["wss://live.example.com"] };
    expect(decodeTenantAllowLists(encodeTenantAllowLists(lists))).toEqual({ lists, dropped: 0 });
  });

  it("refuses to encode a source the reader would drop", () => {
    expect(() => encodeTenantAllowLists({ cdn: ["*"], connect: [] })).toThrow(RangeError);
  });

  it("drops each hostile entry and keeps the rest", () => {
    const stored = JSON.stringify({
      v: 1,
      cdn: [
        "https://ok.example.com",
        "https://a.com; script-src *",
        "*",
        "'unsafe-hashes'",
        "http://x.example.com",
        7,
      ],
      connect: ["https://api.example.com", "data:", "wss://live.example.com", "https://api.example.com"],
    });
    expect(decodeTenantAllowLists(stored)).toEqual({
      lists: {
        cdn: ["https://ok.example.com"],
        connect: ["https://api.example.com", "wss://live.example.com"],
      },
      dropped: 6,
    });
  });

  it("drops a list longer than the control Worker ever writes, whole", () => {
    const long = Array.from({ length: MAX_CSP_SOURCES + 1 }, (_, i) => `https://c${i}.example.com`);
    const decoded = decodeTenantAllowLists(
      JSON.stringify({ v: 1, cdn: long, connect: ["https://a.example.com"] }),
    );
    expect(decoded.lists).toEqual({ cdn: [], connect: ["https://a.example.com"] });
  });

  it("gives no lists for a value that is oversized, not JSON, not an object, or of another format", () => {
    for (const text of [
      " ".repeat(MAX_TENANT_ALLOW_LISTS_LENGTH + 1),
      "not json",
      "[]",
      "null",
      JSON.stringify({ v: 2, cdn: ["https://cdn.example.com"], connect: [] }),
      JSON.stringify({ cdn: ["https://cdn.example.com"], connect: [] }),
    ])
      expect(decodeTenantAllowLists(text).lists, text.slice(0, 40)).toBeUndefined();
  });

  it("never lets a decoded source hold a separator, a quote or whitespace (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 60 }), { maxLength: 40 }), (entries) => {
        const { lists } = decodeTenantAllowLists(JSON.stringify({ v: 1, cdn: entries, connect: entries }));
        for (const source of [...(lists?.cdn ?? []), ...(lists?.connect ?? [])])
          expect(source).toMatch(/^(https|wss):\/\/[^\s;,'"]+$/);
      }),
    );
  });
});
