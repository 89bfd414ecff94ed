/**
 * What this app proposes as its tenants' branding at registration (POST /v1/tenants/register): the
 * name the admin page shows as its heading and where the tenant's users get support. Set per app with
 * Forge variables (`forge variables set MINI_SITES_DISPLAY_NAME …`, `… MINI_SITES_SUPPORT_URL …`), so
 * a sibling app built from this code for another Forge app id proposes its own. The control Worker
 * stores each only where the tenant has none yet: a later value never overwrites what a tenant already
 * shows — least of all what its admin chose. A value the control Worker would refuse (core's check)
 * is left out here, so a typo in a variable never keeps the tenant from registering its key.
 */

import { checkDisplayName, checkSupportUrl } from "@mini-sites/core";

export const DEFAULT_DISPLAY_NAME = "Mini-Sites";

export function appBranding(env: Readonly<Record<string, string | undefined>> = process.env): {
  displayName: string;
  supportUrl?: string;
} {
  const name = checkDisplayName(env.MINI_SITES_DISPLAY_NAME ?? "");
  const url = checkSupportUrl(env.MINI_SITES_SUPPORT_URL ?? "");
  return {
    displayName: name.ok ? name.value : DEFAULT_DISPLAY_NAME,
    ...(url.ok ? { supportUrl: url.value } : {}),
  };
}
