/**
 * The smoke check (DESIGN §3 Publish): before a version goes live, its entry page is fetched through
 * the dispatch path exactly as a viewer's browser would get it — the site's own origin, a grant cookie
 * minted for THAT version, the dispatch Worker verifying it and routing to the user Worker. A version
 * the gateway cannot serve never becomes live.
 *
 * Transport: the `DISPATCH` service binding when present (production: a service binding to the
 * dispatch Worker; dev: a workerd `external` service at the gateway's loopback address, so the
 * request keeps its `s-<site>.localhost:<port>` Host — workerd overrides a Host header on a plain
 * fetch, and Node's resolver cannot resolve `*.localhost`). Without it, a plain fetch of the public
 * site URL.
 */

import type { SiteId, TenantShortId } from "@mini-sites/core";
import type { ControlEnv } from "../env.ts";
import type { PublishConfig } from "./config.ts";
import { requireSiteGrant } from "./services.ts";

/** The grant cookie the dispatch Worker reads (dispatch/src/cookies.ts). */
export const GRANT_COOKIE = "__Host-ms";
/** Dev user Workers start lazily and answer 503 while cold: a few quick tries before the step fails. */
export const SMOKE_ATTEMPTS = 5;
export const SMOKE_RETRY_MS = 400;

export interface SmokeResult {
  readonly ok: boolean;
  readonly status: number;
  readonly detail: string;
}

export async function smokeCheck(
  env: ControlEnv,
  config: PublishConfig,
  claims: { tenant: TenantShortId; site: SiteId; version: number },
  now: number,
): Promise<SmokeResult> {
  const grant = await requireSiteGrant(
    env,
    {
      tenant: claims.tenant,
      site: claims.site,
      version: claims.version,
      ttlSeconds: config.smokeGrantTtlSeconds,
    },
    now,
  );
  const url = `${grant.origin}/`;
  const fetcher = env.DISPATCH ?? {
    fetch: (input: Request | string | URL, init?: RequestInit) => fetch(input, init),
  };
  let last: SmokeResult = { ok: false, status: 0, detail: "not tried" };
  for (let attempt = 0; attempt < SMOKE_ATTEMPTS; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, SMOKE_RETRY_MS));
    try {
      const response = await fetcher.fetch(url, {
        headers: {
          Cookie: `${GRANT_COOKIE}=${grant.text}`,
          "Sec-Fetch-Mode": "navigate",
          "Sec-Fetch-Dest": "document",
        },
        redirect: "manual",
      });
      const type = response.headers.get("content-type") ?? "";
      await response.body?.cancel();
      if (response.status === 200 && type.startsWith("text/html"))
        return { ok: true, status: 200, detail: "entry page served" };
      last = {
        ok: false,
        status: response.status,
        detail: `the entry page answered ${response.status} ${type}`.trim(),
      };
      if (response.status !== 503 && response.status !== 502 && response.status !== 504) return last;
    } catch (error) {
      last = {
        ok: false,
        status: 0,
        detail: `the gateway could not be reached (${error instanceof Error ? error.name : "error"})`,
      };
    }
  }
  return last;
}
