/**
 * The API-token management API (issue 4 items 3 and 8), a sub-app the control Worker mounts under
 * `/v1` (`app.route("/v1", tokenRoutes)`), behind the app's authentication middleware:
 *
 *   POST   /tokens {label, scopes}   issue a token; its text is in this response and nowhere else   201
 *   GET    /tokens                   the tenant's tokens, newest first, revoked ones included        200
 *   DELETE /tokens/{token}           revoke (idempotent)                                            200
 *
 * Threats and answers:
 * - A token leaks through a listing, a log or the audit log → the text exists only in the 201 body;
 *   the store keeps a SHA-256 digest (auth/api-tokens.ts), listings read columns that exclude even the
 *   digest (db/api-tokens.ts), and audit details carry the id, display prefix and scopes only.
 * - A narrow token mints a wider one → every route needs `tokens:manage`, and a new token's scopes must
 *   be a subset of the caller's own: a credential can hand on what it has, never more.
 * - Any Confluence user of an installation mints a tenant-wide token → Forge callers (FIT) resolve to
 *   `sites:read` only (app/caller.ts: writes through Forge are authorized per page by Confluence), so
 *   they cannot manage tokens; nor can the deployment-wide CI shared secret, which has no tenant.
 * - A tenant revokes or enumerates another tenant's tokens → every query is filtered by the caller's
 *   tenant, so another tenant's token id answers exactly like a missing one: 404.
 * - A token change escapes the record → the audit append is part of the action and fails closed: no
 *   audit key, no token; an append that fails after issuing revokes the fresh token before answering.
 */

import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { type AppContext, type AppEnv, type Caller, requireCaller, requireScope } from "../app/context.ts";
import { ApiError } from "../app/errors.ts";
import { type AuditEntry, AuditLog } from "../audit/index.ts";
import { API_TOKEN_SCOPES, type ApiTokenScope, issueApiToken } from "../auth/api-tokens.ts";
import { type ApiTokenSummary, D1ApiTokenStore, getApiToken, listApiTokens } from "../db/api-tokens.ts";
import { InvalidCursor } from "../db/sites.ts";
import { controlKeys } from "../identity.ts";
import { API_SECURITY, errorResponses, PageQuery } from "./schemas.ts";

/** The `label` column's CHECK (migrations/0001_init.sql): long enough for "CI deploy of docs-site (prod)". */
export const MAX_TOKEN_LABEL_LENGTH = 200;

/** The same answer for "no such token" and "another tenant's token" (DESIGN §6.3). */
export const TOKEN_NOT_FOUND = "No such token.";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function tokenJson(token: ApiTokenSummary) {
  return {
    id: token.id,
    displayPrefix: token.displayPrefix,
    label: token.label,
    scopes: [...token.scopes],
    createdAt: new Date(token.createdAt).toISOString(),
    createdBy: token.createdBy,
    expiresAt: iso(token.expiresAt),
    lastUsedAt: iso(token.lastUsedAt),
    revokedAt: iso(token.revokedAt),
  };
}

const Timestamp = z.string().openapi({ description: "RFC 3339, UTC", example: "2026-11-20T10:00:00.000Z" });
const ScopeSchema = z.enum(API_TOKEN_SCOPES);

const TokenSchema = z
  .object({
    id: z.string().openapi({ example: "tok_abcdefghijklmnop" }),
    displayPrefix: z.string().openapi({ description: "The token's first characters, to tell tokens apart" }),
    label: z.string(),
    scopes: z.array(ScopeSchema),
    createdAt: Timestamp,
    createdBy: z
      .string()
      .nullable()
      .openapi({ description: "Who issued it: an actor id, never a credential" }),
    expiresAt: Timestamp.nullable(),
    lastUsedAt: Timestamp.nullable(),
    revokedAt: Timestamp.nullable(),
  })
  .openapi("ApiToken");

const TokenListSchema = z
  .object({ tokens: z.array(TokenSchema), nextCursor: z.string().nullable() })
  .openapi("ApiTokenList");

const NewTokenSchema = z
  .object({
    id: z.string(),
    token: z.string().openapi({
      description:
        "The token itself (`ms_…`). Shown in this response only: it is stored hashed and cannot be shown again.",
    }),
    displayPrefix: z.string(),
    scopes: z.array(ScopeSchema),
    label: z.string(),
    createdAt: Timestamp,
  })
  .openapi("NewApiToken");

const NewTokenBody = z
  .object({
    label: z
      .string()
      .trim()
      .min(1)
      .max(MAX_TOKEN_LABEL_LENGTH)
      // Labels are shown in terminals and logs: no control characters to rewrite what is around them.
      .regex(/^[^\p{Cc}]*$/u, "must not contain control characters")
      .openapi({ example: "CI deploy" }),
    scopes: z
      .array(ScopeSchema)
      .min(1)
      .max(API_TOKEN_SCOPES.length * 2)
      .openapi({ description: "At most the scopes of the credential making the request." }),
  })
  .strict()
  .openapi("NewApiTokenRequest");

const TokenParams = z.object({
  token: z
    .string()
    .regex(/^tok_[a-z2-7]{8,60}$/, "must be a token id (`tok_…`)")
    .openapi({ param: { name: "token", in: "path" }, example: "tok_abcdefghijklmnop" }),
});

const security = API_SECURITY;

export const createTokenRoute = createRoute({
  method: "post",
  path: "/tokens",
  summary: "Issue an API token for this tenant; the token is shown once",
  description:
    "Needs `tokens:manage`, and the new token's scopes must be a subset of the caller's. Forge callers cannot issue tokens.",
  tags: ["tokens"],
  security,
  request: { body: { content: { "application/json": { schema: NewTokenBody } }, required: true } },
  responses: {
    201: {
      description: "The new token, with its text",
      content: { "application/json": { schema: NewTokenSchema } },
    },
    ...errorResponses(
      "INVALID_REQUEST",
      "UNAUTHENTICATED",
      "FORBIDDEN",
      "BODY_TOO_LARGE",
      "NOT_CONFIGURED",
      "INTERNAL",
    ),
  },
});

export const listTokensRoute = createRoute({
  method: "get",
  path: "/tokens",
  summary: "List this tenant's API tokens, newest first (never their text or digest)",
  tags: ["tokens"],
  security,
  request: { query: PageQuery },
  responses: {
    200: { description: "One page of tokens", content: { "application/json": { schema: TokenListSchema } } },
    ...errorResponses("INVALID_REQUEST", "UNAUTHENTICATED", "FORBIDDEN", "INTERNAL"),
  },
});

export const revokeTokenRoute = createRoute({
  method: "delete",
  path: "/tokens/{token}",
  summary: "Revoke an API token (idempotent); its next use answers 401",
  tags: ["tokens"],
  security,
  request: { params: TokenParams },
  responses: {
    200: { description: "The revoked token", content: { "application/json": { schema: TokenSchema } } },
    ...errorResponses(
      "INVALID_REQUEST",
      "UNAUTHENTICATED",
      "FORBIDDEN",
      "NOT_FOUND",
      "NOT_CONFIGURED",
      "INTERNAL",
    ),
  },
});

/** The audit log, or NOT_CONFIGURED before anything is changed: a token change is never unrecorded. */
async function auditLogOf(c: AppContext): Promise<AuditLog> {
  const keys = await controlKeys(c.env);
  if (!keys.ready)
    throw new ApiError(
      "NOT_CONFIGURED",
      "The deployment identity secret is missing; see /.well-known/mini-sites.",
    );
  return new AuditLog(c.env.DB, keys.audit);
}

/** What an audit row says about a token: never its text or digest (keys named `token…` would be redacted anyway). */
function auditEntry(
  caller: Caller,
  action: "token.create" | "token.revoke",
  token: { id: string; displayPrefix: string; scopes: readonly ApiTokenScope[] },
  extra: Record<string, unknown> = {},
): AuditEntry {
  return {
    tenantId: caller.tenantId,
    actor: caller.actor,
    action,
    target: `token:${token.id}`,
    detail: { id: token.id, prefix: token.displayPrefix, scopes: [...token.scopes], ...extra },
  };
}

export function createTokenRoutes(): OpenAPIHono<AppEnv> {
  // No defaultHook or onError of its own: mounted with app.route(), validation failures and errors
  // answer through the app's (typed `{"error":{…}}`).
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(createTokenRoute, async (c) => {
    const caller = requireCaller(c);
    requireScope(caller, "tokens:manage");
    const { label, scopes } = c.req.valid("json");
    const beyond = scopes.filter((scope) => !caller.scopes.includes(scope));
    if (beyond.length > 0)
      throw new ApiError(
        "FORBIDDEN",
        `A token cannot grant scopes its issuer lacks: ${[...new Set(beyond)].join(", ")}.`,
        [{ path: "json.scopes", message: "must be a subset of the caller's scopes" }],
      );
    const log = await auditLogOf(c);
    const store = new D1ApiTokenStore(c.env.DB);
    const { token, record } = await issueApiToken(store, {
      tenantId: caller.tenantId,
      scopes,
      label,
      createdBy: caller.actor,
    });
    try {
      await log.append(auditEntry(caller, "token.create", record, { label }));
    } catch (error) {
      // Nobody has seen the token yet; revoking it keeps "issued" and "audited" the same set.
      await store.revoke(caller.tenantId, record.id, Date.now()).catch(() => undefined);
      throw error;
    }
    return c.json(
      {
        id: record.id,
        token,
        displayPrefix: record.displayPrefix,
        scopes: [...record.scopes],
        label: record.label,
        createdAt: new Date(record.createdAt).toISOString(),
      },
      201,
    );
  });

  app.openapi(listTokensRoute, async (c) => {
    const caller = requireCaller(c);
    requireScope(caller, "tokens:manage");
    const { limit, cursor } = c.req.valid("query");
    try {
      const page = await listApiTokens(c.env.DB, caller.tenantId, { limit, cursor });
      return c.json({ tokens: page.items.map(tokenJson), nextCursor: page.nextCursor }, 200);
    } catch (error) {
      if (error instanceof InvalidCursor)
        throw new ApiError("INVALID_REQUEST", error.message, [
          { path: "query.cursor", message: error.message },
        ]);
      throw error;
    }
  });

  app.openapi(revokeTokenRoute, async (c) => {
    const caller = requireCaller(c);
    requireScope(caller, "tokens:manage");
    const id = c.req.valid("param").token;
    const existing = await getApiToken(c.env.DB, caller.tenantId, id);
    if (existing === undefined) throw new ApiError("NOT_FOUND", TOKEN_NOT_FOUND);
    const log = await auditLogOf(c);
    const alreadyRevoked = existing.revokedAt !== null;
    if (!alreadyRevoked) await new D1ApiTokenStore(c.env.DB).revoke(caller.tenantId, id, Date.now());
    // A repeat is audited too: if the first attempt's append failed, the retry is what records it.
    await log.append(auditEntry(caller, "token.revoke", existing, { alreadyRevoked }));
    const revoked = await getApiToken(c.env.DB, caller.tenantId, id);
    if (revoked === undefined) throw new ApiError("NOT_FOUND", TOKEN_NOT_FOUND);
    return c.json(tokenJson(revoked), 200);
  });

  return app;
}

export const tokenRoutes = createTokenRoutes();
