/** The bench site: what the serve benchmarks fetch, and grants to fetch it with. */

import {
  KEY_PURPOSE,
  keyringFor,
  mintGrant,
  requireIdentity,
  type SiteId,
  type TenantShortId,
} from "@mini-sites/core";

/** The asset every serve figure is about: 10 KB, as DESIGN §9's benchmark names it. */
export const ASSET_PATH = "/asset.txt";
/** An entry page of a typical generated app (10 KB of markup), where the gateway injects its script. */
export const PAGE_PATH = "/";

export function benchFiles(): Record<string, Uint8Array> {
  const encoder = new TextEncoder();
  let table = "";
  for (let i = 0; table.length < 9 * 1024; i++)
    table += `<tr><td>row ${i}</td><td>${"x".repeat(40)}</td></tr>`;
  const page =
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bench</title>' +
    '<link rel="stylesheet" href="/assets/app.css"><script type="module" src="/assets/app.js"></script>' +
    `</head><body><h1>Bench</h1><table>${table}</table></body></html>`;
  return {
    "index.html": encoder.encode(page),
    "asset.txt": new Uint8Array(10 * 1024).map((_, i) => 97 + (i % 26)),
  };
}

/** Mints grants as the control Worker would, for the deployment secret the benchmark's stack uses. */
export async function grantMinter(
  appPid: string,
  appPsk: string,
): Promise<(siteId: SiteId, version: number, tenantId: TenantShortId) => Promise<string>> {
  const keyring = await keyringFor(requireIdentity({ APP_PID: appPid, APP_PSK: appPsk }), KEY_PURPOSE.grant);
  return async (siteId, version, tenantId) =>
    (await mintGrant(keyring, { siteId, version, tenantId, ttlSeconds: 3600 }, Date.now())).text;
}
