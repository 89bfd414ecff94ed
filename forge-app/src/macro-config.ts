/**
 * The macro's stored configuration: what the publisher saves with `view.submit({ config })` after a
 * publish. It names the site only for display (the export card, the editor's summary) — the control
 * Worker resolves the macro's site from its own binding and the FIT's signed claims, never from this,
 * because any page editor can write a macro's config.
 */

export interface MacroConfig {
  /** The bound site's id when it was saved (display only). */
  readonly siteId?: string;
  /** What the author calls the mini-site: the export card's title. */
  readonly title?: string;
  /** One or two sentences shown where the live site cannot be (export, print). */
  readonly description?: string;
}

const MAX_TITLE = 200;
const MAX_DESCRIPTION = 1000;

/** Reads a config whatever was stored (old versions, hand edits): only strings, bounded. */
export function readMacroConfig(value: unknown): MacroConfig {
  const raw = typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
  const text = (key: string, max: number) => {
    const v = raw[key];
    return typeof v === "string" && v.trim() !== "" ? v.trim().slice(0, max) : undefined;
  };
  const siteId = text("siteId", 64);
  const title = text("title", MAX_TITLE);
  const description = text("description", MAX_DESCRIPTION);
  return {
    ...(siteId === undefined ? {} : { siteId }),
    ...(title === undefined ? {} : { title }),
    ...(description === undefined ? {} : { description }),
  };
}
