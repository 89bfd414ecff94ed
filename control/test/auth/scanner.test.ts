import { scanText } from "@mini-sites/core";
import { describe, expect, it } from "vitest";
import { createApiToken } from "../../src/auth/api-tokens.ts";

describe("our own API tokens in a bundle", () => {
  it("are refused by the publish pipeline's secret scan, redacted", async () => {
    for (let i = 0; i < 20; i++) {
      const { token } = await createApiToken({ tenantId: "abcde", scopes: ["sites:write"], label: "ci" });
      const findings = scanText(
        "deploy.js",
        `fetch("/v1/sites", { headers: { authorization: "Bearer ${token}" } });`,
      );
      expect(findings.map((f) => f.rule)).toContain("mini-sites-api-token");
      expect(JSON.stringify(findings)).not.toContain(token.slice(8));
    }
  });
});
