/**
 * Printing and export (A31): Confluence renders a page for PDF/Word export or print without running
 * Custom UI, so a live mini-site would leave a blank frame. The macro's `adfExport` function
 * (manifest.yml) answers instead with a static card in Atlassian Document Format: the site's title,
 * a description (no screenshot: taking one would need the site's bytes, which only a viewer's grant
 * may reach), and a link to the page where the live site is.
 *
 * What Forge passes: the macro's config and context (the export type — pdf, word or other — and the
 * page). Both spellings seen in Forge apps are read (`extensionPayload.config` and
 * `context.extension.config`), so the card keeps its title whichever the platform sends.
 */

import { readMacroConfig } from "./macro-config.ts";

export interface AdfNode {
  readonly type: string;
  readonly attrs?: Record<string, unknown>;
  readonly content?: readonly AdfNode[];
  readonly text?: string;
  readonly marks?: readonly { readonly type: string; readonly attrs?: Record<string, unknown> }[];
}

export interface AdfDoc {
  readonly type: "doc";
  readonly version: 1;
  readonly content: readonly AdfNode[];
}

export interface ExportPayload {
  readonly exportType?: string;
  readonly extensionPayload?: { readonly config?: unknown; readonly exportType?: string };
  readonly context?: {
    readonly siteUrl?: string;
    readonly extension?: {
      readonly config?: unknown;
      readonly content?: { readonly id?: unknown; readonly type?: unknown };
    };
  };
}

export const DEFAULT_EXPORT_TITLE = "Mini-site";
export const EXPORT_EXPLANATION =
  "An interactive mini-site is shown here in Confluence. Open the page in Confluence to use it.";

const text = (value: string, marks?: AdfNode["marks"]): AdfNode => ({
  type: "text",
  text: value,
  ...(marks === undefined ? {} : { marks }),
});
const paragraph = (...content: AdfNode[]): AdfNode => ({ type: "paragraph", content });

/** The page's own address, when the context names an https Confluence site and a numeric content id. */
export function pageUrlOf(payload: ExportPayload): string | undefined {
  const site = payload.context?.siteUrl;
  const id = payload.context?.extension?.content?.id;
  if (typeof site !== "string" || (typeof id !== "string" && typeof id !== "number")) return undefined;
  if (!/^[0-9]{1,20}$/.test(String(id))) return undefined;
  const base = URL.parse(site);
  if (base === null || (base.protocol !== "https:" && base.protocol !== "http:")) return undefined;
  return new URL(`/wiki/pages/viewpage.action?pageId=${String(id)}`, base.origin).href;
}

export function exportAdf(payload: ExportPayload): AdfDoc {
  const config = readMacroConfig(payload.extensionPayload?.config ?? payload.context?.extension?.config);
  const title = config.title ?? DEFAULT_EXPORT_TITLE;
  const link = pageUrlOf(payload);
  const body: AdfNode[] = [paragraph(text(title, [{ type: "strong" }]))];
  if (config.description !== undefined) body.push(paragraph(text(config.description)));
  body.push(paragraph(text(EXPORT_EXPLANATION)));
  if (link !== undefined) body.push(paragraph(text(link, [{ type: "link", attrs: { href: link } }])));
  return {
    type: "doc",
    version: 1,
    content: [{ type: "panel", attrs: { panelType: "info" }, content: body }],
  };
}

/** Function `export-macro` (the macro's `adfExport`). */
export async function exportMacro(payload: ExportPayload): Promise<AdfDoc> {
  return exportAdf(payload);
}
