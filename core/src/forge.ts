/**
 * The Forge app's module keys — the `key` of each module in forge-app/manifest.yml. A Forge Invocation
 * Token names the module whose UI made the call (`context.moduleKey`), and the control Worker's route
 * policy (control/src/policy) gives each module its own routes: the macro reaches only the Macro API
 * for its own binding, the admin page (for a Confluence admin) manages the tenant. Both sides import
 * these names from here so a renamed module cannot silently lose (or gain) access.
 *
 * The module key is context the frontend reports, so it only ever NARROWS what a caller may do: every
 * grant of access still rests on a Confluence check made with the user's own token (page read/update
 * for the macro and the status macro, "administer the application" for the admin page).
 */

/**
 * An Atlassian account id as Atlassian issues them: 1–128 letters, digits, `-` and `:` (`557058:<uuid>`,
 * 24 hex characters; developer.atlassian.com/platform/forge/user-privacy-guidelines). The one pattern
 * the FIT check and the personal-data code share: an id accepted at the door is one that is
 * pseudonymized in the audit log, reported and anonymized. `~` and `_` never occur in one.
 */
export const ACCOUNT_ID_PATTERN = /^[A-Za-z0-9:-]{1,128}$/;

export const FORGE_MODULE_KEYS = {
  /** The `macro` module: view and publisher of one mini-site on a page. */
  macro: "mini-sites-macro",
  /** The `confluence:globalSettings` admin page: the tenant's sites, tokens, audit log. */
  admin: "mini-sites-admin",
  /** The "Service status" macro: the tenant's monitors (state, latency, uptime, recent history). */
  status: "mini-sites-status",
} as const;

export type ForgeModuleRole = keyof typeof FORGE_MODULE_KEYS;

/** The role of a module key, or undefined for a module the control Worker gives nothing to. */
export function forgeModuleRole(moduleKey: string | undefined): ForgeModuleRole | undefined {
  for (const [role, key] of Object.entries(FORGE_MODULE_KEYS))
    if (key === moduleKey) return role as ForgeModuleRole;
  return undefined;
}
