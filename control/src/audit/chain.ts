/**
 * The audit log: an append-only, keyed hash chain in D1 (DESIGN §6.8).
 *
 *   mac(n) = HMAC-SHA256(audit key, mac(n-1) ‖ "\n" ‖ canonical JSON of row n), mac(0) = 64 zeros
 *
 * Threats and answers:
 * - Someone with write access to the database edits, deletes, inserts or reorders rows to hide what
 *   happened → every row's MAC covers its seq, its content and the previous MAC, and only holders of
 *   the deployment secret can compute MACs, so `verifyAudit` names the first seq where the chain breaks.
 *   (Cutting rows off the END leaves a shorter valid chain: compare `headSeq`/`headMac` with a copy
 *   kept elsewhere — anchoring the head outside D1 is a follow-up.)
 * - Two requests append at once and fork the chain (both extend row n) → D1 has no interactive
 *   transactions, so the append is optimistic: read the head, compute the MAC for seq n+1, then ONE
 *   `INSERT … SELECT … WHERE` that only inserts if row n still carries the MAC we chained to. `seq` is
 *   the table's INTEGER PRIMARY KEY (unique), so of two appends for n+1 exactly one lands; the loser
 *   gets a constraint error (or zero rows) and retries from the new head, a bounded number of times.
 * - A secret or token ends up in the permanent record → details are sanitized on the way in
 *   (detail.ts), and actors are ids (`api-token:<id>`), never credentials.
 */

import {
  hexDecode,
  hexEncode,
  type Keyring,
  type KeyringKey,
  type PlatformCryptoKey,
  type TenantShortId,
  timingSafeEqual,
} from "@mini-sites/core";
import { type Clock, type D1Database, isUniqueViolation, systemClock } from "../db/d1.ts";
import { canonicalJson } from "./canonical.ts";
import { sanitizeDetail } from "./detail.ts";

/** The `prev_mac` of seq 1. */
export const AUDIT_GENESIS_MAC = "0".repeat(64);

/**
 * Tries before an append gives up. Each failed try means another append landed, so this bounds the
 * appends that can overtake one writer; with the in-isolate queue (AuditLog) only appends from other
 * isolates compete. Giving up is an error the caller surfaces (the audited action fails closed).
 */
export const MAX_APPEND_ATTEMPTS = 40;

/** Upper bound of the random pause between tries, so racing writers spread out instead of colliding again. */
export const APPEND_BACKOFF_MAX_MS = 25;

/** Rows read per query while verifying: bounded memory whatever the log's length. */
export const VERIFY_PAGE_ROWS = 500;

/** Version of the MAC input layout; bump only with a new verify path for old rows. */
const MAC_LAYOUT = 1;

/** What gets audited (DESIGN §6.8). Stable strings: they are read by people and tools for years. */
export const AUDIT_ACTIONS = [
  "site.create",
  "site.publish",
  "site.rollback",
  "site.delete",
  "site.enable",
  "site.disable",
  "token.create",
  "token.revoke",
  "tenant.create",
  "tenant.purge",
  "key.rotate",
  "macro.bind",
  "request.denied",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEntry {
  /** `null` only for events with no tenant yet (e.g. a request denied before authentication). */
  readonly tenantId: TenantShortId | null;
  /** Who did it: an id such as `forge:<accountId>`, `api-token:<tokenId>` or `ci` — never a credential. */
  readonly actor: string;
  readonly action: AuditAction;
  /** What it was done to, e.g. `site:<siteId>` or `site:<siteId>/v3`. */
  readonly target?: string | null;
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface AuditRecord {
  readonly seq: number;
  readonly prevMac: string;
  readonly mac: string;
  readonly keyId: string;
  readonly tenantId: string | null;
  readonly actor: string;
  readonly action: string;
  readonly target: string | null;
  /** Canonical JSON text, as stored. */
  readonly detail: string;
  readonly at: number;
}

interface AuditRow {
  seq: number;
  prev_mac: string;
  mac: string;
  key_id: string;
  tenant_id: string | null;
  actor: string;
  action: string;
  target: string | null;
  detail: string;
  at: number;
}

export class AuditAppendFailed extends Error {
  constructor(attempts: number) {
    super(`audit append lost the race ${attempts} times; the audited action must not proceed`);
    this.name = "AuditAppendFailed";
  }
}

/** Actor, action and target are short identifiers; a long one is a bug or an injection attempt. */
const MAX_FIELD_LENGTH = 200;

function macInput(
  prevMac: string,
  row: Omit<AuditRecord, "prevMac" | "mac">,
  detail: unknown,
): Uint8Array<ArrayBuffer> {
  const body = canonicalJson({
    v: MAC_LAYOUT,
    seq: row.seq,
    at: row.at,
    keyId: row.keyId,
    tenant: row.tenantId,
    actor: row.actor,
    action: row.action,
    target: row.target,
    detail,
  });
  return new TextEncoder().encode(`${prevMac}\n${body}`) as Uint8Array<ArrayBuffer>;
}

async function hmacHex(key: PlatformCryptoKey, data: Uint8Array<ArrayBuffer>): Promise<string> {
  return hexEncode(new Uint8Array(await crypto.subtle.sign("HMAC", key, data)));
}

function checkField(name: string, value: string | null): void {
  if (value !== null && (value.length === 0 || value.length > MAX_FIELD_LENGTH))
    throw new RangeError(`audit ${name} must be 1–${MAX_FIELD_LENGTH} characters`);
}

export interface AppendOptions {
  readonly now?: Clock;
  readonly maxAttempts?: number;
  /** Pause before retry `attempt` (0-based); tests pass a no-op to make races tighter. */
  readonly backoff?: (attempt: number) => Promise<void>;
}

const randomBackoff = (attempt: number): Promise<void> =>
  new Promise((resolve) =>
    setTimeout(resolve, Math.random() * Math.min(APPEND_BACKOFF_MAX_MS, 2 ** Math.min(attempt, 5))),
  );

/** Appends one entry; resolves to the stored record once it is in the chain. */
export async function appendAudit(
  db: D1Database,
  keyring: Keyring,
  entry: AuditEntry,
  options: AppendOptions = {},
): Promise<AuditRecord> {
  const now = options.now ?? systemClock;
  const maxAttempts = options.maxAttempts ?? MAX_APPEND_ATTEMPTS;
  const backoff = options.backoff ?? randomBackoff;
  const target = entry.target ?? null;
  checkField("actor", entry.actor);
  checkField("action", entry.action);
  checkField("target", target);
  const cleanDetail = sanitizeDetail(entry.detail ?? {});
  const detail = canonicalJson(cleanDetail);
  const key = keyring.current;

  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    if (attempt > 0) await backoff(attempt - 1);
    const head = await db
      .prepare("SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1")
      .first<{ seq: number; mac: string }>();
    const prevMac = head?.mac ?? AUDIT_GENESIS_MAC;
    const row = {
      seq: (head?.seq ?? 0) + 1,
      keyId: key.id,
      tenantId: entry.tenantId,
      actor: entry.actor,
      action: entry.action,
      target,
      detail,
      at: now(),
    };
    const mac = await hmacHex(key.hmac, macInput(prevMac, row, cleanDetail));
    try {
      const result = await db
        .prepare(
          `INSERT INTO audit_log (seq, prev_mac, mac, key_id, tenant_id, actor, action, target, detail, at)
           SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
           WHERE COALESCE((SELECT mac FROM audit_log WHERE seq = ?), ?) = ?`,
        )
        .bind(
          row.seq,
          prevMac,
          mac,
          row.keyId,
          row.tenantId,
          row.actor,
          row.action,
          row.target,
          row.detail,
          row.at,
          row.seq - 1,
          AUDIT_GENESIS_MAC,
          prevMac,
        )
        .run();
      if (result.meta.changes === 1) return { ...row, prevMac, mac };
    } catch (error) {
      if (!isUniqueViolation(error, "audit_log.seq")) throw error;
    }
  }
  throw new AuditAppendFailed(maxAttempts);
}

const queues = new WeakMap<D1Database, Promise<unknown>>();

/**
 * The audit log of one database, with appends from this isolate queued one after another: requests
 * handled by the same isolate then never race each other, and only other isolates' appends can cost
 * a retry.
 */
export class AuditLog {
  readonly #db: D1Database;
  readonly #keyring: Keyring;
  readonly #options: AppendOptions;

  constructor(db: D1Database, keyring: Keyring, options: AppendOptions = {}) {
    this.#db = db;
    this.#keyring = keyring;
    this.#options = options;
  }

  append(entry: AuditEntry): Promise<AuditRecord> {
    const previous = queues.get(this.#db) ?? Promise.resolve();
    const next = previous.then(() => appendAudit(this.#db, this.#keyring, entry, this.#options));
    queues.set(
      this.#db,
      next.catch(() => undefined),
    );
    return next;
  }
}

export type AuditBreakReason =
  /** The row with this seq is missing (deleted), so the chain has a gap. */
  | "MISSING_ROW"
  /** This row's prev_mac is not the previous row's mac (rows reordered, inserted or replaced). */
  | "CHAIN_BROKEN"
  /** This row's content or mac was changed after it was written. */
  | "MAC_MISMATCH"
  /** Made with an audit key this deployment does not hold (foreign row, or a key retired too early). */
  | "UNKNOWN_KEY"
  /** The row cannot be read as written by appendAudit (e.g. non-canonical detail). */
  | "MALFORMED_ROW";

export type AuditVerification =
  | { readonly ok: true; readonly rows: number; readonly headSeq: number; readonly headMac: string }
  | {
      readonly ok: false;
      readonly brokenAt: number;
      readonly reason: AuditBreakReason;
      readonly rowsChecked: number;
    };

function keyFor(keyring: Keyring, keyId: string): KeyringKey | undefined {
  if (keyring.current.id === keyId) return keyring.current;
  if (keyring.previous?.id === keyId) return keyring.previous;
  return undefined;
}

/** Walks the whole chain from seq 1 and reports the first row where it breaks. */
export async function verifyAudit(db: D1Database, keyring: Keyring): Promise<AuditVerification> {
  let expectedSeq = 1;
  let prevMac = AUDIT_GENESIS_MAC;
  let rows = 0;
  const broken = (reason: AuditBreakReason, brokenAt: number): AuditVerification => ({
    ok: false,
    brokenAt,
    reason,
    rowsChecked: rows,
  });
  for (;;) {
    const { results } = await db
      .prepare(
        `SELECT seq, prev_mac, mac, key_id, tenant_id, actor, action, target, detail, at
         FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?`,
      )
      .bind(expectedSeq, VERIFY_PAGE_ROWS)
      .all<AuditRow>();
    for (const row of results) {
      if (row.seq !== expectedSeq) return broken("MISSING_ROW", expectedSeq);
      if (row.prev_mac !== prevMac) return broken("CHAIN_BROKEN", row.seq);
      const key = keyFor(keyring, row.key_id);
      if (key === undefined) return broken("UNKNOWN_KEY", row.seq);
      let detail: unknown;
      try {
        detail = JSON.parse(row.detail);
        if (canonicalJson(detail) !== row.detail) return broken("MALFORMED_ROW", row.seq);
      } catch {
        return broken("MALFORMED_ROW", row.seq);
      }
      const record = {
        seq: row.seq,
        keyId: row.key_id,
        tenantId: row.tenant_id,
        actor: row.actor,
        action: row.action,
        target: row.target,
        detail: row.detail,
        at: row.at,
      };
      const expected = hexDecode(await hmacHex(key.hmac, macInput(prevMac, record, detail))) as Uint8Array;
      const stored = hexDecode(row.mac);
      if (stored === undefined || !timingSafeEqual(expected, stored)) return broken("MAC_MISMATCH", row.seq);
      prevMac = row.mac;
      expectedSeq++;
      rows++;
    }
    if (results.length < VERIFY_PAGE_ROWS) break;
  }
  return { ok: true, rows, headSeq: expectedSeq - 1, headMac: prevMac };
}
