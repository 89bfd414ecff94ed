/**
 * WHO MAY CALL WHAT — the one place that says it, route by route (DESIGN §6 invariant 4).
 *
 * Every route the control Worker answers has exactly one entry here, stating:
 *   - which callers may reach it (`allow`), and with what: an API token's scope, a Forge macro's
 *     Confluence check on its own page (made with the user's own token), the admin page's Confluence
 *     admin check, a Forge function (no user), the CI secret, or nobody at all (`public`);
 *   - where its object comes from (`object`): the tenant is always the credential's (a FIT's signed
 *     installation, or the tenant an API token was issued in), and a site, job or token named in the
 *     path is looked up IN THAT TENANT before any handler runs — another tenant's id answers 404;
 *   - how large its body may be (`body`).
 * `policy/authorize.ts` enforces it before any handler runs; `app/app.ts` refuses to start if a route
 * has no entry or an entry has no route. Any caller kind a route does not list is refused: 401 when
 * no credential was verified, 403 otherwise (Forge reserves 401 for FIT failures, DESIGN §8).
 */

import type { Scope } from "../auth/principal.ts";

/** A Forge macro's check, made with the user's own Confluence token on the FIT's page. */
export type MacroCheck =
  /** May view the page: viewers of the macro. */
  | "read"
  /** May edit the page: the publisher in the macro's config. */
  | "update"
  /**
   * An editor upload's chunks come through `requestRemote`, which carries a FIT but no user token:
   * the update check was made when the upload ticket was issued, and the ticket — bound to tenant,
   * page, user and upload — carries that decision for a short time (macro/ticket.ts).
   */
  | "uploadTicket";

export interface Allow {
  /** No credential at all: service endpoints that show no tenant's data. */
  readonly public?: true;
  /** An API token holding this scope (or any one of these scopes); `"any"` = any token of the tenant. */
  readonly apiToken?: Scope | readonly Scope[] | "any";
  /** The Forge macro, for its own binding only, after this Confluence check on its page. */
  readonly forgeMacro?: MacroCheck;
  /** The Forge admin page, for a user Confluence says is an administrator. Holds every scope. */
  readonly forgeAdmin?: true;
  /**
   * The "Service status" macro, for a user who may view the page it is on (checked with the user's own
   * token): the tenant's monitor status — names, states, latency, uptime, history; never their URLs.
   */
  readonly forgeStatus?: "read";
  /** A Forge function's FIT (no user, no page): lifecycle and event routes only. */
  readonly forgeApp?: true;
  /** The deployment's CI secret: deployment-wide operator routes only, never a tenant's data. */
  readonly sharedSecret?: true;
}

/** What a route acts on, resolved by authorize.ts inside the caller's tenant before the handler runs. */
export type RouteObject =
  /** Nothing beyond the tenant (listings, creation). */
  | "none"
  /** The site named by `:site`. */
  | "site"
  /** The site named by `:site`, or `new` for a site the publish creates. */
  | "siteOrNew"
  /** The job named by `:job`. */
  | "job"
  /** The API token named by `:token`. */
  | "token"
  /** The monitor named by `:monitor`. */
  | "monitor"
  /** The macro of the FIT (cloudId, content id, local id — signed claims only), and the site it shows. */
  | "macro"
  /** The editor upload named by `:ticket`, bound to the FIT's tenant, page and user. */
  | "uploadTicket"
  /**
   * A Forge function's installation (lifecycle and product events): the tenant of (app, cloud) is
   * handed over AS IT IS — purging, or recorded for another installation id — because deciding what
   * an install, an uninstall or a page event does to it is the route's whole job. Forge functions only.
   */
  | "installation";

/** Body caps: app/limits.ts has the numbers and their reasons. */
export type BodyKind = "none" | "json" | "fileList" | "upload" | "chunk";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface RoutePolicy {
  readonly method: Method;
  /** Hono's spelling: `/v1/sites/:site`. */
  readonly path: string;
  readonly allow: Allow;
  readonly object: RouteObject;
  readonly body: BodyKind;
  /**
   * Needs an active Marketplace license (paid app, production): shows a site or publishes one. Refused
   * with LICENSE_INACTIVE when the caller's FIT — or, for API tokens, the latest FIT of the tenant —
   * says the license lapsed. Management (listing, disabling, deleting, tokens, audit) stays open.
   */
  readonly licensed: boolean;
}

const policy = (
  method: Method,
  path: string,
  allow: Allow,
  object: RouteObject = "none",
  body: BodyKind = method === "GET" || method === "DELETE" ? "none" : "json",
): RoutePolicy => ({ method, path, allow, object, body, licensed: false });

/** A route that shows or publishes a site: see RoutePolicy.licensed. */
const licensed = (route: RoutePolicy): RoutePolicy => ({ ...route, licensed: true });

const PUBLIC: Allow = { public: true };

export const ROUTE_POLICIES: readonly RoutePolicy[] = [
  // --- Service: identity fingerprints, health, the API description -------------------------------
  policy("GET", "/.well-known/mini-sites", PUBLIC),
  policy("GET", "/healthz", PUBLIC),
  policy("GET", "/v1/openapi.json", PUBLIC),

  // --- Who am I (CLI `whoami`, the admin page's header) ----------------------------------------------
  policy("GET", "/v1/whoami", { apiToken: "any", forgeAdmin: true }),

  // --- Sites, read side: tokens with sites:read, and the admin page --------------------------------
  policy("GET", "/v1/sites", { apiToken: "sites:read", forgeAdmin: true }),
  policy("GET", "/v1/sites/:site", { apiToken: "sites:read", forgeAdmin: true }, "site"),
  policy("GET", "/v1/sites/:site/versions", { apiToken: "sites:read", forgeAdmin: true }, "site"),
  policy("GET", "/v1/jobs/:job", { apiToken: ["sites:read", "sites:write"], forgeAdmin: true }, "job"),
  // A grant or the bytes of ANY site of the tenant, including sites shown only on restricted pages:
  // API tokens only (issued by a tenant admin, scoped), never the admin page, which manages sites
  // without seeing their content (a Confluence admin may not read every page either).
  licensed(policy("POST", "/v1/sites/:site/view-url", { apiToken: "sites:read" }, "site", "none")),
  policy("GET", "/v1/sites/:site/versions/:n/bundle", { apiToken: "sites:read" }, "site"),

  // --- Sites, write side ------------------------------------------------------------------------------
  licensed(policy("POST", "/v1/sites/:site/versions", { apiToken: "sites:write" }, "siteOrNew", "upload")),
  // Which of a bundle's files (by hash) the site's archive lacks: the first half of a publish that
  // uploads only those, so the same scope (and license) as the publish itself.
  licensed(policy("POST", "/v1/sites/:site/files/missing", { apiToken: "sites:write" }, "site", "fileList")),
  licensed(policy("POST", "/v1/sites/:site/rollback", { apiToken: "sites:write" }, "site")),
  policy("POST", "/v1/sites/:site/disable", { apiToken: "sites:write", forgeAdmin: true }, "site", "none"),
  policy("POST", "/v1/sites/:site/enable", { apiToken: "sites:write", forgeAdmin: true }, "site", "none"),
  policy("PATCH", "/v1/sites/:site", { apiToken: "sites:write", forgeAdmin: true }, "site"),
  policy("DELETE", "/v1/sites/:site", { apiToken: "sites:write", forgeAdmin: true }, "site"),

  // --- API tokens -------------------------------------------------------------------------------------
  policy("POST", "/v1/tokens", { apiToken: "tokens:manage", forgeAdmin: true }),
  policy("GET", "/v1/tokens", { apiToken: "tokens:manage", forgeAdmin: true }),
  policy("DELETE", "/v1/tokens/:token", { apiToken: "tokens:manage", forgeAdmin: true }, "token"),

  // --- The tenant: its audit log and verification, settings, usage ----------------------------------
  policy("GET", "/v1/audit", { apiToken: "tenant:admin", forgeAdmin: true }),
  policy("GET", "/v1/tenant/settings", { apiToken: "tenant:admin", forgeAdmin: true }),
  policy("PUT", "/v1/tenant/settings", { apiToken: "tenant:admin", forgeAdmin: true }),
  policy("GET", "/v1/tenant/usage", { apiToken: "tenant:admin", forgeAdmin: true }),
  // Secret-scan findings accepted by an admin (rule + file hash). Publishers read the list too: the
  // CLI checks a bundle before uploading it and must not refuse what the server will accept. It holds
  // rule ids, hashes and the admins' notes, never a secret.
  policy("GET", "/v1/tenant/accepted-findings", {
    apiToken: ["tenant:admin", "sites:write"],
    forgeAdmin: true,
  }),
  policy("POST", "/v1/tenant/accepted-findings", { apiToken: "tenant:admin", forgeAdmin: true }),
  policy("DELETE", "/v1/tenant/accepted-findings/:rule/:fileHash", {
    apiToken: "tenant:admin",
    forgeAdmin: true,
  }),

  // --- Monitors: the tenant's health checks (DESIGN §3). Reading them shows URLs of the tenant's
  // services, so a token needs sites:read or tenant:admin; adding one makes OUR Worker send requests
  // to a URL of the caller's choosing, so only tenant admins and the admin page may.
  policy("GET", "/v1/monitors", { apiToken: ["sites:read", "tenant:admin"], forgeAdmin: true }),
  policy("POST", "/v1/monitors", { apiToken: "tenant:admin", forgeAdmin: true }),
  policy(
    "GET",
    "/v1/monitors/:monitor",
    { apiToken: ["sites:read", "tenant:admin"], forgeAdmin: true },
    "monitor",
  ),
  // Editing can point a monitor at another URL: the same callers as adding one.
  policy("PATCH", "/v1/monitors/:monitor", { apiToken: "tenant:admin", forgeAdmin: true }, "monitor"),
  policy("DELETE", "/v1/monitors/:monitor", { apiToken: "tenant:admin", forgeAdmin: true }, "monitor"),

  // The "Service status" macro on any page the user may view: the tenant's monitors as a status board
  // (a status page is meant to be read by everyone who may read the page; URLs stay with the admins).
  policy("GET", "/v1/status/monitors", { forgeStatus: "read" }),

  // --- Tenant keys: the key pair that signs reports to the app's web trigger. Only the app's own
  // Forge function reaches these (a FIT without a user, for this installation): it stores the public
  // key in Forge KVS and hands over the web trigger URL, which only it can learn.
  policy("POST", "/v1/tenants/register", { forgeApp: true }),
  policy("POST", "/v1/tenants/rotate-key", { forgeApp: true }),

  // --- The Macro API: the macro's own binding only, after the Confluence check on its page ---------
  licensed(policy("POST", "/v1/macro/serve-url", { forgeMacro: "read" }, "macro")),
  policy("GET", "/v1/macro/state", { forgeMacro: "read" }, "macro"),
  policy("GET", "/v1/macro/versions", { forgeMacro: "update" }, "macro"),
  // The tenant's accepted findings, for the editor's own check before upload (it must not refuse what
  // the server accepts): rule ids, file hashes and notes, never a secret.
  policy("GET", "/v1/macro/accepted-findings", { forgeMacro: "update" }, "macro"),
  licensed(policy("POST", "/v1/macro/rollback", { forgeMacro: "update" }, "macro")),
  licensed(policy("POST", "/v1/macro/bind", { forgeMacro: "update" }, "macro")),
  licensed(policy("POST", "/v1/macro/upload-ticket", { forgeMacro: "update" }, "macro")),
  policy(
    "PUT",
    "/v1/macro/uploads/:ticket/chunks/:n",
    { forgeMacro: "uploadTicket" },
    "uploadTicket",
    "chunk",
  ),
  licensed(
    policy(
      "POST",
      "/v1/macro/uploads/:ticket/complete",
      { forgeMacro: "uploadTicket" },
      "uploadTicket",
      "none",
    ),
  ),

  // --- Forge's lifecycle and product events, delivered to the remote with a FIT without a user -------
  policy("POST", "/v1/lifecycle/installed", { forgeApp: true }, "installation"),
  policy("POST", "/v1/lifecycle/uninstalling", { forgeApp: true }, "installation"),
  policy("POST", "/v1/lifecycle/page-events", { forgeApp: true }, "installation"),
  policy("POST", "/v1/lifecycle/personal-data", { forgeApp: true }, "installation"),

  // --- Operators: deployment-wide, no tenant's data -----------------------------------------------------
  policy("GET", "/v1/admin/denials", { sharedSecret: true }),
  policy("POST", "/v1/admin/reconcile", { sharedSecret: true }, "none", "none"),
  policy("GET", "/v1/admin/diagnostics", { sharedSecret: true }),
];

/**
 * Rules every entry must follow, checked when the app is built (a broken table never serves):
 * a route is public or names callers; the CI secret never shares a route with a tenant's callers
 * (it has no tenant); object-bearing paths carry the parameter their object is looked up by.
 */
export function checkPolicyTable(table: readonly RoutePolicy[]): void {
  const seen = new Set<string>();
  for (const entry of table) {
    const id = `${entry.method} ${entry.path}`;
    if (seen.has(id)) throw new Error(`route policy: ${id} is listed twice`);
    seen.add(id);
    const kinds = Object.keys(entry.allow);
    if (kinds.length === 0) throw new Error(`route policy: ${id} allows nobody`);
    if (entry.allow.public === true && kinds.length > 1)
      throw new Error(`route policy: ${id} is public and also names callers`);
    if (entry.allow.sharedSecret === true && kinds.length > 1)
      throw new Error(`route policy: ${id} mixes the tenant-less CI secret with tenant callers`);
    const needs: Partial<Record<RouteObject, string>> = {
      site: ":site",
      siteOrNew: ":site",
      job: ":job",
      token: ":token",
      monitor: ":monitor",
      uploadTicket: ":ticket",
    };
    const param = needs[entry.object];
    if (param !== undefined && !entry.path.split("/").includes(param))
      throw new Error(`route policy: ${id} resolves a ${entry.object} but has no ${param}`);
    if (entry.object === "macro" || entry.object === "uploadTicket") {
      if (entry.allow.forgeMacro === undefined || kinds.length !== 1)
        throw new Error(`route policy: ${id} acts on a macro but allows callers other than the macro`);
    }
    if (entry.allow.forgeMacro !== undefined && entry.object !== "macro" && entry.object !== "uploadTicket")
      throw new Error(`route policy: ${id} lets the macro reach something other than its own binding`);
    if (
      entry.allow.forgeStatus !== undefined &&
      (kinds.length !== 1 || !entry.path.startsWith("/v1/status/"))
    )
      throw new Error(
        `route policy: ${id} lets the status macro reach something other than the status board`,
      );
    if (entry.object === "installation" && (entry.allow.forgeApp !== true || kinds.length !== 1))
      throw new Error(`route policy: ${id} hands a raw installation to callers other than Forge functions`);
  }
}
