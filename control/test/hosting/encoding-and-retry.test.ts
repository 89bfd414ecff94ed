import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { encodeBase64, encodeBase64Chunked } from "../../src/hosting/base64.ts";
import { backoffDelayMs, MAX_DELAY_MS, parseRetryAfterMs } from "../../src/hosting/retry.ts";

describe("base64 for asset parts", () => {
  it.each([0, 1, 2, 3, 0x8000 - 1, 0x8000, 0x8000 + 1, 3 * 1024 * 1024 + 7])(
    "encodes %i bytes exactly as Node's Buffer does",
    (size) => {
      const bytes = new Uint8Array(randomBytes(size));
      const expected = Buffer.from(bytes).toString("base64");
      expect(encodeBase64Chunked(bytes)).toBe(expected);
      expect(encodeBase64(bytes)).toBe(expected);
    },
  );

  it("encodes a subarray view, not its whole buffer", () => {
    const bytes = new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4);
    expect(encodeBase64Chunked(bytes)).toBe("AQID");
  });
});

describe("retry timing", () => {
  it("backs off exponentially, with jitter, never beyond the cap", () => {
    expect(backoffDelayMs(0, () => 0)).toBe(500);
    expect(backoffDelayMs(0, () => 0.999)).toBeLessThan(1_000);
    expect(backoffDelayMs(2, () => 0)).toBe(2_000);
    expect(backoffDelayMs(20, () => 0.999)).toBeLessThanOrEqual(MAX_DELAY_MS);
  });

  it("reads Retry-After as seconds or as an HTTP date, and ignores garbage", () => {
    const now = Date.parse("2026-11-22T10:00:00Z");
    expect(parseRetryAfterMs("1", now)).toBe(1_000);
    expect(parseRetryAfterMs(" 300 ", now)).toBe(300_000);
    expect(parseRetryAfterMs("Sun, 22 Nov 2026 10:00:05 GMT", now)).toBe(5_000);
    expect(parseRetryAfterMs("Sun, 22 Nov 2026 09:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfterMs("soon", now)).toBeUndefined();
    expect(parseRetryAfterMs("-1", now)).toBeUndefined();
    expect(parseRetryAfterMs(null, now)).toBeUndefined();
  });
});
