/**
 * A tenant's display name and support link are shown to its admins as text and as a link: no input
 * can smuggle a control or text-direction character into the name, or anything but https into the link.
 */

import { describe, expect, it } from "vitest";
import { checkDisplayName, checkSupportUrl, MAX_DISPLAY_NAME_LENGTH } from "../src/branding.ts";

describe("checkDisplayName", () => {
  it("trims and accepts up to the limit in characters, not bytes", () => {
    expect(checkDisplayName("  Acme  ")).toEqual({ ok: true, value: "Acme" });
    expect(checkDisplayName("é".repeat(MAX_DISPLAY_NAME_LENGTH)).ok).toBe(true);
    expect(checkDisplayName("👩‍💻 Team").ok).toBe(true);
    expect(checkDisplayName("x".repeat(MAX_DISPLAY_NAME_LENGTH + 1)).ok).toBe(false);
  });

  it("refuses empty names, control characters, line breaks and bidi overrides", () => {
    for (const name of [
      "",
      "   ",
      "a\u0000b",
      "a\nb",
      "a\u0085b",
      "a\u2028b",
      "Acme\u202enimda",
      "a\u2066b",
      "a\u200fb",
    ])
      expect(checkDisplayName(name).ok, JSON.stringify(name)).toBe(false);
  });
});

describe("checkSupportUrl", () => {
  it("accepts https and answers the serialized URL", () => {
    expect(checkSupportUrl("https://Help.Example.com/a b")).toEqual({
      ok: true,
      value: "https://help.example.com/a%20b",
    });
  });

  it("refuses other schemes, credentials and plain http except to loopback when allowed", () => {
    for (const url of [
      "javascript:alert(1)",
      "data:text/html,x",
      "ftp://x.example/",
      "//x.example/",
      "https://u:p@x.example/",
    ])
      expect(checkSupportUrl(url).ok, url).toBe(false);
    expect(checkSupportUrl("http://x.example/", { allowLoopbackHttp: true }).ok).toBe(false);
    expect(checkSupportUrl("http://localhost:8080/help").ok).toBe(false);
    expect(checkSupportUrl("http://localhost:8080/help", { allowLoopbackHttp: true }).ok).toBe(true);
  });

  it("refuses links longer than 2048 characters, also once serialized", () => {
    expect(checkSupportUrl(`https://x.example/${"a".repeat(2040)}`).ok).toBe(false);
    expect(checkSupportUrl(`https://x.example/${" a".repeat(700)}`).ok).toBe(false);
  });
});
