/**
 * `GET /v1/audit` — the tenant's audit chain, newest first, page by page, with its verification: every
 * row's MAC, the links between rows, and the head against the anchor kept outside D1 (audit/anchor.ts),
 * so a tenant admin sees at once whether anything was altered, removed or cut off the end. Rows name
 * Forge users by pseudonym (privacy/pseudonyms.ts); they are shown as `forge:<accountId>` here, or as
 * `forge:closed~account` once Atlassian said the account was closed and it was anonymized.
 */

import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { type AppEnv, tenantOf } from "../app/context.ts";
import { ApiError } from "../app/errors.ts";
import { r2AuditAnchors } from "../audit/anchor.ts";
import { listChain, tenantChain, verifyChain } from "../audit/chain.ts";
import { controlKeys } from "../identity.ts";
import { readableActors } from "../privacy/pseudonyms.ts";
import { defineRoute } from "./define.ts";

const AuditQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(200)
    .default(50)
    .openapi({ param: { name: "limit", in: "query" } }),
  before: z.coerce
    .number()
    .int()
    .min(1)
    .optional()
    .openapi({ param: { name: "before", in: "query" }, description: "`nextBefore` of the previous page" }),
  verify: z
    .enum(["true", "false"])
    .default("true")
    .openapi({ param: { name: "verify", in: "query" }, description: "Walk and check the whole chain" }),
});

const AuditEntrySchema = z
  .object({
    seq: z.number().int(),
    at: z.string(),
    actor: z.string(),
    action: z.string(),
    target: z.string().nullable(),
    detail: z.record(z.string(), z.unknown()),
    mac: z.string(),
    keyId: z.string(),
  })
  .openapi("AuditEntry");

const Verification = z
  .object({
    ok: z.boolean(),
    rows: z.number().int().optional(),
    headSeq: z.number().int().optional(),
    anchoredSeq: z.number().int().nullable().optional(),
    brokenAt: z.number().int().optional(),
    reason: z.string().optional(),
  })
  .openapi("AuditVerification");

const auditRoute = defineRoute(
  {
    method: "get",
    path: "/v1/audit",
    summary: "The tenant's audit log, newest first, and whether its chain verifies",
    tags: ["audit"],
    request: { query: AuditQuery },
    responses: {
      200: {
        description: "One page of entries",
        content: {
          "application/json": {
            schema: z
              .object({
                entries: z.array(AuditEntrySchema),
                nextBefore: z.number().int().nullable(),
                verification: Verification.nullable(),
              })
              .openapi("AuditPage"),
          },
        },
      },
    },
  },
  "INVALID_REQUEST",
  "NOT_CONFIGURED",
);

export function registerAuditRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(auditRoute, async (c) => {
    const keys = await controlKeys(c.env);
    if (!keys.ready)
      throw new ApiError(
        "NOT_CONFIGURED",
        "The deployment identity secret is missing; see /.well-known/mini-sites.",
      );
    const tenantId = tenantOf(c).id;
    const chain = tenantChain(tenantId);
    const { limit, before, verify } = c.req.valid("query");
    const page = await listChain(c.env.DB, chain, { limit, ...(before === undefined ? {} : { before }) });
    // Rows name Forge users by pseudonym; the tenant's own admins read them as account ids again.
    const actors = await readableActors(
      c.env.DB,
      tenantId,
      page.entries.map((entry) => entry.actor),
    );
    const verification =
      verify === "true"
        ? await verifyChain(c.env.DB, keys.audit, chain, r2AuditAnchors(c.env.BUNDLES))
        : null;
    return c.json(
      {
        entries: page.entries.map((entry) => ({
          seq: entry.seq,
          at: new Date(entry.at).toISOString(),
          actor: actors.get(entry.actor) ?? entry.actor,
          action: entry.action,
          target: entry.target,
          detail: JSON.parse(entry.detail) as Record<string, unknown>,
          mac: entry.mac,
          keyId: entry.keyId,
        })),
        nextBefore: page.nextBefore,
        verification,
      },
      200,
    );
  });
}
