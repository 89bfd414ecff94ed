/**
 * The local Confluence's content: two sites (two tenants of the control Worker — the app installed on
 * two Confluence Cloud sites), their spaces and pages, which pages hold the Mini-Sites macro, and who
 * may read them. The REST stand-in (standin.ts) answers permission checks from the same model, so
 * what the page shows and what the control Worker is told always agree.
 *
 *   acme    (the dev installation, DEV_FORGE_INSTALLATION): space ENG with a dashboard page, a page
 *           restricted to the editor, a blog post; the viewer reads, the editor edits, the admin
 *           administers, the outsider sees nothing.
 *   globex  (a second installation of the same app): space OPS, where only the outsider works.
 */

import { randomUUID } from "node:crypto";
import { FORGE_MODULE_KEYS } from "@mini-sites/core";
import { DEV_FORGE_INSTALLATION } from "../forge/fit.ts";
import type { StandInContentType } from "./standin.ts";

export interface MacroInstance {
  readonly localId: string;
  /** Which of the app's macro modules (manifest.yml): absent = the Mini-site macro. */
  readonly moduleKey?: string;
  /** What the macro's config holds (`view.submit({config})` writes it). */
  config: Record<string, unknown>;
}

export interface PageBlock {
  readonly text?: string;
  readonly macro?: MacroInstance;
}

export interface LocalPage {
  readonly id: string;
  readonly type: StandInContentType;
  readonly site: string;
  readonly spaceKey: string;
  title: string;
  status: "current" | "trashed" | "deleted";
  body: PageBlock[];
  /** Users who may read (and, with edit rights, update) it; unset = everyone the site lets in. */
  readonly restrictedTo?: readonly string[];
}

export interface LocalSite {
  readonly key: string;
  readonly name: string;
  readonly cloudId: string;
  readonly installationId: string;
  /** Sample users and what they may do on this site's unrestricted content. */
  readonly users: Readonly<Record<string, readonly ("read" | "update")[]>>;
  readonly spaces: readonly { readonly key: string; readonly name: string }[];
}

export const LOCAL_SITES: readonly LocalSite[] = [
  {
    key: "acme",
    name: "Acme (dev installation)",
    cloudId: DEV_FORGE_INSTALLATION.cloudId,
    installationId: DEV_FORGE_INSTALLATION.installationId,
    users: { viewer: ["read"], editor: ["read", "update"], admin: ["read", "update"], outsider: [] },
    spaces: [{ key: "ENG", name: "Engineering" }],
  },
  {
    key: "globex",
    name: "Globex (second tenant)",
    cloudId: "91ab0e77-0000-4000-8000-0000000c10b2",
    installationId: "91ab0e77-0000-4000-8000-00000001a5f2",
    users: { outsider: ["read", "update"], viewer: [], editor: [], admin: [] },
    spaces: [{ key: "OPS", name: "Operations" }],
  },
];

const intro = (text: string): PageBlock => ({ text });
const macro = (): PageBlock => ({ macro: { localId: randomUUID(), config: {} } });
const statusMacro = (): PageBlock => ({
  macro: { localId: randomUUID(), config: {}, moduleKey: FORGE_MODULE_KEYS.status },
});

/** The sample pages; ids are unique across sites (the REST stand-in keys content by id). */
export function samplePages(): LocalPage[] {
  return [
    {
      id: "1001",
      type: "page",
      site: "acme",
      spaceKey: "ENG",
      title: "Team dashboard",
      status: "current",
      body: [intro("Our team's live dashboard, published with Mini-Sites."), macro()],
    },
    {
      id: "1003",
      type: "page",
      site: "acme",
      spaceKey: "ENG",
      title: "Prototype review",
      status: "current",
      body: [intro("A clickable prototype for this week's review."), macro()],
    },
    {
      id: "1005",
      type: "page",
      site: "acme",
      spaceKey: "ENG",
      title: "Service status",
      status: "current",
      body: [intro("The services our dashboards are about, checked by Mini-Sites monitors."), statusMacro()],
    },
    {
      id: "3001",
      type: "page",
      site: "acme",
      spaceKey: "ENG",
      title: "Restricted: incident review",
      status: "current",
      body: [intro("Only the editor may read this page."), macro()],
      restrictedTo: ["editor"],
    },
    {
      id: "2001",
      type: "blogpost",
      site: "acme",
      spaceKey: "ENG",
      title: "Release notes",
      status: "current",
      body: [intro("What shipped this month."), macro()],
    },
    {
      id: "5001",
      type: "page",
      site: "globex",
      spaceKey: "OPS",
      title: "Globex status board",
      status: "current",
      body: [intro("Another company's Confluence, with the same app installed."), macro()],
    },
  ];
}
