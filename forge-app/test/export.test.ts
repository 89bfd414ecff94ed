/**
 * Printing and export: the macro's `adfExport` function (manifest.yml) answers Confluence's PDF/Word
 * export and print with a static card in Atlassian Document Format, because no Custom UI runs there.
 * The card is checked node by node, and against the ADF JSON schema Atlassian publishes
 * (@atlaskit/adf-schema, the version @forge/bridge pins), so Confluence will render it.
 */

import { createRequire } from "node:module";
import Ajv from "ajv";
import { describe, expect, it } from "vitest";
import { DEFAULT_EXPORT_TITLE, EXPORT_EXPLANATION, exportAdf, exportMacro } from "../src/export.ts";

const require = createRequire(import.meta.url);
const { $schema: _draft04, ...adfSchema } =
  require("@atlaskit/adf-schema/dist/json-schema/v1/full.json") as Record<string, unknown>;
// The schema is draft-04 in form; ajv 8 reads it once the draft marker is gone (no draft-04-only keyword is used).
const validAdf = new Ajv({ strict: false, allErrors: true }).compile(adfSchema);

const PAGE = {
  siteUrl: "https://acme.atlassian.net",
  extension: {
    content: { id: "1001", type: "page" },
    config: { title: "Team dashboard", description: "Open incidents by service, refreshed every minute." },
  },
};

describe("the macro's export card (adfExport)", () => {
  it("shows the title, the description, why it is static, and a link to the live page", async () => {
    const adf = await exportMacro({ exportType: "pdf", context: PAGE });
    const link = "https://acme.atlassian.net/wiki/pages/viewpage.action?pageId=1001";
    expect(adf).toEqual({
      type: "doc",
      version: 1,
      content: [
        {
          type: "panel",
          attrs: { panelType: "info" },
          content: [
            {
              type: "paragraph",
              content: [{ type: "text", text: "Team dashboard", marks: [{ type: "strong" }] }],
            },
            {
              type: "paragraph",
              content: [{ type: "text", text: "Open incidents by service, refreshed every minute." }],
            },
            { type: "paragraph", content: [{ type: "text", text: EXPORT_EXPLANATION }] },
            {
              type: "paragraph",
              content: [{ type: "text", text: link, marks: [{ type: "link", attrs: { href: link } }] }],
            },
          ],
        },
      ],
    });
    expect(validAdf(adf), JSON.stringify(validAdf.errors)).toBe(true);
  });

  it("reads the config where either payload shape puts it, and falls back to a plain title", () => {
    const fromPayload = exportAdf({ extensionPayload: { config: { title: "From payload" } } });
    expect(JSON.stringify(fromPayload)).toContain("From payload");
    const bare = exportAdf({});
    expect(bare.content[0]?.content?.[0]?.content?.[0]?.text).toBe(DEFAULT_EXPORT_TITLE);
    expect(validAdf(bare), JSON.stringify(validAdf.errors)).toBe(true);
  });

  it("links only to an http(s) Confluence page with a numeric id, and keeps stored text bounded", () => {
    for (const context of [
      { siteUrl: "javascript:alert(1)", extension: { content: { id: "1001" } } },
      { siteUrl: "https://acme.atlassian.net", extension: { content: { id: "../../admin" } } },
      { extension: { content: { id: "1001" } } },
    ]) {
      expect(JSON.stringify(exportAdf({ context })), JSON.stringify(context)).not.toContain('"link"');
    }
    const long = exportAdf({
      context: { extension: { config: { title: "x".repeat(5000), description: 42 } } },
    });
    expect(long.content[0]?.content?.[0]?.content?.[0]?.text).toHaveLength(200);
    expect(long.content[0]?.content).toHaveLength(2);
    expect(validAdf(long), JSON.stringify(validAdf.errors)).toBe(true);
  });

  it("is a card the schema check can refuse (the check is not vacuous)", () => {
    const broken = {
      type: "doc",
      version: 1,
      content: [{ type: "panel", attrs: { panelType: "nope" }, content: [] }],
    };
    expect(validAdf(broken)).toBe(false);
  });
});
