/**
 * The publish pipeline's D1 statements (schema: control/migrations/0001_init.sql). Every statement
 * names the tenant; the only cross-tenant query is the stuck-job scan of recoverJobs, a maintenance
 * pass that acts on each job with that job's own tenant.
 *
 * D1 has no interactive transactions, so every invariant is one statement or one `batch()` (which
 * runs as one transaction): staging a version and its job, the flip of the live version, failing a
 * version with its job.
 */

import { type AcceptedFinding, hexEncode, type SiteId, type TenantShortId } from "@mini-sites/core";
import { type D1Database, type D1PreparedStatement, isUniqueViolation } from "../db/d1.ts";
import { getVersionStatus, insertVersionStatement, type VersionStatus } from "../db/versions.ts";

export const JOB_KINDS = ["publish", "rollback", "reprovision"] as const;
export type JobKind = (typeof JOB_KINDS)[number];
export type JobState = "queued" | "running" | "succeeded" | "failed";

export interface Job {
  readonly tenantId: TenantShortId;
  readonly id: string;
  readonly siteId: SiteId;
  readonly version: number;
  readonly kind: JobKind;
  readonly idempotencyKey: string | null;
  readonly state: JobState;
  readonly step: string | null;
  readonly progress: number;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
  readonly workflowInstanceId: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

interface JobRow {
  tenant_id: string;
  id: string;
  site_id: string;
  version: number;
  kind: JobKind;
  idempotency_key: string | null;
  state: JobState;
  step: string | null;
  progress: number;
  error_code: string | null;
  error_message: string | null;
  workflow_instance_id: string | null;
  created_at: number;
  updated_at: number;
}

const JOB_COLUMNS =
  "tenant_id, id, site_id, version, kind, idempotency_key, state, step, progress, error_code, error_message, workflow_instance_id, created_at, updated_at";

function toJob(row: JobRow): Job {
  return {
    tenantId: row.tenant_id as TenantShortId,
    id: row.id,
    siteId: row.site_id as SiteId,
    version: row.version,
    kind: row.kind,
    idempotencyKey: row.idempotency_key,
    state: row.state,
    step: row.step,
    progress: row.progress,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    workflowInstanceId: row.workflow_instance_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** 16 random bytes as hex: unguessable (a job id is tenant-scoped anyway) and the Workflow instance id. */
export function newJobId(): string {
  return hexEncode(crypto.getRandomValues(new Uint8Array(16)));
}

// --- Quotas and rate -------------------------------------------------------------------------------

/**
 * Logical bytes the tenant holds or is about to: versions that are or may become servable (failed ones
 * do not count), plus the declared size of editor uploads in flight (upload_tickets not completed and
 * not expired), so many open uploads cannot together pass the quota.
 */
export async function storedBytes(db: D1Database, tenant: TenantShortId, now: number): Promise<number> {
  const row = await db
    .prepare(
      `SELECT (SELECT COALESCE(SUM(size_bytes), 0) FROM versions WHERE tenant_id = ?1 AND status <> 'failed')
            + (SELECT COALESCE(SUM(size_bytes), 0) FROM upload_tickets
               WHERE tenant_id = ?1 AND completed_job_id IS NULL AND expires_at > ?2) AS n`,
    )
    .bind(tenant, now)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/**
 * Publish attempts the tenant started since `since` (ms): jobs (publishes, and rollbacks that
 * re-provision) plus editor uploads whose ticket was issued and has not turned into a job yet — one
 * rate for every way in (DESIGN §6.9).
 */
export async function publishAttemptsSince(
  db: D1Database,
  tenant: TenantShortId,
  since: number,
): Promise<{ count: number; oldest: number | null }> {
  const row = await db
    .prepare(
      `SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM (
         SELECT created_at FROM jobs WHERE tenant_id = ?1 AND created_at >= ?2
         UNION ALL
         SELECT created_at FROM upload_tickets WHERE tenant_id = ?1 AND created_at >= ?2 AND completed_job_id IS NULL
       )`,
    )
    .bind(tenant, since)
    .first<{ n: number; oldest: number | null }>();
  return { count: row?.n ?? 0, oldest: row?.oldest ?? null };
}

// --- Versions and jobs ---------------------------------------------------------------------------

export interface VersionRef {
  readonly number: number;
  readonly status: VersionStatus;
  readonly contentHash: string;
  readonly sizeBytes: number;
  readonly fileCount: number;
}

/**
 * The newest version of the site with this content and settings that is live or on its way (same
 * content ⇒ same version). The status feed choice is part of a version, so the same bytes published
 * with the other choice are a new version.
 */
export async function findActiveVersionByContent(
  db: D1Database,
  tenant: TenantShortId,
  site: SiteId,
  contentHash: string,
  statusFeed = false,
): Promise<VersionRef | undefined> {
  const row = await db
    .prepare(
      `SELECT number, status, content_hash AS contentHash, size_bytes AS sizeBytes, file_count AS fileCount
       FROM versions WHERE tenant_id = ? AND site_id = ? AND content_hash = ? AND status_feed = ?
         AND status IN ('staging', 'provisioning', 'live')
       ORDER BY number DESC LIMIT 1`,
    )
    .bind(tenant, site, contentHash, statusFeed ? 1 : 0)
    .first<VersionRef>();
  return row ?? undefined;
}

export async function versionNumbers(
  db: D1Database,
  tenant: TenantShortId,
  site: SiteId,
): Promise<{ number: number; status: VersionStatus; contentHash: string }[]> {
  const { results } = await db
    .prepare(
      "SELECT number, status, content_hash AS contentHash FROM versions WHERE tenant_id = ? AND site_id = ? ORDER BY number DESC",
    )
    .bind(tenant, site)
    .all<{ number: number; status: VersionStatus; contentHash: string }>();
  return results;
}

/** A job by id, in the tenant. */
export async function getJob(db: D1Database, tenant: TenantShortId, id: string): Promise<Job | undefined> {
  const row = await db
    .prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE tenant_id = ? AND id = ?`)
    .bind(tenant, id)
    .first<JobRow>();
  return row === null ? undefined : toJob(row);
}

/** The job an Idempotency-Key named before; `site` undefined searches the whole tenant (a publish that created its site). */
export async function findJobByKey(
  db: D1Database,
  tenant: TenantShortId,
  site: SiteId | undefined,
  key: string,
): Promise<Job | undefined> {
  const row =
    site === undefined
      ? await db
          .prepare(
            `SELECT ${JOB_COLUMNS} FROM jobs WHERE tenant_id = ? AND idempotency_key = ? ORDER BY created_at LIMIT 1`,
          )
          .bind(tenant, key)
          .first<JobRow>()
      : await db
          .prepare(
            `SELECT ${JOB_COLUMNS} FROM jobs WHERE tenant_id = ? AND site_id = ? AND idempotency_key = ?`,
          )
          .bind(tenant, site, key)
          .first<JobRow>();
  return row === null ? undefined : toJob(row);
}

/** The newest job of a version (what a same-content re-publish is answered with). */
export async function latestJobOfVersion(
  db: D1Database,
  tenant: TenantShortId,
  site: SiteId,
  version: number,
): Promise<Job | undefined> {
  const row = await db
    .prepare(
      `SELECT ${JOB_COLUMNS} FROM jobs WHERE tenant_id = ? AND site_id = ? AND version = ? ORDER BY created_at DESC LIMIT 1`,
    )
    .bind(tenant, site, version)
    .first<JobRow>();
  return row === null ? undefined : toJob(row);
}

export interface StageInput {
  readonly contentHash: string;
  readonly message: string | null;
  readonly sizeBytes: number;
  readonly fileCount: number;
  readonly publishedBy: string;
  readonly idempotencyKey: string | null;
  readonly jobId: string;
  /** The accepted findings this version passed the scan with (version_acceptances, migration 0012). */
  readonly acceptances: readonly AcceptedFinding[];
  readonly statusFeed?: boolean;
}

export type StageResult =
  | { readonly staged: true; readonly version: number }
  /** The Idempotency-Key was taken by a concurrent request: answer with that job. */
  | { readonly staged: false; readonly reason: "idempotency-key" | "no-site" };

/** Attempts at the next version number when concurrent publishes to one site collide. */
const STAGE_ATTEMPTS = 5;

/**
 * Stages a version (`staging`, next number) and its publish job (`queued`) in one transaction, so a
 * version never exists without the job that will provision or fail it.
 */
export async function stageVersion(
  db: D1Database,
  tenant: TenantShortId,
  site: SiteId,
  input: StageInput,
  now: number,
): Promise<StageResult> {
  for (let attempt = 0; ; attempt++) {
    try {
      const [inserted] = await db.batch<{ number: number }>([
        insertVersionStatement(db, tenant, site, input, now),
        db
          .prepare(
            `INSERT INTO jobs (tenant_id, id, site_id, version, kind, idempotency_key, state, progress, created_at, updated_at)
             SELECT ?, ?, ?, MAX(v.number), 'publish', ?, 'queued', 0, ?, ?
             FROM versions v
             WHERE v.tenant_id = ? AND v.site_id = ? AND v.content_hash = ? AND v.status = 'staging' AND v.created_at = ?
             HAVING COUNT(*) > 0`,
          )
          .bind(
            tenant,
            input.jobId,
            site,
            input.idempotencyKey,
            now,
            now,
            tenant,
            site,
            input.contentHash,
            now,
          ),
        ...acceptancesStatement(db, tenant, site, input, now),
      ]);
      const row = inserted?.results[0];
      return row === undefined ? { staged: false, reason: "no-site" } : { staged: true, version: row.number };
    } catch (error) {
      if (isUniqueViolation(error, "jobs.tenant_id") || isUniqueViolation(error, "jobs.idempotency_key"))
        return { staged: false, reason: "idempotency-key" };
      if (attempt + 1 < STAGE_ATTEMPTS && isUniqueViolation(error)) continue;
      throw error;
    }
  }
}

/**
 * Records the acceptances a staged version relied on, in the batch that stages it (so a version never
 * exists without its record): the staged row is found the way the job INSERT finds it.
 */
function acceptancesStatement(
  db: D1Database,
  tenant: TenantShortId,
  site: SiteId,
  input: StageInput,
  now: number,
): D1PreparedStatement[] {
  const pairs = new Map(input.acceptances.map((a) => [`${a.ruleId}/${a.fileHash}`, [a.ruleId, a.fileHash]]));
  if (pairs.size === 0) return [];
  return [
    db
      .prepare(
        `INSERT INTO version_acceptances (tenant_id, site_id, version, rule_id, file_hash)
         SELECT ?, ?, (SELECT MAX(v.number) FROM versions v
                       WHERE v.tenant_id = ? AND v.site_id = ? AND v.content_hash = ? AND v.status = 'staging'
                         AND v.created_at = ?),
                json_extract(pair.value, '$[0]'), json_extract(pair.value, '$[1]')
         FROM json_each(?) pair`,
      )
      .bind(tenant, site, tenant, site, input.contentHash, now, JSON.stringify([...pairs.values()])),
  ];
}

/**
 * The acceptances a version relied on that the tenant's admins have since withdrawn: rolling back to
 * it would bring back a file someone decided is a secret after all.
 */
export async function withdrawnAcceptancesOf(
  db: D1Database,
  tenant: TenantShortId,
  site: SiteId,
  version: number,
): Promise<AcceptedFinding[]> {
  const { results } = await db
    .prepare(
      `SELECT va.rule_id, va.file_hash FROM version_acceptances va
       LEFT JOIN accepted_findings a
         ON a.tenant_id = va.tenant_id AND a.rule_id = va.rule_id AND a.file_hash = va.file_hash
       WHERE va.tenant_id = ? AND va.site_id = ? AND va.version = ? AND a.rule_id IS NULL
       ORDER BY va.rule_id, va.file_hash`,
    )
    .bind(tenant, site, version)
    .all<{ rule_id: string; file_hash: string }>();
  return results.map((row) => ({ ruleId: row.rule_id, fileHash: row.file_hash }));
}

/** A rollback or re-provision job for an existing version. */
export async function insertJob(
  db: D1Database,
  tenant: TenantShortId,
  site: SiteId,
  job: { id: string; version: number; kind: JobKind },
  now: number,
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO jobs (tenant_id, id, site_id, version, kind, state, progress, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?)`,
    )
    .bind(tenant, job.id, site, job.version, job.kind, now, now)
    .run();
}

export async function setJobInstance(
  db: D1Database,
  tenant: TenantShortId,
  id: string,
  instanceId: string,
  now: number,
) {
  await db
    .prepare("UPDATE jobs SET workflow_instance_id = ?, updated_at = ? WHERE tenant_id = ? AND id = ?")
    .bind(instanceId, now, tenant, id)
    .run();
}

/** Progress of a running job; a finished job is never moved back. */
export async function markJobRunning(
  db: D1Database,
  tenant: TenantShortId,
  id: string,
  step: string,
  progress: number,
  now: number,
): Promise<void> {
  await db
    .prepare(
      `UPDATE jobs SET state = 'running', step = ?, progress = ?, updated_at = ?
       WHERE tenant_id = ? AND id = ? AND state IN ('queued', 'running')`,
    )
    .bind(step, progress, now, tenant, id)
    .run();
}

export async function markJobSucceeded(
  db: D1Database,
  tenant: TenantShortId,
  id: string,
  now: number,
): Promise<void> {
  await db
    .prepare(
      `UPDATE jobs SET state = 'succeeded', step = 'done', progress = 1, updated_at = ?
       WHERE tenant_id = ? AND id = ? AND state IN ('queued', 'running')`,
    )
    .bind(now, tenant, id)
    .run();
}

/**
 * Fails a job and, in the same transaction, its version if that version has not gone live: the
 * version ends `failed` with the code, the site's live version is untouched. A rollback's version
 * (still `superseded`, see markProvisioning) is left as it is: only this attempt failed.
 */
export async function failJob(
  db: D1Database,
  tenant: TenantShortId,
  job: { id: string; siteId: SiteId; version: number; kind: JobKind },
  error: { code: string; message: string },
  now: number,
): Promise<void> {
  const code = error.code.slice(0, 64);
  const message = error.message.slice(0, 1000);
  const statements: D1PreparedStatement[] = [
    db
      .prepare(
        `UPDATE jobs SET state = 'failed', error_code = ?, error_message = ?, updated_at = ?
         WHERE tenant_id = ? AND id = ? AND state IN ('queued', 'running')`,
      )
      .bind(code, message, now, tenant, job.id),
  ];
  if (job.kind === "publish") {
    statements.push(
      db
        .prepare(
          `UPDATE versions SET status = 'failed', failure_code = ?, status_at = ?
           WHERE tenant_id = ? AND site_id = ? AND number = ? AND status IN ('staging', 'provisioning')`,
        )
        .bind(code, now, tenant, job.siteId, job.version),
    );
  }
  await db.batch(statements);
}

/**
 * Moves a staged version into `provisioning`. A re-provision (rollback to a pruned Worker) leaves its
 * version `superseded` until the flip: the schema lets nothing leave `failed`, and a failed re-provision
 * attempt must not cost the version its future rollbacks — its bytes are still good.
 */
export async function markProvisioning(
  db: D1Database,
  tenant: TenantShortId,
  site: SiteId,
  version: number,
  now: number,
): Promise<VersionStatus | undefined> {
  await db
    .prepare(
      `UPDATE versions SET status = 'provisioning', status_at = ?
       WHERE tenant_id = ? AND site_id = ? AND number = ? AND status = 'staging'`,
    )
    .bind(now, tenant, site, version)
    .run();
  return getVersionStatus(db, tenant, site, version);
}

export type FlipOutcome =
  | "flipped"
  | "already-live"
  | "newer-live"
  | "not-flippable"
  | "acceptance-withdrawn";

/**
 * SQL: the version ?3 of site ?2 (tenant ?1) relies on no accepted finding its tenant has withdrawn
 * (version_acceptances, migration 0012) — checked inside the flip itself, so a withdrawal that lands
 * while a publish or rollback is provisioning still keeps the version from going live.
 */
const ACCEPTANCES_STAND = `NOT EXISTS (
  SELECT 1 FROM version_acceptances va
  WHERE va.tenant_id = ?1 AND va.site_id = ?2 AND va.version = ?3
    AND NOT EXISTS (SELECT 1 FROM accepted_findings a
                    WHERE a.tenant_id = va.tenant_id AND a.rule_id = va.rule_id AND a.file_hash = va.file_hash))`;

/** Why a version stopped being live (versions.superseded_by, migration 0002). */
export type SupersededBy = "publish" | "rollback";

/**
 * The one place a version becomes live (DESIGN §6.5): ONE batch — one transaction — supersedes the
 * current live version, marks the target live and points the site at it, each statement guarded by the
 * target's state so a re-run is a no-op and a version that was failed meanwhile is never made live.
 * `onlyForward` (publish): if a newer version is already live, nothing changes (a slow publish never
 * rolls a site back); a rollback passes false.
 */
export async function flipLive(
  db: D1Database,
  tenant: TenantShortId,
  site: SiteId,
  version: number,
  options: {
    from: readonly VersionStatus[];
    onlyForward: boolean;
    /** Why the version going out stops being live: a newer publish, or a rollback away from it. */
    reason: SupersededBy;
  },
  now: number,
): Promise<FlipOutcome> {
  const from = options.from.map((s) => `'${s}'`).join(", ");
  const forward = options.onlyForward ? "AND l.number < ?3" : "";
  const targetReady = `EXISTS (SELECT 1 FROM versions t WHERE t.tenant_id = ?1 AND t.site_id = ?2 AND t.number = ?3 AND t.status IN (${from})) AND ${ACCEPTANCES_STAND}`;
  const noBlocker = options.onlyForward
    ? "NOT EXISTS (SELECT 1 FROM versions n WHERE n.tenant_id = ?1 AND n.site_id = ?2 AND n.status = 'live' AND n.number > ?3)"
    : "1";
  const results = await db.batch([
    db
      .prepare(
        `UPDATE versions AS l SET status = 'superseded', status_at = ?4, superseded_by = ?5
         WHERE l.tenant_id = ?1 AND l.site_id = ?2 AND l.status = 'live' AND l.number <> ?3 ${forward}
           AND ${targetReady}`,
      )
      .bind(tenant, site, version, now, options.reason),
    db
      .prepare(
        `UPDATE versions SET status = 'live', status_at = ?4, superseded_by = NULL
         WHERE tenant_id = ?1 AND site_id = ?2 AND number = ?3 AND status IN (${from}) AND ${noBlocker}
           AND ${ACCEPTANCES_STAND}`,
      )
      .bind(tenant, site, version, now),
    db
      .prepare(
        `UPDATE sites SET live_version = ?3, updated_at = ?4
         WHERE tenant_id = ?1 AND id = ?2
           AND EXISTS (SELECT 1 FROM versions t WHERE t.tenant_id = ?1 AND t.site_id = ?2 AND t.number = ?3 AND t.status = 'live')`,
      )
      .bind(tenant, site, version, now),
  ]);
  if (results[1]?.meta.changes === 1) return "flipped";
  const row = await db
    .prepare(
      `SELECT (SELECT status FROM versions WHERE tenant_id = ?1 AND site_id = ?2 AND number = ?3) AS status,
              (SELECT live_version FROM sites WHERE tenant_id = ?1 AND id = ?2) AS live,
              ${ACCEPTANCES_STAND} AS stands`,
    )
    .bind(tenant, site, version)
    .first<{ status: VersionStatus | null; live: number | null; stands: number }>();
  if (row?.status === "live" && row.live === version) return "already-live";
  if (row?.stands === 0) return "acceptance-withdrawn";
  if (options.onlyForward && row?.live !== null && row?.live !== undefined && row.live > version)
    return "newer-live";
  return "not-flippable";
}

/** Jobs not finished whose row has not moved since `before` (ms), oldest first, at most `limit`. */
export async function unfinishedJobsBefore(db: D1Database, before: number, limit: number): Promise<Job[]> {
  const { results } = await db
    .prepare(
      `SELECT ${JOB_COLUMNS} FROM jobs WHERE state IN ('queued', 'running') AND updated_at < ? ORDER BY updated_at LIMIT ?`,
    )
    .bind(before, limit)
    .all<JobRow>();
  return results.map(toJob);
}

export async function touchJob(
  db: D1Database,
  tenant: TenantShortId,
  id: string,
  now: number,
): Promise<void> {
  await db
    .prepare("UPDATE jobs SET updated_at = ? WHERE tenant_id = ? AND id = ?")
    .bind(now, tenant, id)
    .run();
}
