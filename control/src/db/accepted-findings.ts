/**
 * Secret-scan findings a tenant's admins accepted (migration 0008): a rule in a file with exactly
 * these bytes. The publish pipeline reads the whole list for each publish (it is bounded by
 * MAX_ACCEPTED_FINDINGS) and hands it to the core's checkBundle.
 */

import type { AcceptedFinding, TenantShortId } from "@mini-sites/core";
import type { D1Database } from "./d1.ts";

/**
 * Accepted findings per tenant. An accepted finding is a reviewed exception, one per file version:
 * a tenant that needs thousands has a scanner problem to report, not a list to grow.
 */
export const MAX_ACCEPTED_FINDINGS = 500;

export interface StoredAcceptedFinding extends AcceptedFinding {
  readonly note: string | null;
  readonly acceptedBy: string;
  readonly acceptedAt: number;
}

interface Row {
  rule_id: string;
  file_hash: string;
  note: string | null;
  accepted_by: string;
  accepted_at: number;
}

const toFinding = (row: Row): StoredAcceptedFinding => ({
  ruleId: row.rule_id,
  fileHash: row.file_hash,
  note: row.note,
  acceptedBy: row.accepted_by,
  acceptedAt: row.accepted_at,
});

/** The tenant's accepted findings, oldest first. */
export async function listAcceptedFindings(
  db: D1Database,
  tenant: TenantShortId,
): Promise<StoredAcceptedFinding[]> {
  const { results } = await db
    .prepare(
      `SELECT rule_id, file_hash, note, accepted_by, accepted_at FROM accepted_findings
       WHERE tenant_id = ? ORDER BY accepted_at, rule_id, file_hash LIMIT ?`,
    )
    .bind(tenant, MAX_ACCEPTED_FINDINGS)
    .all<Row>();
  return results.map(toFinding);
}

export type AcceptResult =
  | { readonly kind: "accepted"; readonly finding: StoredAcceptedFinding }
  | { readonly kind: "existing"; readonly finding: StoredAcceptedFinding }
  | { readonly kind: "full" };

/**
 * Accepts a finding; accepting one already accepted changes nothing (the first acceptance, its note
 * and its author stay). The count check and the insert are one statement, so concurrent accepts never
 * take a tenant past the cap.
 */
export async function acceptFinding(
  db: D1Database,
  tenant: TenantShortId,
  finding: AcceptedFinding & { readonly note: string | null },
  actor: string,
  now: number,
): Promise<AcceptResult> {
  const inserted = await db
    .prepare(
      `INSERT INTO accepted_findings (tenant_id, rule_id, file_hash, note, accepted_by, accepted_at)
       SELECT ?1, ?2, ?3, ?4, ?5, ?6
       WHERE (SELECT COUNT(*) FROM accepted_findings WHERE tenant_id = ?1) < ?7
       ON CONFLICT (tenant_id, rule_id, file_hash) DO NOTHING`,
    )
    .bind(tenant, finding.ruleId, finding.fileHash, finding.note, actor, now, MAX_ACCEPTED_FINDINGS)
    .run();
  const stored = await db
    .prepare(
      `SELECT rule_id, file_hash, note, accepted_by, accepted_at FROM accepted_findings
       WHERE tenant_id = ? AND rule_id = ? AND file_hash = ?`,
    )
    .bind(tenant, finding.ruleId, finding.fileHash)
    .first<Row>();
  if (stored === null) return { kind: "full" };
  return { kind: inserted.meta.changes > 0 ? "accepted" : "existing", finding: toFinding(stored) };
}

/** Withdraws an acceptance; false when there was none. */
export async function withdrawFinding(
  db: D1Database,
  tenant: TenantShortId,
  finding: AcceptedFinding,
): Promise<boolean> {
  const result = await db
    .prepare("DELETE FROM accepted_findings WHERE tenant_id = ? AND rule_id = ? AND file_hash = ?")
    .bind(tenant, finding.ruleId, finding.fileHash)
    .run();
  return result.meta.changes > 0;
}
