/**
 * A site as people name it: by its name (unique in the tenant, ignoring case) or by its id. Ids
 * are tried first when the text could be one, so a site named like another's id is still reachable
 * by that id, and the name is what everyone types.
 */

import { parseSiteId } from "@mini-sites/core";
import { type ApiClient, ApiFailure, type Site } from "./api.ts";

export class NoSuchSite extends Error {
  override name = "NoSuchSite";
  readonly site: string;
  constructor(site: string) {
    super(`No site "${site}" in this tenant: \`mini-sites sites\` lists them.`);
    this.site = site;
  }
}

export async function findSite(
  api: ApiClient,
  nameOrId: string,
  signal?: AbortSignal,
): Promise<Site | undefined> {
  if (parseSiteId(nameOrId) !== undefined) {
    try {
      return await api.json<Site>("GET", `/v1/sites/${nameOrId}`, { signal });
    } catch (error) {
      if (!(error instanceof ApiFailure && error.code === "NOT_FOUND")) throw error;
    }
  }
  const found = await api.json<{ sites: Site[] }>("GET", "/v1/sites", { query: { name: nameOrId }, signal });
  return found.sites[0];
}

export async function resolveSite(api: ApiClient, nameOrId: string, signal?: AbortSignal): Promise<Site> {
  const site = await findSite(api, nameOrId, signal);
  if (site === undefined) throw new NoSuchSite(nameOrId);
  return site;
}
