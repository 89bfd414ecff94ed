/**
 * What the local Confluence remembers across restarts of the dev stack, per Confluence site: whether
 * the app is installed there (Forge delivers `avi:forge:installed:app` once per installation, not at
 * every start) and which Marketplace license the stand-in plays. Kept as JSON in the data folder,
 * written with write-then-rename so a killed stack leaves the previous state.
 */

import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { LICENSE_STATES, type LicenseState } from "../forge/installation.ts";

export interface SiteState {
  /** Installed: the installed event was delivered and no uninstall came after it. */
  readonly installed: boolean;
  readonly license: LicenseState;
}

const DEFAULT_STATE: SiteState = { installed: false, license: "none" };

export class HostState {
  private readonly sites = new Map<string, SiteState>();
  private writing: Promise<void> = Promise.resolve();
  private readonly file: string;

  private constructor(file: string) {
    this.file = file;
  }

  static async load(file: string): Promise<HostState> {
    const state = new HostState(file);
    const text = await readFile(file, "utf8").catch(() => undefined);
    const saved = text === undefined ? {} : (JSON.parse(text) as Record<string, Partial<SiteState>>);
    for (const [site, value] of Object.entries(saved))
      state.sites.set(site, {
        installed: value.installed === true,
        license: LICENSE_STATES.includes(value.license as LicenseState)
          ? (value.license as LicenseState)
          : "none",
      });
    return state;
  }

  /** Whether the site's app was ever installed or uninstalled here (a fresh data folder: no). */
  has(site: string): boolean {
    return this.sites.has(site);
  }

  of(site: string): SiteState {
    return this.sites.get(site) ?? DEFAULT_STATE;
  }

  set(site: string, change: Partial<SiteState>): Promise<void> {
    this.sites.set(site, { ...this.of(site), ...change });
    const snapshot = JSON.stringify(Object.fromEntries(this.sites), null, 2);
    this.writing = this.writing.then(async () => {
      await mkdir(dirname(this.file), { recursive: true });
      const partial = `${this.file}.${process.pid}.tmp`;
      await writeFile(partial, snapshot);
      await rename(partial, this.file);
    });
    return this.writing;
  }
}
