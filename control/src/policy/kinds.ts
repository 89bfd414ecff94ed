/**
 * The caller kinds a route policy names (table.ts), read off a verified principal. A Forge
 * Invocation Token becomes one of three kinds by what it carries:
 *
 *   no `principal` (a Forge function, DESIGN §8)      → forgeApp    lifecycle and event routes only
 *   a user, `context.moduleKey` = the macro            → forgeMacro  its own binding, after a page check
 *   a user, `context.moduleKey` = the admin page       → forgeAdmin  the tenant, after an admin check
 *   a user, `context.moduleKey` = the status macro     → forgeStatus the tenant's monitor status, after a page read check
 *   a user from any other module                       → forgeOther  nothing
 *
 * The module key is context the frontend reports (Forge does not document it as permission-checked),
 * so it only ever narrows: a FIT that claims the admin page still needs Confluence to say its user is
 * an administrator, and one that claims the macro still needs the page check — both asked with the
 * user's own token. A user who forges the module key gains nothing their Confluence rights do not give.
 */

import { FORGE_MODULE_KEYS, forgeModuleRole } from "@mini-sites/core";
import { type Principal, SCOPES, type Scope } from "../auth/principal.ts";

export type CallerKind =
  | "apiToken"
  | "forgeMacro"
  | "forgeAdmin"
  | "forgeStatus"
  | "forgeApp"
  | "forgeOther"
  | "sharedSecret";

export function callerKindOf(principal: Principal): CallerKind {
  switch (principal.kind) {
    case "apiToken":
      return "apiToken";
    case "sharedSecret":
      return "sharedSecret";
    case "forge": {
      const { ctx } = principal;
      // No user and no context: the app's own function (a trigger, a scheduled job). An anonymous
      // caller (if anonymous access is ever enabled) has no user either but always a context — of a
      // UI module, known to us or not: never the app itself.
      if (ctx.accountId === undefined) return ctx.hasContext ? "forgeOther" : "forgeApp";
      switch (forgeModuleRole(ctx.page.moduleKey)) {
        case "macro":
          return "forgeMacro";
        case "admin":
          return "forgeAdmin";
        case "status":
          return "forgeStatus";
        default:
          return "forgeOther";
      }
    }
  }
}

/** Who, for audit rows and `published_by`: an identifier, never a credential. */
export function actorOf(principal: Principal): string {
  switch (principal.kind) {
    case "apiToken":
      return `api-token:${principal.tokenId}`;
    case "sharedSecret":
      return "ci";
    case "forge":
      return principal.ctx.accountId === undefined
        ? `forge-app:${principal.ctx.appId}`
        : `forge:${principal.ctx.accountId}`;
  }
}

/** What the caller may hand on (token issuance: never more than its own). */
export function scopesOf(kind: CallerKind, principal: Principal): readonly Scope[] {
  if (principal.kind === "apiToken") return principal.scopes;
  return kind === "forgeAdmin" ? SCOPES : [];
}

export { FORGE_MODULE_KEYS };
