/**
 * The API-token management API — for API tokens with `tokens:manage` and the admin page (policy/table.ts):
 *
 *   POST   /v1/tokens {label, scopes}   issue a token; its text is in this response and nowhere else   201
 *   GET    /v1/tokens                   the tenant's tokens, newest first, revoked ones included        200
 *   DELETE /v1/tokens/{token}           revoke (idempotent)                                            200
 *
 * Threats and answers:
 * - A token leaks through a listing, a log or the audit log → the text exists only in the 201 body;
 *   the store keeps a SHA-256 digest (auth/api-tokens.ts), listings read columns that exclude even the
 *   digest (db/api-tokens.ts), and audit details carry the id, display prefix and scopes only.
 * - A narrow token mints a wider one → every route needs `tokens:manage`, and a new token's scopes must
 *   be a subset of the caller's own: a credential can hand on what it has, never more.
 * - Any Confluence user of an installation mints a tenant-wide token → the only Forge caller the policy
 *   lets in is the admin page, and only for a user Confluence says is an administrator; the macro and
 *   Forge functions are refused, and so is the deployment-wide CI secret, which has no tenant.
 * - A tenant revokes or enumerates another tenant's tokens → every query is filtered by the caller's
 *   tenant, so another tenant's token id answers exactly like a missing one: 404.
 * - A token change escapes the record → the audit append is part of the action and fails closed: no
 *   audit key, no token; an append that fails after issuing revokes the fresh token before answering.
 */

import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { type Access, type AppEnv, accessOf, tenantOf, tokenOf } from "../app/context.ts";
import { ApiError } from "../app/errors.ts";
import type { AuditEntry } from "../audit/chain.ts";
import { auditLogOf } from "../audit/log.ts";
import { issueApiToken } from "../auth/api-tokens.ts";
import { SCOPES, type Scope } from "../auth/principal.ts";
import { type ApiTokenSummary, D1ApiTokenStore, getApiToken, listApiTokens } from "../db/api-tokens.ts";
import { defineRoute } from "./define.ts";
import { PageQuery } from "./schemas.ts";
import { withCursor } from "./sites.ts";

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
const ScopeSchema = z.enum(SCOPES);

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
      .max(SCOPES.length * 2)
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

export const createTokenRoute = defineRoute(
  {
    method: "post",
    path: "/v1/tokens",
    summary: "Issue an API token for this tenant; the token is shown once",
    description: "The new token's scopes must be a subset of the caller's.",
    tags: ["tokens"],
    request: { body: { content: { "application/json": { schema: NewTokenBody } }, required: true } },
    responses: {
      201: {
        description: "The new token, with its text",
        content: { "application/json": { schema: NewTokenSchema } },
      },
    },
  },
  "NOT_CONFIGURED",
);

export const listTokensRoute = defineRoute(
  {
    method: "get",
    path: "/v1/tokens",
    summary: "List this tenant's API tokens, newest first (never their text or digest)",
    tags: ["tokens"],
    request: { query: PageQuery },
    responses: {
      200: {
        description: "One page of tokens",
        content: { "application/json": { schema: TokenListSchema } },
      },
    },
  },
  "INVALID_REQUEST",
);

export const revokeTokenRoute = defineRoute(
  {
    method: "delete",
    path: "/v1/tokens/{token}",
    summary: "Revoke an API token (idempotent); its next use answers 401",
    tags: ["tokens"],
    request: { params: TokenParams },
    responses: {
      200: { description: "The revoked token", content: { "application/json": { schema: TokenSchema } } },
    },
  },
  "NOT_CONFIGURED",
);

/** What an audit row says about a token: never its text or digest (keys named `token…` would be redacted anyway). */
function auditEntry(
  caller: Access,
  action: "token.create" | "token.revoke",
  token: { id: string; displayPrefix: string; scopes: readonly Scope[] },
  extra: Record<string, unknown> = {},
): AuditEntry {
  return {
    tenantId: caller.tenant?.id ?? null,
    actor: caller.actor,
    action,
    target: `token:${token.id}`,
    detail: { id: token.id, prefix: token.displayPrefix, scopes: [...token.scopes], ...extra },
  };
}

export function registerTokenRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(createTokenRoute, async (c) => {
    const caller = accessOf(c);
    const tenant = tenantOf(c);
    const { label, scopes } = c.req.valid("json");
    const beyond = scopes.filter((scope) => !caller.scopes.includes(scope));
    if (beyond.length > 0)
      throw new ApiError(
        "INSUFFICIENT_SCOPE",
        `A token cannot grant scopes its issuer lacks: ${[...new Set(beyond)].join(", ")}.`,
        [{ path: "json.scopes", message: "must be a subset of the caller's scopes" }],
      );
    const log = await auditLogOf(c.env);
    const store = new D1ApiTokenStore(c.env.DB);
    const { token, record } = await issueApiToken(store, {
      tenantId: tenant.id,
      scopes,
      label,
      createdBy: caller.actor,
    });
    try {
      await log.append(auditEntry(caller, "token.create", record, { label }));
    } catch (error) {
      // Nobody has seen the token yet; revoking it keeps "issued" and "audited" the same set.
      await store.revoke(tenant.id, record.id, Date.now()).catch(() => undefined);
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
    const { limit, cursor } = c.req.valid("query");
    const page = await withCursor(() => listApiTokens(c.env.DB, tenantOf(c).id, { limit, cursor }));
    return c.json({ tokens: page.items.map(tokenJson), nextCursor: page.nextCursor }, 200);
  });

  app.openapi(revokeTokenRoute, async (c) => {
    const caller = accessOf(c);
    const tenant = tenantOf(c);
    const existing = tokenOf(c);
    const log = await auditLogOf(c.env);
    const alreadyRevoked = existing.revokedAt !== null;
    if (!alreadyRevoked) await new D1ApiTokenStore(c.env.DB).revoke(tenant.id, existing.id, Date.now());
    // A repeat is audited too: if the first attempt's append failed, the retry is what records it.
    await log.append(auditEntry(caller, "token.revoke", existing, { alreadyRevoked }));
    const revoked = await getApiToken(c.env.DB, tenant.id, existing.id);
    if (revoked === undefined) throw new ApiError("NOT_FOUND", TOKEN_NOT_FOUND);
    return c.json(tokenJson(revoked), 200);
  });
}
