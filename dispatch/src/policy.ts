/**
 * Request rules that hold before any grant is looked at (DESIGN §3 Serve):
 * - read-only: GET and HEAD only (a site is static files);
 * - no service workers: a registered worker would keep answering from its cache after the grant
 *   is revoked, so the script fetch (`Service-Worker: script`, `Sec-Fetch-Dest: serviceworker`) fails;
 * - Fetch Metadata: navigations may come from anywhere (that is how a site is embedded), but a
 *   subresource must come from the site itself (`Sec-Fetch-Site: same-origin`, or absent for old
 *   clients and non-browsers). `same-site` is hostile: every `s-*` host is a sibling under one
 *   registrable domain until the Public Suffix List entry lands, so "same site" means "another site".
 */

import {
  CROSS_SITE_REQUEST_REFUSED,
  type GatewayError,
  METHOD_NOT_ALLOWED,
  SERVICE_WORKER_REFUSED,
} from "./errors.ts";

export function requestPolicyError(request: Request): GatewayError | undefined {
  if (request.method !== "GET" && request.method !== "HEAD") return METHOD_NOT_ALLOWED;
  const headers = request.headers;
  if (headers.get("service-worker") !== null || headers.get("sec-fetch-dest") === "serviceworker") {
    return SERVICE_WORKER_REFUSED;
  }
  if (headers.get("sec-fetch-mode") === "navigate") return undefined;
  const site = headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin") return CROSS_SITE_REQUEST_REFUSED;
  return undefined;
}
