/**
 * Starts the local Confluence with the Forge host (DESIGN §7): builds the app's Custom UI when its
 * sources changed, reads the manifest with this stack's URLs as its environment variables (as
 * `forge variables set` would), loads the app's Forge functions, serves the built resources from the
 * local Custom UI CDN, and opens the Confluence pages that host them.
 */

import { buildCustomUi } from "../../../forge-app/build.mts";
import { loadManifest } from "../forge/app.ts";
import { startCustomUiCdn } from "../forge/cdn.ts";
import { ForgeFunctions } from "../forge/functions.ts";
import type { FitSigner } from "../forge/signer.ts";
import { startLocalConfluence } from "./host.ts";
import type { ConfluenceStandIn } from "./standin.ts";

/** This build has the local Confluence; the packed CLI replaces this module with one that has not (cli/build.ts). */
export const LOCAL_CONFLUENCE_INCLUDED: boolean = true;

export interface LocalConfluenceStackOptions {
  readonly dataDir: string;
  readonly signer: FitSigner;
  readonly appId: string;
  readonly confluence: ConfluenceStandIn;
  readonly controlUrl: string;
  /** `http://*.localhost:<port>`: where the sites' own origins are (the manifest's frames egress). */
  readonly sitesFrameOrigin: string;
  readonly cdnPort: number;
  readonly port: number;
  readonly log: (line: string) => void;
}

export async function startLocalConfluenceStack(options: LocalConfluenceStackOptions) {
  await buildCustomUi({ log: options.log });
  const manifest = await loadManifest({
    CONTROL_BASE_URL: options.controlUrl,
    SITES_FRAME_ORIGIN: options.sitesFrameOrigin,
  });
  const functions = await ForgeFunctions.load({ manifest, signer: options.signer, dataDir: options.dataDir });
  let embedders: readonly string[] = [];
  const cdn = await startCustomUiCdn({ manifest, port: options.cdnPort, embedders: () => embedders });
  const host = await startLocalConfluence({
    port: options.port,
    dataDir: options.dataDir,
    manifest,
    signer: options.signer,
    appId: options.appId,
    confluence: options.confluence,
    functions,
    cdn,
    log: options.log,
  });
  embedders = host.sites.map((site) => host.siteUrl(site.key));
  return {
    host,
    cdn,
    functions,
    async close() {
      await host.close();
      await cdn.close();
    },
  };
}
