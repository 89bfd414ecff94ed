/**
 * The one gate in front of every handler: it enforces the route's entry in the policy table
 * (table.ts) and leaves `access` (app/context.ts) for the handler. In this order, each step refusing
 * before the next one learns anything:
 *
 *   1. credential   exactly one, verified (auth/authenticate.ts)          401 AUTH_*, counted not audited
 *   2. caller kind  allowed by the route (kinds.ts)                      403 PRINCIPAL_NOT_ALLOWED / NO_PRINCIPAL
 *   3. scope        an API token holds the route's scope                 403 INSUFFICIENT_SCOPE
 *   4. tenant       the token's tenant, or the FIT's installation         401 (token of a purged tenant),
 *                   (app + cloud + installation), active                 403 TENANT_PURGING / INSTALLATION_MISMATCH
 *   5. Confluence   macro, status macro: read/update on the FIT's page;   403 NO_ACCESS, 503 if Confluence is down
 *                   admin page: "administer" — with the user's OWN token
 *   6. object       the site/job/token/monitor in the path, looked up    404 (another tenant's reads as missing)
 *                   in the tenant; the macro's binding from signed claims only
 *
 * Denials after step 1 name a caller and are audited in its tenant's chain (after the response, so
 * they never delay it); denials at step 1 are counted (denials.ts).
 */

import {
  parseSiteId,
  parseTenantShortId,
  SITE_ID_LENGTH,
  type SiteId,
  type TenantShortId,
} from "@mini-sites/core";
import type { MiddlewareHandler } from "hono";
import type { Access, AppContext, AppEnv, MacroAccess } from "../app/context.ts";
import { ApiError, type ApiErrorCode } from "../app/errors.ts";
import { type AuthDenial, authenticate } from "../auth/authenticate.ts";
import { authFailure } from "../auth/errors.ts";
import type { FitVerifier, ForgeContext } from "../auth/fit.ts";
import type { Principal } from "../auth/principal.ts";
import {
  type ContentRef,
  isContentType,
  type PermissionClient,
  type PermissionVerdict,
  permissionClientFor,
} from "../confluence/permissions.ts";
import { D1ApiTokenStore, getApiToken, recordApiTokenUse } from "../db/api-tokens.ts";
import { getPageState } from "../db/page-states.ts";
import { getSite } from "../db/sites.ts";
import {
  ensureTenant,
  findTenant,
  getTenant,
  type Installation,
  recordLicense,
  type Tenant,
} from "../db/tenants.ts";
import { controlKeys } from "../identity.ts";
import { getBinding } from "../macro/store.ts";
import { verifyUploadTicket } from "../macro/ticket.ts";
import { getMonitor, MONITOR_ID } from "../monitors/store.ts";
import { getJob } from "../publish/store.ts";
import { afterResponse, auditInBackground } from "./background.ts";
import { DenialCounter } from "./denials.ts";
import { actorOf, type CallerKind, callerKindOf, scopesOf } from "./kinds.ts";
import { licenseLapsed, licenseStateOf } from "./license.ts";
import { createRouteMatcher, type MatchedRoute } from "./match.ts";
import type { Allow, RoutePolicy } from "./table.ts";

/** The header Forge puts the user's token in when the endpoint sets `auth.appUserToken` (DESIGN §8). */
export const USER_TOKEN_HEADER = "x-forge-oauth-user";

export interface PolicyDeps {
  /** Confluence permission client; defaults to one per isolate (and per dev flag). */
  readonly permissions?: PermissionClient;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
  /** FIT verification; defaults to the verifier for the env's FORGE_JWKS_URL / ALLOWED_FORGE_APP_IDS. */
  readonly fitVerifier?: FitVerifier;
}

/** Step 0: the route's table entry, before anything reads the body. Unknown routes are 404/405 here. */
export function matchRoute(table: readonly RoutePolicy[]): MiddlewareHandler<AppEnv> {
  const matcher = createRouteMatcher(table);
  return async (c, next) => {
    // Hono answers HEAD with the GET route; the policy is the GET route's.
    const method = c.req.method === "HEAD" ? "GET" : c.req.method;
    const matched = matcher.match(method, c.req.path);
    if (matched === undefined) {
      if (matcher.pathExists(c.req.path))
        throw new ApiError("METHOD_NOT_ALLOWED", `${c.req.method} is not supported here.`);
      throw new ApiError("NOT_FOUND", "No such endpoint. See /v1/openapi.json for the API.");
    }
    c.set("route", matched);
    await next();
  };
}

const denials = new DenialCounter();

/** Writes this isolate's pending denial counts now (the operators' route reads them fresh). */
export function flushDenialCounts(db: AppContext["env"]["DB"]): Promise<void> {
  return denials.flush(db);
}

function allows(allow: Allow, kind: CallerKind): boolean {
  switch (kind) {
    case "apiToken":
      return allow.apiToken !== undefined;
    case "forgeMacro":
      return allow.forgeMacro !== undefined;
    case "forgeAdmin":
      return allow.forgeAdmin === true;
    case "forgeStatus":
      return allow.forgeStatus !== undefined;
    case "forgeApp":
      return allow.forgeApp === true;
    case "sharedSecret":
      return allow.sharedSecret === true;
    case "forgeOther":
      return false;
  }
}

function hasScope(allow: Allow, principal: Principal): boolean {
  if (principal.kind !== "apiToken") return true;
  const needed = allow.apiToken;
  if (needed === undefined) return false;
  if (needed === "any") return true;
  const anyOf: readonly string[] = typeof needed === "string" ? [needed] : needed;
  return anyOf.some((scope) => (principal.scopes as readonly string[]).includes(scope));
}

const installationOf = (ctx: ForgeContext): Installation => ({
  forgeAppId: ctx.appId,
  cloudId: ctx.cloudId,
  installationId: ctx.installationId,
});

const MESSAGES: Partial<Record<ApiErrorCode, string>> = {
  PRINCIPAL_NOT_ALLOWED: "This kind of caller may not use this endpoint.",
  NO_PRINCIPAL: "This action needs a signed-in Confluence user.",
  INSUFFICIENT_SCOPE: "The API token does not have the scope this action needs.",
  TENANT_PURGING: "Mini-Sites is being removed from this Confluence site; nothing can be done here any more.",
  INSTALLATION_MISMATCH:
    "This app installation is not the one Mini-Sites knows for this Confluence site. Reinstalling completes the switch.",
  INVALID_CONTEXT: "Call this from the Mini-Sites macro on a Confluence page or blog post.",
  LICENSE_INACTIVE:
    "The Mini-Sites license for this Confluence site is not active. An administrator can renew it in the Marketplace; nothing was deleted.",
};

export function authorize(deps: PolicyDeps = {}): MiddlewareHandler<AppEnv> {
  const now = deps.now ?? Date.now;
  const permissionsOf = (c: AppContext) => deps.permissions ?? permissionClientFor(c.env, now);

  return async (c, next) => {
    const route = c.get("route") as MatchedRoute;
    const { policy, params } = route;
    const routeName = `${policy.method} ${policy.path}`;
    if (policy.allow.public === true) return next();

    // --- 1. credential ------------------------------------------------------------------------------
    const outcome = await authenticate(c.req.raw.headers, c.env, {
      apiTokens: new D1ApiTokenStore(c.env.DB),
      ...(deps.fitVerifier === undefined ? {} : { fitVerifier: deps.fitVerifier }),
      now: now(),
    });
    if (!outcome.ok) throw unauthenticated(c, outcome, routeName);
    const { principal } = outcome;
    const kind = callerKindOf(principal);
    const actor = actorOf(principal);

    /** A refusal of a verified caller: audited in its tenant's chain after the response. */
    const refuse = (
      code: ApiErrorCode,
      tenant: TenantShortId | undefined,
      detail: Record<string, unknown> = {},
    ) => {
      if (tenant !== undefined)
        auditInBackground(c, {
          tenantId: tenant,
          actor,
          action: "request.denied",
          target: routeName,
          detail: { code, kind, ...detail },
        });
      else countDenial(c, code, kind, routeName);
      return new ApiError(code, MESSAGES[code] ?? "Not allowed.", {
        ...(Object.keys(detail).length === 0 ? {} : { extra: { detail } }),
      });
    };
    const knownTenant = async (): Promise<TenantShortId | undefined> => {
      if (principal.kind === "apiToken") return parseTenantShortId(principal.tenantId);
      if (principal.kind !== "forge") return undefined;
      const found = await findTenant(c.env.DB, installationOf(principal.ctx));
      return found?.status === "active" && found.installationId === principal.ctx.installationId
        ? found.id
        : undefined;
    };

    // --- 2. caller kind ---------------------------------------------------------------------------
    if (!allows(policy.allow, kind)) {
      const userRoute =
        policy.allow.forgeMacro !== undefined ||
        policy.allow.forgeAdmin === true ||
        policy.allow.forgeStatus !== undefined;
      throw refuse(
        // A Forge caller without a user (the app's function, or an anonymous viewer) on a user's route.
        principal.kind === "forge" && principal.ctx.accountId === undefined && userRoute
          ? "NO_PRINCIPAL"
          : "PRINCIPAL_NOT_ALLOWED",
        await knownTenant(),
      );
    }

    // --- 3. scope ---------------------------------------------------------------------------------------
    if (!hasScope(policy.allow, principal)) throw refuse("INSUFFICIENT_SCOPE", await knownTenant());

    // --- 4. tenant ----------------------------------------------------------------------------------------
    let tenant: Tenant | undefined;
    if (principal.kind === "apiToken") {
      const id = parseTenantShortId(principal.tenantId);
      tenant = id === undefined ? undefined : await getTenant(c.env.DB, id);
      // A purged or purging tenant's tokens stop working at once: the token is as good as revoked.
      if (tenant === undefined || tenant.status !== "active")
        throw unauthenticated(
          c,
          {
            method: "apiToken",
            failure: authFailure("AUTH_INVALID_TOKEN"),
            apiTokenRefusal: "tenant-inactive",
          },
          routeName,
        );
      // `last_used_at` for the token list (at most once a minute per token, after the answer).
      afterResponse(c, recordApiTokenUse(c.env.DB, principal.tokenId, now()));
    }
    let forgeTenant: Tenant | undefined;
    if (principal.kind === "forge" && policy.object === "installation") {
      // Lifecycle and product events: the route decides what the event does to the tenant as it is.
      const found = await findTenant(c.env.DB, installationOf(principal.ctx));
      c.set("access", {
        principal,
        kind,
        actor,
        scopes: [],
        tenant: found,
        installation: installationOf(principal.ctx),
      });
      return next();
    }
    if (principal.kind === "forge") {
      const found = await findTenant(c.env.DB, installationOf(principal.ctx));
      if (found?.status === "purging") throw refuse("TENANT_PURGING", undefined);
      if (found !== undefined && found.installationId !== principal.ctx.installationId)
        throw refuse("INSTALLATION_MISMATCH", undefined);
      forgeTenant = found;
    }

    // --- 4b. the Marketplace license (paid app, production) ------------------------------------------
    if (principal.kind === "forge") {
      const lapsed = licenseLapsed(principal.ctx);
      const told = licenseStateOf(principal.ctx);
      if (forgeTenant !== undefined && told !== undefined && forgeTenant.licenseState !== told)
        afterResponse(c, recordLicense(c.env.DB, forgeTenant.id, told));
      // Counted, not audited: every viewer of every page would otherwise append a refusal.
      if (policy.licensed && lapsed) throw refuse("LICENSE_INACTIVE", undefined);
    } else if (policy.licensed && tenant?.licenseState === "inactive") {
      throw refuse("LICENSE_INACTIVE", undefined);
    }

    // --- 5. Confluence, with the user's own token ---------------------------------------------------
    let macroCheck: { content: ContentRef; localId: string; canEdit: boolean } | undefined;
    if (principal.kind === "forge" && kind === "forgeMacro") {
      const { ctx } = principal;
      const content = ctx.page.content;
      const localId = ctx.page.localId;
      if (!ctx.hasContext || content === undefined || localId === undefined || !isContentType(content.type))
        throw new ApiError("INVALID_CONTEXT", MESSAGES.INVALID_CONTEXT as string);
      const ref: ContentRef = { id: content.id, type: content.type };
      const mode = policy.allow.forgeMacro;
      let canEdit = false;
      if (mode === "read" || mode === "update") {
        const check = {
          tenant: ctx.tenantKey,
          content: ref,
          userToken: c.req.header(USER_TOKEN_HEADER),
          apiBaseUrl: ctx.apiBaseUrl,
        };
        const client = permissionsOf(c);
        const verdict = mode === "read" ? await client.canRead(check) : await client.canUpdate(check);
        if (!verdict.allowed) throw denyByConfluence(verdict, mode, forgeTenant?.id, refuse, ref);
        // One Confluence call answers read and update (cached): "may I edit here?" costs nothing more.
        canEdit = mode === "update" || (await client.canUpdate(check)).allowed;
      }
      macroCheck = { content: ref, localId, canEdit };
    }
    if (principal.kind === "forge" && kind === "forgeStatus") {
      // The status macro: the user must be able to view the page it is on, asked with their own token.
      const { ctx } = principal;
      const content = ctx.page.content;
      if (!ctx.hasContext || content === undefined || !isContentType(content.type))
        throw new ApiError(
          "INVALID_CONTEXT",
          "Call this from the Service status macro on a Confluence page.",
        );
      const ref: ContentRef = { id: content.id, type: content.type };
      const verdict = await permissionsOf(c).canRead({
        tenant: ctx.tenantKey,
        content: ref,
        userToken: c.req.header(USER_TOKEN_HEADER),
        apiBaseUrl: ctx.apiBaseUrl,
      });
      if (!verdict.allowed) throw denyByConfluence(verdict, "read", forgeTenant?.id, refuse, ref);
    }
    if (principal.kind === "forge" && kind === "forgeAdmin") {
      const { ctx } = principal;
      const verdict = await permissionsOf(c).isAdmin({
        tenant: ctx.tenantKey,
        userToken: c.req.header(USER_TOKEN_HEADER),
        apiBaseUrl: ctx.apiBaseUrl,
      });
      if (!verdict.allowed) throw denyByConfluence(verdict, "admin", forgeTenant?.id, refuse);
    }

    // A Forge caller Confluence vouched for: its installation's tenant, made on first sight.
    if (principal.kind === "forge") {
      if (forgeTenant === undefined) {
        const made = await ensureTenant(c.env.DB, installationOf(principal.ctx), { now });
        if (made.status !== "active") throw refuse("TENANT_PURGING", undefined);
        if (made.installationId !== principal.ctx.installationId)
          throw refuse("INSTALLATION_MISMATCH", undefined);
        const { created, ...row } = made;
        forgeTenant = row;
        if (created)
          auditInBackground(c, {
            tenantId: row.id,
            actor,
            action: "tenant.create",
            target: `tenant:${row.id}`,
            detail: { cloudId: row.cloudId, installationId: row.installationId },
          });
      }
      tenant = forgeTenant;
    }

    // --- 6. object --------------------------------------------------------------------------------------
    const access: {
      -readonly [K in keyof Access]: Access[K];
    } = {
      principal,
      kind,
      actor,
      scopes: scopesOf(kind, principal),
      tenant,
    };
    const inTenant = (): Tenant => {
      if (tenant === undefined)
        throw new Error(`route policy: ${routeName} resolves an object without a tenant`);
      return tenant;
    };
    switch (policy.object) {
      case "none":
        break;
      case "site":
      case "siteOrNew": {
        const raw = params.site ?? "";
        if (policy.object === "siteOrNew" && raw === NEW_SITE) break;
        access.site = await siteIn(c, inTenant().id, raw);
        break;
      }
      case "job": {
        const raw = params.job ?? "";
        if (!JOB_ID.test(raw)) throw malformedParam("job", "must be a job id");
        const job = await getJob(c.env.DB, inTenant().id, raw);
        if (job === undefined) throw new ApiError("NOT_FOUND", "No such job.");
        access.job = job;
        break;
      }
      case "token": {
        const raw = params.token ?? "";
        if (!TOKEN_ID.test(raw)) throw malformedParam("token", "must be a token id (`tok_…`)");
        const token = await getApiToken(c.env.DB, inTenant().id, raw);
        if (token === undefined) throw new ApiError("NOT_FOUND", "No such token.");
        access.token = token;
        break;
      }
      case "monitor": {
        const raw = params.monitor ?? "";
        if (!MONITOR_ID.test(raw)) throw malformedParam("monitor", "must be a monitor id (`mon_…`)");
        const monitor = await getMonitor(c.env.DB, inTenant().id, raw);
        if (monitor === undefined) throw new ApiError("NOT_FOUND", "No such monitor.");
        access.monitor = monitor;
        break;
      }
      case "macro": {
        if (principal.kind !== "forge" || macroCheck === undefined)
          throw new Error(`route policy: ${routeName} resolves a macro for a non-macro caller`);
        const ctx = principal.ctx;
        const key = { cloudId: ctx.cloudId, contentId: macroCheck.content.id, localId: macroCheck.localId };
        const binding = await getBinding(c.env.DB, inTenant().id, key);
        const site =
          binding === undefined ? undefined : await getSite(c.env.DB, inTenant().id, binding.siteId);
        const pageState = await getPageState(c.env.DB, inTenant().id, key.contentId);
        const client = permissionsOf(c);
        const userToken = c.req.header(USER_TOKEN_HEADER);
        const macro: MacroAccess = {
          key,
          content: macroCheck.content,
          binding,
          site,
          canEdit: macroCheck.canEdit,
          pageState,
          mayRead: async (content) =>
            (
              await client.canRead({
                tenant: ctx.tenantKey,
                content,
                userToken,
                apiBaseUrl: ctx.apiBaseUrl,
              })
            ).allowed,
        };
        access.macro = macro;
        break;
      }
      case "installation":
        throw new Error(
          `route policy: ${routeName} hands an installation to a caller other than a Forge function`,
        );
      case "uploadTicket": {
        if (principal.kind !== "forge" || macroCheck === undefined)
          throw new Error(`route policy: ${routeName} resolves an upload for a non-macro caller`);
        access.ticket = await ticketFor(c, params.ticket ?? "", {
          tenant: inTenant().id,
          account: principal.ctx.accountId as string,
          contentId: macroCheck.content.id,
          now: now(),
        });
        break;
      }
    }
    c.set("access", access);
    await next();
  };
}

/** `POST /v1/sites/new/versions` publishes a new site (ids are random; a client never picks one). */
export const NEW_SITE = "new";

const JOB_ID = /^[A-Za-z0-9_-]{16,64}$/;
const TOKEN_ID = /^tok_[a-z2-7]{8,60}$/;

/** A path parameter that cannot name anything is the caller's mistake (400), not a missing object. */
function malformedParam(name: string, message: string): ApiError {
  return new ApiError("INVALID_REQUEST", `param.${name}: ${message}`, [{ path: `param.${name}`, message }]);
}

/** The site named by a path parameter, in this tenant only: another tenant's id reads as missing. */
async function siteIn(c: AppContext, tenant: TenantShortId, raw: string) {
  const id: SiteId | undefined = parseSiteId(raw);
  if (id === undefined)
    throw malformedParam("site", `must be a site id: ${SITE_ID_LENGTH} lowercase base32 characters`);
  const site = await getSite(c.env.DB, tenant, id);
  if (site === undefined) throw new ApiError("NOT_FOUND", "No such site.");
  return site;
}

/**
 * An editor upload's ticket, verified with the current upload-ticket key or — during a rotation — the
 * previous one, and bound to the tenant, page and user of the FIT that presents it: anyone else's FIT
 * reads it as "no such upload".
 */
async function ticketFor(
  c: AppContext,
  text: string,
  bound: { tenant: TenantShortId; account: string; contentId: string; now: number },
) {
  const keys = await controlKeys(c.env);
  if (!keys.ready)
    throw new ApiError(
      "NOT_CONFIGURED",
      "This Mini-Sites deployment is not fully configured; see /.well-known/mini-sites.",
    );
  const candidates = [keys.uploadTicket.current, keys.uploadTicket.previous].filter((k) => k !== undefined);
  let verdict: Awaited<ReturnType<typeof verifyUploadTicket>> = { ok: false, code: "UPLOAD_TICKET_INVALID" };
  for (const key of candidates) {
    verdict = await verifyUploadTicket(key.hmac, text, bound.now);
    if (verdict.ok || verdict.code === "UPLOAD_TICKET_EXPIRED") break;
  }
  if (!verdict.ok && verdict.code === "UPLOAD_TICKET_EXPIRED")
    throw new ApiError("UPLOAD_TICKET_EXPIRED", "The upload took too long. Start it again.");
  if (
    !verdict.ok ||
    verdict.claims.tenant !== bound.tenant ||
    verdict.claims.account !== bound.account ||
    verdict.claims.contentId !== bound.contentId
  )
    throw new ApiError("NOT_FOUND", "No such upload.");
  return verdict.claims;
}

function denyByConfluence(
  verdict: Extract<PermissionVerdict, { allowed: false }>,
  operation: "read" | "update" | "admin",
  tenant: TenantShortId | undefined,
  refuse: (
    code: ApiErrorCode,
    tenant: TenantShortId | undefined,
    detail?: Record<string, unknown>,
  ) => ApiError,
  content?: ContentRef,
): ApiError {
  // Operators see why (a code and the page id, never the token); the caller sees a stable code.
  console.warn(
    JSON.stringify({
      level: "warn",
      event: "policy.confluence_denied",
      operation,
      reason: verdict.reason,
      ...(content === undefined ? {} : { content: content.id }),
    }),
  );
  if (verdict.unavailable)
    return new ApiError(
      "PERMISSION_CHECK_UNAVAILABLE",
      "Confluence could not confirm your access. Try again shortly.",
    );
  const error = refuse("NO_ACCESS", tenant, { reason: verdict.reason });
  const message =
    operation === "read"
      ? "You do not have permission to view this page."
      : operation === "update"
        ? "You need edit permission on this page."
        : "Only a Confluence administrator can manage Mini-Sites.";
  return new ApiError("NO_ACCESS", message, { extra: error.extra });
}

function countDenial(c: AppContext, code: string, method: string, route: string): void {
  const flush = denials.record(c.env.DB, { code, method, route }, Date.now());
  if (flush !== undefined) afterResponse(c, flush);
}

/** A 401: counted (never audited one by one), with the header RFC 9110 asks for. */
function unauthenticated(c: AppContext, denial: AuthDenial, route: string): ApiError {
  const reason = denial.apiTokenRefusal === undefined ? "" : `:${denial.apiTokenRefusal}`;
  countDenial(c, `${denial.failure.code}${reason}`.slice(0, 64), denial.method ?? "none", route);
  const code = denial.failure.code;
  return new ApiError(code, denial.failure.message, {
    headers: { "WWW-Authenticate": 'Bearer realm="mini-sites"' },
  });
}

export type { Principal };
