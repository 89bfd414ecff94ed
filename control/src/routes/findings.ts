/**
 * Secret-scan findings a tenant admin accepted (DESIGN §5: a finding the author and an admin agree is
 * not a secret — a documentation example, a test fixture, a public identifier):
 *
 *   GET    /v1/tenant/accepted-findings                   the list (publishers read it too)
 *   GET    /v1/macro/accepted-findings                    the same, for the editor's check before upload
 *   POST   /v1/tenant/accepted-findings                   accept one: a rule in the file with these bytes
 *   DELETE /v1/tenant/accepted-findings/{rule}/{fileHash} withdraw it
 *
 * A refusal (BUNDLE_REJECTED) names each finding's `rule` and `fileHash`, which is exactly what an
 * admin accepts. Acceptance is per file content: the same rule in any other file, or in this file with
 * one byte changed, refuses again; nothing here turns a rule off. Every change is audited.
 */

import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { SECRET_RULES } from "@mini-sites/core";
import { type AppEnv, accessOf, tenantOf } from "../app/context.ts";
import { ApiError } from "../app/errors.ts";
import { audit } from "../audit/log.ts";
import {
  acceptFinding,
  listAcceptedFindings,
  MAX_ACCEPTED_FINDINGS,
  type StoredAcceptedFinding,
  withdrawFinding,
} from "../db/accepted-findings.ts";
import { defineRoute } from "./define.ts";

const RULE_IDS = new Set(SECRET_RULES.map((rule) => rule.id));
const MAX_NOTE_LENGTH = 500;

const RuleId = z
  .string()
  .max(64)
  .refine(
    (id) => RULE_IDS.has(id),
    "must be the id of a secret-scan rule (`mini-sites scan --json` names it)",
  )
  .openapi({ example: "generic-secret-assignment" });

const FileHash = z
  .string()
  .regex(/^[0-9a-f]{64}$/, "must be the file's SHA-256, 64 lowercase hex characters")
  .openapi({ example: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" });

const AcceptBody = z
  .object({
    ruleId: RuleId,
    fileHash: FileHash,
    note: z
      .string()
      .max(MAX_NOTE_LENGTH)
      .regex(/^[^\p{Cc}]*$/u, "must not contain control characters")
      .optional()
      .openapi({ description: "Why this is not a secret", example: "Example key from the library's docs" }),
  })
  .strict()
  .openapi("AcceptFindingRequest");

const FindingParams = z.object({
  // Any rule-id shape, not only rules this release knows: an acceptance of a rule since renamed or
  // removed must still be withdrawable.
  rule: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "must be a rule id")
    .openapi({ param: { name: "rule", in: "path" }, example: "generic-secret-assignment" }),
  fileHash: FileHash.openapi({ param: { name: "fileHash", in: "path" } }),
});

const AcceptedFindingSchema = z
  .object({
    ruleId: z.string(),
    fileHash: z.string(),
    note: z.string().nullable(),
    acceptedBy: z.string(),
    acceptedAt: z.string(),
  })
  .openapi("AcceptedFinding");

const AcceptedList = z
  .object({ findings: z.array(AcceptedFindingSchema), max: z.number().int() })
  .openapi("AcceptedFindings");

const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });

const listRoute = defineRoute({
  method: "get",
  path: "/v1/tenant/accepted-findings",
  summary: "Secret-scan findings the tenant's admins accepted (rule and file hash)",
  tags: ["tenant"],
  responses: { 200: { description: "The accepted findings, oldest first", ...json(AcceptedList) } },
});

/** What the editor's check needs and nothing more: no admin's note, no account id. */
const MacroAcceptedList = z
  .object({ findings: z.array(z.object({ ruleId: z.string(), fileHash: z.string() })) })
  .openapi("MacroAcceptedFindings");

const macroListRoute = defineRoute({
  method: "get",
  path: "/v1/macro/accepted-findings",
  summary:
    "The tenant's accepted findings (rule and file hash only), for the editor's check before it uploads",
  tags: ["macro"],
  responses: { 200: { description: "The accepted findings, oldest first", ...json(MacroAcceptedList) } },
});

const acceptRoute = defineRoute(
  {
    method: "post",
    path: "/v1/tenant/accepted-findings",
    summary: "Accept a finding: this rule, in the file with exactly these bytes, no longer refuses a publish",
    description:
      "Idempotent: accepting an accepted finding answers 200 with the first acceptance. Audited as `finding.accept`.",
    tags: ["tenant"],
    request: { body: { ...json(AcceptBody), required: true } },
    responses: {
      201: { description: "Accepted", ...json(AcceptedFindingSchema) },
      200: { description: "Already accepted", ...json(AcceptedFindingSchema) },
    },
  },
  "QUOTA_ACCEPTED_FINDINGS",
);

const withdrawRoute = defineRoute(
  {
    method: "delete",
    path: "/v1/tenant/accepted-findings/{rule}/{fileHash}",
    summary: "Withdraw an accepted finding: the next publish holding it is refused again",
    tags: ["tenant"],
    request: { params: FindingParams },
    responses: {
      200: {
        description: "Withdrawn (`withdrawn: false` when it was not accepted)",
        ...json(z.object({ withdrawn: z.boolean() }).openapi("WithdrawnFinding")),
      },
    },
  },
  "INVALID_REQUEST",
);

export function registerFindingRoutes(app: OpenAPIHono<AppEnv>, now: () => number = Date.now): void {
  app.openapi(listRoute, async (c) => {
    const findings = await listAcceptedFindings(c.env.DB, tenantOf(c).id);
    return c.json({ findings: findings.map(findingJson), max: MAX_ACCEPTED_FINDINGS }, 200);
  });
  app.openapi(macroListRoute, async (c) => {
    const findings = await listAcceptedFindings(c.env.DB, tenantOf(c).id);
    return c.json({ findings: findings.map(({ ruleId, fileHash }) => ({ ruleId, fileHash })) }, 200);
  });

  app.openapi(acceptRoute, async (c) => {
    const tenant = tenantOf(c).id;
    const actor = accessOf(c).actor;
    const body = c.req.valid("json");
    const note = body.note === undefined || body.note.trim() === "" ? null : body.note.trim();
    const result = await acceptFinding(c.env.DB, tenant, { ...body, note }, actor, now());
    if (result.kind === "full")
      throw new ApiError(
        "QUOTA_ACCEPTED_FINDINGS",
        `The tenant has accepted ${MAX_ACCEPTED_FINDINGS} findings, the most it may; withdraw some first.`,
      );
    if (result.kind === "accepted") {
      try {
        await audit(c.env, {
          tenantId: tenant,
          actor,
          action: "finding.accept",
          target: `tenant:${tenant}`,
          detail: { ruleId: body.ruleId, fileHash: body.fileHash, note },
        });
      } catch (error) {
        // Never an acceptance the audit log does not show: undo it and fail.
        await withdrawFinding(c.env.DB, tenant, body).catch(() => undefined);
        throw error;
      }
    }
    return c.json(findingJson(result.finding), result.kind === "accepted" ? 201 : 200);
  });

  app.openapi(withdrawRoute, async (c) => {
    const tenant = tenantOf(c).id;
    const { rule, fileHash } = c.req.valid("param");
    const withdrawn = await withdrawFinding(c.env.DB, tenant, { ruleId: rule, fileHash });
    // Audited on a repeat too: if the first attempt's append failed, the retry is what records it.
    await audit(c.env, {
      tenantId: tenant,
      actor: accessOf(c).actor,
      action: "finding.unaccept",
      target: `tenant:${tenant}`,
      detail: { ruleId: rule, fileHash, withdrawn },
    });
    return c.json({ withdrawn }, 200);
  });
}

function findingJson(finding: StoredAcceptedFinding) {
  return {
    ruleId: finding.ruleId,
    fileHash: finding.fileHash,
    note: finding.note,
    acceptedBy: finding.acceptedBy,
    acceptedAt: new Date(finding.acceptedAt).toISOString(),
  };
}
