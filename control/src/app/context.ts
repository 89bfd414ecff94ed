/**
 * What a request carries through the app. The route policy (control/src/policy) runs before every
 * handler and leaves one value, `access`: who the verified caller is, the tenant it acts for, and the
 * object the route acts on — looked up in that tenant from the path or from the FIT's signed claims.
 * Handlers read `access` through the accessors below and never look at credentials, principals or
 * client-supplied ids themselves; an accessor that finds nothing means the policy table and the
 * handler disagree (a bug, answered 500), never a reason to look the object up by hand.
 */

import type { Context } from "hono";
import type { Principal, Scope } from "../auth/principal.ts";
import type { ContentRef } from "../confluence/permissions.ts";
import type { ApiTokenSummary } from "../db/api-tokens.ts";
import type { PageState } from "../db/page-states.ts";
import type { Site } from "../db/sites.ts";
import type { Installation, Tenant } from "../db/tenants.ts";
import type { ControlEnv } from "../env.ts";
import type { MacroBinding, MacroKey } from "../macro/store.ts";
import type { UploadTicketClaims } from "../macro/ticket.ts";
import type { Monitor } from "../monitors/store.ts";
import type { CallerKind } from "../policy/kinds.ts";
import type { MatchedRoute } from "../policy/match.ts";
import type { Job } from "../publish/store.ts";

/** The macro a Forge macro FIT is for, and what it shows — every part from signed claims. */
export interface MacroAccess {
  readonly key: MacroKey;
  readonly content: ContentRef;
  /** This macro's binding, if it has one. */
  readonly binding: MacroBinding | undefined;
  /** The site the binding shows, if it still exists. */
  readonly site: Site | undefined;
  /** Whether Confluence lets this user edit the page (asked with their own token, cached). */
  readonly canEdit: boolean;
  /** Whether Confluence told us (by a page event) the page was trashed or deleted; undefined = live. */
  readonly pageState: PageState | undefined;
  /**
   * Whether this user may read `content` — another page, e.g. where a fork's source is shown — asked
   * of Confluence with the same user's own token. The only question a handler may ask about pages.
   */
  readonly mayRead: (content: ContentRef) => Promise<boolean>;
}

export interface Access {
  readonly principal: Principal;
  readonly kind: CallerKind;
  /** Who, for audit rows and `published_by`: `api-token:<id>`, `forge:<accountId>`, `ci`. Never a credential. */
  readonly actor: string;
  /** What the caller may hand on (token issuance): an API token's scopes; every scope for the admin page. */
  readonly scopes: readonly Scope[];
  /** The tenant every query of this request is scoped to; undefined only on deployment-wide routes. */
  readonly tenant: Tenant | undefined;
  readonly site?: Site | undefined;
  readonly job?: Job;
  readonly token?: ApiTokenSummary;
  readonly monitor?: Monitor;
  readonly macro?: MacroAccess;
  readonly ticket?: UploadTicketClaims;
  /** Lifecycle routes: the FIT's installation (the tenant, if any, is handed over as it is). */
  readonly installation?: Installation;
}

export interface AppVariables {
  /** Random per request; returned with INTERNAL errors and written to the log line. */
  requestId: string;
  /** The route policy this request matched (policy/match.ts), set before anything reads the body. */
  route: MatchedRoute | undefined;
  /** Set by policy/authorize.ts before any handler runs. */
  access: Access | undefined;
}

export interface AppEnv {
  Bindings: ControlEnv;
  Variables: AppVariables;
}

export type AppContext = Context<AppEnv>;

function bug(what: string): Error {
  return new Error(`route policy did not resolve ${what} for this route (policy/table.ts)`);
}

export function accessOf(c: AppContext): Access {
  const access = c.get("access");
  if (access === undefined) throw bug("the caller");
  return access;
}

export function tenantOf(c: AppContext): Tenant {
  const tenant = accessOf(c).tenant;
  if (tenant === undefined) throw bug("a tenant");
  return tenant;
}

export function siteOf(c: AppContext): Site {
  const site = accessOf(c).site;
  if (site === undefined) throw bug("a site");
  return site;
}

export function jobOf(c: AppContext): Job {
  const job = accessOf(c).job;
  if (job === undefined) throw bug("a job");
  return job;
}

export function tokenOf(c: AppContext): ApiTokenSummary {
  const token = accessOf(c).token;
  if (token === undefined) throw bug("a token");
  return token;
}

export function monitorOf(c: AppContext): Monitor {
  const monitor = accessOf(c).monitor;
  if (monitor === undefined) throw bug("a monitor");
  return monitor;
}

export function macroOf(c: AppContext): MacroAccess {
  const macro = accessOf(c).macro;
  if (macro === undefined) throw bug("a macro");
  return macro;
}

export function installationOf(c: AppContext): Installation {
  const installation = accessOf(c).installation;
  if (installation === undefined) throw bug("an installation");
  return installation;
}

export function ticketOf(c: AppContext): UploadTicketClaims {
  const ticket = accessOf(c).ticket;
  if (ticket === undefined) throw bug("an upload ticket");
  return ticket;
}
