/**
 * The Macro API: what the Forge macro (Custom UI, through Forge Remote) calls. Mounted by the app under
 * `/v1/macro` (issue 4 item 6; DESIGN §3 Serve, Copy semantics; §6 invariants 2–4).
 *
 *   POST /serve-url                      viewer: a grant URL for the bound site's live version
 *   GET  /state                          editor: bound site, live version, last job
 *   POST /bind {siteId}                  editor: bind this macro to a site (or fork it, see below)
 *   POST /upload-ticket {size, name?}    editor: a short-lived ticket for a chunked upload
 *   PUT  /uploads/{ticket}/chunks/{n}    browser (requestRemote): one chunk
 *   POST /uploads/{ticket}/complete      browser (requestRemote): assemble and publish
 *
 * Who may do what, and how it is decided:
 * - Every call carries a FIT (verified by control/src/auth). A FIT without `principal` (a Forge
 *   function, not a user) ⇒ 403 NO_ACCESS. 401 is never used here: Forge reserves it for FIT failures.
 * - The tenant (app id + installation + cloudId) and the macro (cloudId, content id, local id) come from
 *   the FIT's signed claims only. No request field can name another page, macro or tenant.
 * - Page fields in a FIT are signed but not documented as permission-checked (Forge documents resolver
 *   context as safe for authorization, developer.atlassian.com/platform/forge/app-context-security; the
 *   page ids are what the frontend rendered). So they only locate the binding; the decision is a
 *   Confluence permission check made with the user's own `x-forge-oauth-user` token: read to view,
 *   update to bind or upload. A Confluence failure denies (503 PERMISSION_CHECK_UNAVAILABLE, retryable;
 *   never a URL).
 * - The read check runs before the binding is looked up, so a user who may not read the page learns
 *   nothing — not even whether it holds a published site.
 * - Another tenant's site is indistinguishable from a missing one: 404 for anything that names a site,
 *   NOT_PUBLISHED where the lookup is by the macro (the binding simply does not exist in this tenant).
 *
 * Copy semantics (DESIGN §3): a binding is keyed by content id, so a copied page is unbound and shows
 * NOT_PUBLISHED. Its macro config still holds the source's site id (Forge copies macro config with the
 * page), which the editor sends to `bind`. Binding a site that another macro already shows never
 * shares it: it FORKS — a new site in the same tenant, bound to this macro, started from the source's
 * live version when the publish pipeline can copy it (MacroPublisher.copyVersion), else empty.
 * Forking needs update permission here AND read permission on a page where the source is bound (up to
 * FORK_SOURCE_CHECKS of them), so nobody can copy a site they could not see; failing that it is 404.
 * Binding a site no macro shows (e.g. one published from the CLI) simply claims it.
 */

import {
  DEFAULT_LIMITS,
  isSiteVersion,
  parseSiteId,
  type SiteId,
  type TenantShortId,
} from "@mini-sites/core";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import type { AuditEntry } from "../audit/chain.ts";
import type { FitVerifier, ForgeContext } from "../auth/fit.ts";
import { type AuthVariables, authenticate, type Principal } from "../auth/middleware.ts";
import {
  type ContentRef,
  createPermissionClient,
  isContentType,
  type PermissionClient,
  type PermissionVerdict,
} from "../confluence/permissions.ts";
import { createSite, getSite } from "../db/sites.ts";
import { getVersionStatus } from "../db/versions.ts";
import type { ControlEnv, R2Bucket } from "../env.ts";
import { allowsLoopbackHttp, mintSiteGrant } from "../grants.ts";
import { controlKeys } from "../identity.ts";
import { PublishError, publishErrorResponse } from "../publish/errors.ts";
import type { MacroPublisher } from "./publisher.ts";
import {
  bindMacro,
  getBinding,
  lastJobOfSite,
  type MacroKey,
  otherBindingsOfSite,
  tenantOfForge,
} from "./store.ts";
import { signUploadTicket, UPLOAD_TICKET_TTL_SECONDS, verifyUploadTicket } from "./ticket.ts";
import {
  assemble,
  bundleKeyOf,
  chunkCount,
  expectedChunkSize,
  storeChunk,
  UPLOAD_CHUNK_BYTES,
  uploadPrefix,
} from "./uploads.ts";

/** The header Forge puts the user's token in when the endpoint sets `auth.appUserToken` (DESIGN §8). */
export const USER_TOKEN_HEADER = "x-forge-oauth-user";

/** Pages where a fork's source is bound that are checked for read permission before giving up. */
export const FORK_SOURCE_CHECKS = 3;

export const MACRO_ERROR_CODES = {
  /** No signed-in user, or the user may not read (view) / update (edit) this page. */
  NO_ACCESS: 403,
  /** The admin kill switch is on for this site: no new grants. */
  SITE_DISABLED: 403,
  UPLOAD_TICKET_EXPIRED: 403,
  /** The FIT has no macro context (content, local id): not called from a macro. */
  INVALID_CONTEXT: 400,
  INVALID_REQUEST: 400,
  /** No such site / upload in this tenant (also another tenant's). */
  NOT_FOUND: 404,
  /** Not every chunk has arrived. */
  UPLOAD_INCOMPLETE: 409,
  BUNDLE_TOO_LARGE: 413,
  /** The publish pipeline refused the bundle (its code is passed through in `detail`). */
  BUNDLE_REJECTED: 422,
  /** Confluence did not answer the permission check: denied; retry shortly. */
  PERMISSION_CHECK_UNAVAILABLE: 503,
  /** A deployment secret or variable is missing (APP_PSK, SITES_DOMAIN…); `/.well-known/mini-sites` says which. */
  NOT_CONFIGURED: 503,
  /** The editor-upload path is not wired to the publish pipeline in this deployment. */
  PUBLISH_NOT_AVAILABLE: 503,
} as const;
export type MacroErrorCode = keyof typeof MACRO_ERROR_CODES;

export interface MacroDeps {
  /** Confluence permission client; defaults to one per isolate (and per dev flag). */
  readonly permissions?: PermissionClient;
  readonly publisher?: MacroPublisher;
  /**
   * The authentication in front of every macro route. Defaults to control/src/auth's
   * `authenticate({ allow: ["fit"] })`. Pass a pass-through if the app already set an auth Principal.
   */
  readonly authenticate?: MiddlewareHandler<MacroHonoEnv>;
  /** Used by the default authenticate (tests point it at the Forge stand-in). */
  readonly fitVerifier?: (c: Context<MacroHonoEnv>) => FitVerifier;
  /** Appends to the audit log (binds, forks, denials). Failures are logged, never turned into an allow. */
  readonly audit?: (env: ControlEnv, entry: AuditEntry) => Promise<void>;
  /** The R2 bucket uploads go to; defaults to env.BUNDLES. */
  readonly bucket?: (env: ControlEnv) => R2Bucket;
  readonly now?: () => number;
}

export interface MacroHonoEnv {
  Bindings: ControlEnv;
  Variables: AuthVariables;
}

type MacroContext = Context<MacroHonoEnv>;

function fail(c: MacroContext, code: MacroErrorCode, message: string, detail?: Record<string, unknown>) {
  return c.json(
    { error: { code, message, ...(detail === undefined ? {} : { detail }) } },
    MACRO_ERROR_CODES[code],
    { "Cache-Control": "no-store" },
  );
}

/** The signed-in user and the macro this FIT is for. */
interface MacroCaller {
  readonly ctx: ForgeContext & { readonly accountId: string };
  readonly key: MacroKey;
  readonly content: ContentRef;
  readonly actor: string;
}

type CallerResult = { ok: true; caller: MacroCaller } | { ok: false; response: Response };

function callerOf(c: MacroContext): CallerResult {
  const principal = c.get("principal") as Principal | undefined;
  // Only control/src/auth's Forge principal carries the verified FIT context this API needs.
  if (principal?.kind !== "forge" || principal.ctx?.accountId === undefined) {
    return { ok: false, response: fail(c, "NO_ACCESS", "This needs a signed-in Confluence user.") };
  }
  const ctx = principal.ctx as ForgeContext & { readonly accountId: string };
  const content = ctx.page.content;
  const localId = ctx.page.localId;
  if (!ctx.hasContext || content === undefined || localId === undefined || !isContentType(content.type)) {
    return {
      ok: false,
      response: fail(
        c,
        "INVALID_CONTEXT",
        "Call this from the Mini-Sites macro on a Confluence page or blog post.",
      ),
    };
  }
  return {
    ok: true,
    caller: {
      ctx,
      key: { cloudId: ctx.cloudId, contentId: content.id, localId },
      content: { id: content.id, type: content.type },
      actor: `forge:${ctx.accountId}`,
    },
  };
}

const ServeUrlBody = z
  .object({
    /** Renewal: keep showing this version (DESIGN §3: a renewal never swaps the version). */
    version: z.number().int().optional(),
  })
  .strict();
const BindBody = z.object({ siteId: z.string().min(1).max(64) }).strict();
const UploadTicketBody = z
  .object({
    size: z.number().int().min(1),
    name: z.string().min(1).max(200).optional(),
  })
  .strict();

async function jsonBody<T>(
  c: MacroContext,
  schema: z.ZodType<T>,
  optional: boolean,
): Promise<{ ok: true; value: T } | { ok: false; response: Response }> {
  const text = await c.req.text();
  let raw: unknown = {};
  if (text.trim() !== "") {
    try {
      raw = JSON.parse(text);
    } catch {
      return { ok: false, response: fail(c, "INVALID_REQUEST", "The request body is not valid JSON.") };
    }
  } else if (!optional) {
    return { ok: false, response: fail(c, "INVALID_REQUEST", "A JSON body is required.") };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue === undefined ? "json" : ["json", ...issue.path.map(String)].join(".");
    return { ok: false, response: fail(c, "INVALID_REQUEST", `${path}: ${issue?.message ?? "invalid"}`) };
  }
  return { ok: true, value: parsed.data };
}

export function createMacroRoutes(deps: MacroDeps = {}): Hono<MacroHonoEnv> {
  const now = deps.now ?? Date.now;
  const clients = new Map<boolean, PermissionClient>();
  const permissionsFor = (env: ControlEnv): PermissionClient => {
    if (deps.permissions !== undefined) return deps.permissions;
    const flag = allowsLoopbackHttp(env);
    let client = clients.get(flag);
    if (client === undefined) {
      client = createPermissionClient({ allowLoopbackHttp: flag, now });
      clients.set(flag, client);
    }
    return client;
  };
  const bucketOf = deps.bucket ?? ((env: ControlEnv) => env.BUNDLES);

  async function audit(env: ControlEnv, entry: AuditEntry): Promise<void> {
    if (deps.audit === undefined) return;
    try {
      await deps.audit(env, entry);
    } catch {
      console.error(JSON.stringify({ level: "error", event: "macro.audit_failed", action: entry.action }));
    }
  }

  /** The user's permission on the FIT's page, with their own token. Returns a response when denied. */
  async function requirePermission(
    c: MacroContext,
    caller: MacroCaller,
    operation: "read" | "update",
  ): Promise<{ ok: true; verdict: PermissionVerdict } | { ok: false; response: Response }> {
    const client = permissionsFor(c.env);
    const check = {
      tenant: caller.ctx.tenantKey,
      content: caller.content,
      userToken: c.req.header(USER_TOKEN_HEADER),
      apiBaseUrl: caller.ctx.apiBaseUrl,
    };
    const verdict = operation === "read" ? await client.canRead(check) : await client.canUpdate(check);
    if (verdict.allowed) return { ok: true, verdict };
    // Operators see why (a code and the page id, never the token); the caller sees a stable code.
    console.warn(
      JSON.stringify({
        level: "warn",
        event: "macro.permission_denied",
        operation,
        reason: verdict.reason,
        content: caller.content.id,
      }),
    );
    if (verdict.unavailable) {
      return {
        ok: false,
        response: fail(
          c,
          "PERMISSION_CHECK_UNAVAILABLE",
          "Confluence could not confirm your access to this page. Try again shortly.",
        ),
      };
    }
    return {
      ok: false,
      response: fail(
        c,
        "NO_ACCESS",
        operation === "read"
          ? "You do not have permission to view this page."
          : "You need edit permission on this page.",
        { reason: verdict.reason },
      ),
    };
  }

  const app = new Hono<MacroHonoEnv>();
  app.use(
    "*",
    deps.authenticate ??
      authenticate<MacroHonoEnv>({
        allow: ["fit"],
        ...(deps.fitVerifier === undefined ? {} : { fitVerifier: deps.fitVerifier }),
      }),
  );

  // --- Viewer -----------------------------------------------------------------------------------

  app.post("/serve-url", async (c) => {
    const found = callerOf(c);
    if (!found.ok) return found.response;
    const { caller } = found;
    const body = await jsonBody(c, ServeUrlBody, true);
    if (!body.ok) return body.response;

    const permitted = await requirePermission(c, caller, "read");
    if (!permitted.ok) return permitted.response;

    const notPublished = () =>
      c.json({ state: "NOT_PUBLISHED" as const }, 200, { "Cache-Control": "no-store" });
    const tenant = await tenantOfForge(c.env.DB, caller.ctx, { create: false });
    if (tenant === undefined) return notPublished();
    const binding = await getBinding(c.env.DB, tenant.id, caller.key);
    if (binding === undefined) return notPublished();
    const site = await getSite(c.env.DB, tenant.id, binding.siteId);
    if (site === undefined) return notPublished();
    if (!site.enabled) return fail(c, "SITE_DISABLED", "An administrator has disabled this mini-site.");
    if (site.liveVersion === null) return notPublished();

    let version = site.liveVersion;
    const pinned = body.value.version;
    if (pinned !== undefined && pinned !== version) {
      // Renewal of a version that was live (now superseded): keep it until the next page load. A version
      // that never went live (staging, failed) is never servable (DESIGN §6.5).
      if (
        !isSiteVersion(pinned) ||
        (await getVersionStatus(c.env.DB, tenant.id, site.id, pinned)) !== "superseded"
      ) {
        return notPublished();
      }
      version = pinned;
    }

    const minted = await mintSiteGrant(c.env, { tenant: tenant.id, site: site.id, version }, now());
    if (!minted.ok) {
      console.error(
        JSON.stringify({ level: "error", event: "macro.not_configured", problems: minted.problems }),
      );
      return fail(
        c,
        "NOT_CONFIGURED",
        "This Mini-Sites deployment is not fully configured; see /.well-known/mini-sites.",
      );
    }
    const { grant } = minted;
    return c.json(
      {
        state: "PUBLISHED" as const,
        siteId: site.id,
        version,
        url: grant.url,
        renewUrl: grant.renewUrl,
        expiresAt: grant.expiresAt,
      },
      200,
      { "Cache-Control": "no-store" },
    );
  });

  // --- Editor -----------------------------------------------------------------------------------

  app.get("/state", async (c) => {
    const found = callerOf(c);
    if (!found.ok) return found.response;
    const { caller } = found;
    const permitted = await requirePermission(c, caller, "read");
    if (!permitted.ok) return permitted.response;
    // The same call answered update too (cached), so "may I edit here?" costs nothing extra.
    const update = await permissionsFor(c.env).canUpdate({
      tenant: caller.ctx.tenantKey,
      content: caller.content,
      userToken: c.req.header(USER_TOKEN_HEADER),
      apiBaseUrl: caller.ctx.apiBaseUrl,
    });
    const canEdit = update.allowed;
    const tenant = await tenantOfForge(c.env.DB, caller.ctx, { create: false });
    const binding = tenant === undefined ? undefined : await getBinding(c.env.DB, tenant.id, caller.key);
    const site =
      tenant === undefined || binding === undefined
        ? undefined
        : await getSite(c.env.DB, tenant.id, binding.siteId);
    if (tenant === undefined || site === undefined) {
      return c.json({ state: "NOT_PUBLISHED" as const, bound: false, canEdit, site: null, lastJob: null });
    }
    const job = await lastJobOfSite(c.env.DB, tenant.id, site.id);
    return c.json({
      state: !site.enabled
        ? ("SITE_DISABLED" as const)
        : site.liveVersion === null
          ? ("NOT_PUBLISHED" as const)
          : ("PUBLISHED" as const),
      bound: true,
      canEdit,
      site: { id: site.id, name: site.name, enabled: site.enabled, liveVersion: site.liveVersion },
      lastJob:
        job === undefined
          ? null
          : {
              id: job.id,
              kind: job.kind,
              version: job.version,
              state: job.state,
              step: job.step,
              progress: job.progress,
              error: job.errorCode === null ? null : { code: job.errorCode, message: job.errorMessage ?? "" },
              updatedAt: new Date(job.updatedAt).toISOString(),
            },
    });
  });

  app.post("/bind", async (c) => {
    const found = callerOf(c);
    if (!found.ok) return found.response;
    const { caller } = found;
    const body = await jsonBody(c, BindBody, false);
    if (!body.ok) return body.response;
    const permitted = await requirePermission(c, caller, "update");
    if (!permitted.ok) return permitted.response;

    const notFound = () => fail(c, "NOT_FOUND", "No such site.");
    const siteId = parseSiteId(body.value.siteId);
    if (siteId === undefined) return notFound();
    const tenant = await tenantOfForge(c.env.DB, caller.ctx, { create: true, now });
    if (tenant === undefined) return notFound();
    const source = await getSite(c.env.DB, tenant.id, siteId);
    if (source === undefined) return notFound();

    const current = await getBinding(c.env.DB, tenant.id, caller.key);
    if (current?.siteId === siteId) return c.json({ siteId, forkedFrom: null, copied: "none" as const });

    const elsewhere = await otherBindingsOfSite(c.env.DB, tenant.id, siteId, caller.key, FORK_SOURCE_CHECKS);
    if (elsewhere.length === 0) {
      const bound = await bindMacro(c.env.DB, tenant.id, caller.key, siteId, caller.actor, now());
      if (bound === undefined) return notFound();
      await audit(c.env, bindAudit(tenant.id, caller, siteId, null));
      return c.json({ siteId, forkedFrom: null, copied: "none" as const });
    }

    // The site is shown by another macro: fork, if this user may see (one of) the source page(s).
    let mayReadSource = false;
    for (const other of elsewhere) {
      const verdict = await permissionsFor(c.env).canRead({
        tenant: caller.ctx.tenantKey,
        // The type of the source page is not stored; pages are the common case, then blog posts.
        content: { id: other.contentId, type: "page" },
        userToken: c.req.header(USER_TOKEN_HEADER),
        apiBaseUrl: caller.ctx.apiBaseUrl,
      });
      const blog =
        verdict.allowed || verdict.reason !== "CONTENT_NOT_FOUND"
          ? verdict
          : await permissionsFor(c.env).canRead({
              tenant: caller.ctx.tenantKey,
              content: { id: other.contentId, type: "blogpost" },
              userToken: c.req.header(USER_TOKEN_HEADER),
              apiBaseUrl: caller.ctx.apiBaseUrl,
            });
      if (blog.allowed) {
        mayReadSource = true;
        break;
      }
    }
    if (!mayReadSource) return notFound();

    const fork = await createSite(c.env.DB, tenant.id, { name: source.name }, { now });
    const bound = await bindMacro(c.env.DB, tenant.id, caller.key, fork.id, caller.actor, now());
    if (bound === undefined) return notFound();
    await audit(c.env, bindAudit(tenant.id, caller, fork.id, source.id));

    let copied: "live" | "none" = "none";
    let job: { jobId: string; version: number; statusUrl: string } | null = null;
    if (source.liveVersion !== null && deps.publisher?.copyVersion !== undefined) {
      job =
        (await deps.publisher.copyVersion(c.env, {
          tenant: tenant.id,
          fromSite: source.id,
          version: source.liveVersion,
          toSite: fork.id,
          actor: caller.actor,
        })) ?? null;
      if (job !== null) copied = "live";
    }
    return c.json({ siteId: fork.id, forkedFrom: source.id, copied, job });
  });

  app.post("/upload-ticket", async (c) => {
    const found = callerOf(c);
    if (!found.ok) return found.response;
    const { caller } = found;
    const body = await jsonBody(c, UploadTicketBody, false);
    if (!body.ok) return body.response;
    if (body.value.size > DEFAULT_LIMITS.maxBundleBytes) {
      return fail(c, "BUNDLE_TOO_LARGE", `A bundle may be at most ${DEFAULT_LIMITS.maxBundleBytes} bytes.`);
    }
    const permitted = await requirePermission(c, caller, "update");
    if (!permitted.ok) return permitted.response;
    const keys = await controlKeys(c.env);
    if (!keys.ready)
      return fail(
        c,
        "NOT_CONFIGURED",
        "This Mini-Sites deployment is not fully configured; see /.well-known/mini-sites.",
      );

    const tenant = await tenantOfForge(c.env.DB, caller.ctx, { create: true, now });
    if (tenant === undefined) return fail(c, "NOT_FOUND", "This app installation has no active tenant.");
    // The first upload on an unbound macro (a new macro, or a copied page) creates its own site:
    // the copy never writes to its source's site (DESIGN §3 Copy semantics).
    let binding = await getBinding(c.env.DB, tenant.id, caller.key);
    let created = false;
    if (binding === undefined) {
      const site = await createSite(
        c.env.DB,
        tenant.id,
        { name: body.value.name ?? `Mini-site on ${caller.content.type} ${caller.content.id}` },
        { now },
      );
      binding = await bindMacro(c.env.DB, tenant.id, caller.key, site.id, caller.actor, now());
      if (binding === undefined) return fail(c, "NOT_FOUND", "No such site.");
      created = true;
      await audit(c.env, bindAudit(tenant.id, caller, site.id, null));
    }
    const nonce = crypto.randomUUID();
    const key = bundleKeyOf(uploadPrefix(tenant.id, binding.siteId, nonce));
    const upload = await bucketOf(c.env).createMultipartUpload(key);
    const expiresAt = Math.floor(now() / 1000) + UPLOAD_TICKET_TTL_SECONDS;
    const ticket = await signUploadTicket(keys.uploadTicket.current.hmac, {
      tenant: tenant.id,
      site: binding.siteId,
      contentId: caller.content.id,
      account: caller.ctx.accountId,
      key,
      uploadId: upload.uploadId,
      size: body.value.size,
      chunkBytes: UPLOAD_CHUNK_BYTES,
      expiresAt,
    });
    return c.json({
      ticket,
      siteId: binding.siteId,
      siteCreated: created,
      chunkBytes: UPLOAD_CHUNK_BYTES,
      chunks: chunkCount(body.value.size, UPLOAD_CHUNK_BYTES),
      uploadPath: `/v1/macro/uploads/${ticket}`,
      expiresAt: new Date(expiresAt * 1000).toISOString(),
    });
  });

  // --- Uploads (requestRemote: a FIT, no user token; the ticket carries the update decision) ------

  async function ticketFor(c: MacroContext, caller: MacroCaller) {
    const keys = await controlKeys(c.env);
    if (!keys.ready)
      return {
        ok: false as const,
        response: fail(c, "NOT_CONFIGURED", "This Mini-Sites deployment is not fully configured."),
      };
    const verdict = await verifyUploadTicket(
      keys.uploadTicket.current.hmac,
      c.req.param("ticket") ?? "",
      now(),
    );
    const notFound = { ok: false as const, response: fail(c, "NOT_FOUND", "No such upload.") };
    if (!verdict.ok) {
      return verdict.code === "UPLOAD_TICKET_EXPIRED"
        ? {
            ok: false as const,
            response: fail(c, "UPLOAD_TICKET_EXPIRED", "The upload took too long. Start it again."),
          }
        : notFound;
    }
    const claims = verdict.claims;
    // The ticket is bound to the tenant, page and user it was issued to: a FIT of anyone else is 404.
    const tenant = await tenantOfForge(c.env.DB, caller.ctx, { create: false });
    if (tenant === undefined || tenant.id !== claims.tenant) return notFound;
    if (claims.account !== caller.ctx.accountId || claims.contentId !== caller.content.id) return notFound;
    return { ok: true as const, claims, tenant: tenant.id as TenantShortId };
  }

  app.put("/uploads/:ticket/chunks/:n", async (c) => {
    const found = callerOf(c);
    if (!found.ok) return found.response;
    const ticket = await ticketFor(c, found.caller);
    if (!ticket.ok) return ticket.response;
    const { claims } = ticket;
    const n = Number(c.req.param("n"));
    const count = chunkCount(claims.size, claims.chunkBytes);
    if (!/^[0-9]{1,5}$/.test(c.req.param("n")) || n < 1 || n > count) {
      return fail(c, "INVALID_REQUEST", `Chunk numbers run from 1 to ${count}.`);
    }
    const expected = expectedChunkSize(claims.size, claims.chunkBytes, n);
    const bytes = await readExactly(c.req.raw, expected);
    if (bytes === undefined)
      return fail(c, "INVALID_REQUEST", `Chunk ${n} must be exactly ${expected} bytes.`);
    await storeChunk(bucketOf(c.env), claims, n, bytes);
    return c.json({ chunk: n, received: bytes.byteLength });
  });

  app.post("/uploads/:ticket/complete", async (c) => {
    const found = callerOf(c);
    if (!found.ok) return found.response;
    const ticket = await ticketFor(c, found.caller);
    if (!ticket.ok) return ticket.response;
    const { claims } = ticket;
    const assembled = await assemble(bucketOf(c.env), claims);
    if (!assembled.ok)
      return fail(c, "UPLOAD_INCOMPLETE", "Some chunks have not arrived.", { missing: assembled.missing });
    if (deps.publisher === undefined) {
      return fail(
        c,
        "PUBLISH_NOT_AVAILABLE",
        "The upload is stored, but publishing from the editor is not available yet.",
      );
    }
    try {
      const accepted = await deps.publisher.publishFromR2(c.env, {
        tenant: ticket.tenant,
        site: claims.site as SiteId,
        key: claims.key,
        actor: found.caller.actor,
      });
      return c.json(accepted, 202);
    } catch (error) {
      // Refusals that are not about the bundle (rate limit, quota, configuration) keep their own code.
      if (error instanceof PublishError) return publishErrorResponse(error);
      const code = (error as { code?: unknown }).code;
      if (typeof code === "string" && /^[A-Z][A-Z0-9_]{2,63}$/.test(code)) {
        return fail(c, "BUNDLE_REJECTED", (error as Error).message.slice(0, 500), { code });
      }
      throw error;
    }
  });

  return app;
}

function bindAudit(
  tenant: TenantShortId,
  caller: MacroCaller,
  siteId: SiteId,
  forkedFrom: SiteId | null,
): AuditEntry {
  return {
    tenantId: tenant,
    actor: caller.actor,
    action: "macro.bind",
    target: `site:${siteId}`,
    detail: {
      content: `${caller.content.type}:${caller.content.id}`,
      localId: caller.key.localId,
      ...(forkedFrom === null ? {} : { forkedFrom }),
    },
  };
}

/** The request body if it is exactly `size` bytes; undefined if shorter or longer (stops reading past it). */
async function readExactly(request: Request, size: number): Promise<Uint8Array | undefined> {
  if (request.body === null) return size === 0 ? new Uint8Array(0) : undefined;
  const out = new Uint8Array(size);
  let offset = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (offset + value.byteLength > size) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    out.set(value, offset);
    offset += value.byteLength;
  }
  return offset === size ? out : undefined;
}

/** The Macro API with the default dependencies (the lead mounts this under `/v1/macro`). */
export const macroRoutes = createMacroRoutes();
