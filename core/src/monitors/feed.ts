/**
 * Where a tenant's monitor feed waits for the gateway (DESIGN §3: a mini-site may opt in to read its
 * tenant's monitor feed at a reserved same-origin path). The control Worker writes, the dispatch Worker
 * reads, one Workers KV namespace (SITE_FEEDS); the key names are stated once here so the two cannot
 * drift apart.
 *
 * Both keys are derived from a verified grant's claims on the gateway's side — the tenant and the
 * (site, version) it names under its MAC — never from anything a request or a site's bytes choose, so
 * a site reads its own tenant's feed or nothing.
 */

/** The gateway's reserved path on a site's origin (`/__ms/` is the gateway's; DESIGN §3 Serve). */
export const STATUS_FEED_PATH = "/__ms/status.json";

/** The tenant's feed, JSON `{monitors: [...]}`: the Service status macro's board. */
export function feedKey(tenant: string): string {
  return `feed/${tenant}`;
}

/** Present ("1") when this version of the site was published with `statusFeed`. */
export function feedOptInKey(site: string, version: number): string {
  return `optin/${site}/${version}`;
}

/** Every opt-in key of one site starts with this (site deletion lists and deletes them). */
export function feedOptInPrefix(site: string): string {
  return `optin/${site}/`;
}

/** The value of an opt-in key. */
export const FEED_OPT_IN = "1";

/** What a tenant without monitors has, and what the gateway answers when the key is absent. */
export const EMPTY_FEED = '{"monitors":[]}';
