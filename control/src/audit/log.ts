/**
 * The control Worker's audit log for an env: the tenant chains in D1 with their heads anchored in R2,
 * keyed by the deployment identity. Audited actions fail closed: without the audit key (a missing
 * deployment secret) nothing that must be recorded happens (NOT_CONFIGURED).
 */

import { ApiError } from "../app/errors.ts";
import type { ControlEnv } from "../env.ts";
import { controlKeys } from "../identity.ts";
import { r2AuditAnchors } from "./anchor.ts";
import { type AuditEntry, AuditLog, type AuditRecord } from "./chain.ts";

export async function auditLogOf(env: ControlEnv): Promise<AuditLog> {
  const keys = await controlKeys(env);
  if (!keys.ready)
    throw new ApiError(
      "NOT_CONFIGURED",
      "The deployment identity secret is missing; see /.well-known/mini-sites.",
    );
  return new AuditLog(env.DB, keys.audit, { anchors: r2AuditAnchors(env.BUNDLES) });
}

/** Appends `entry`; throws (and so fails the audited action) when it cannot be recorded. */
export async function audit(env: ControlEnv, entry: AuditEntry): Promise<AuditRecord> {
  return (await auditLogOf(env)).append(entry);
}
