import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatStatusRange, parseStatusRange } from "../../src/monitors/status-range.ts";

describe("parseStatusRange", () => {
  it("reads one status or an inclusive range, as the control Worker's schema accepts them", () => {
    expect(parseStatusRange("204")).toEqual({ min: 204, max: 204 });
    expect(parseStatusRange(" 200-399 ")).toEqual({ min: 200, max: 399 });
    expect(parseStatusRange("200 - 299")).toEqual({ min: 200, max: 299 });
  });

  it("refuses what is not a status between 100 and 599, or a range running backwards", () => {
    for (const text of [
      "",
      "2xx",
      "99",
      "600",
      "200-",
      "-200",
      "300-200",
      "200-399-500",
      "0200",
      "20 0",
      "1e2",
    ])
      expect(parseStatusRange(text), text).toBeUndefined();
  });

  it("round-trips every valid range through its display form", () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), fc.integer({ min: 100, max: 599 }), (a, b) => {
        const range = { min: Math.min(a, b), max: Math.max(a, b) };
        expect(parseStatusRange(formatStatusRange(range))).toEqual(range);
      }),
    );
  });
});
