/**
 * The audit log: append-only, keyed hash chains in D1 (DESIGN §6.8) — one chain per tenant, plus a
 * `deployment` chain for events with no tenant and the read-only `legacy` chain of rows written
 * before chains were split.
 *
 *   mac(n) = HMAC-SHA256(audit key, mac(n-1) ‖ "\n" ‖ canonical JSON of row n), mac(0) = 64 zeros
 *
 * Threats and answers:
 * - Someone with write access to the database edits, deletes, inserts or reorders rows to hide what
 *   happened → every row's MAC covers its chain, seq, content and the previous MAC, and only holders
 *   of the deployment secret can compute MACs, so `verifyChain` names the first seq where it breaks.
 * - They cut rows off the END (a shorter chain still verifies) → after each append the chain's head
 *   (seq, mac) is written, signed, OUTSIDE D1 (anchor.ts, an R2 object); verification compares the
 *   D1 head with it, so a truncated chain reads TRUNCATED.
 * - Two requests append at once and fork a chain → D1 has no interactive transactions, so the append
 *   is optimistic: read the chain's head, compute the MAC for seq n+1, then ONE `INSERT … SELECT …
 *   WHERE` that only inserts if row n still carries the MAC we chained to. (chain, seq) is the PRIMARY
 *   KEY, so of two appends for n+1 exactly one lands; the loser retries from the new head.
 * - Unrelated traffic contends for the head and makes real appends fail (an anonymous flood, another
 *   tenant's burst) → chains are per tenant, and unauthenticated denials are counted per window
 *   (policy/denials.ts), never appended one by one.
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
import { auditActorFor } from "../privacy/pseudonyms.ts";
import { canonicalJson } from "./canonical.ts";
import { sanitizeDetail } from "./detail.ts";

/** The `prev_mac` of seq 1. */
export const AUDIT_GENESIS_MAC = "0".repeat(64);

/**
 * Tries before an append gives up. Each failed try means another append to the SAME chain landed, so
 * this bounds the appends that can overtake one writer; with the in-isolate queue (AuditLog) only
 * other isolates' appends to that tenant compete. Giving up is an error the caller surfaces (the
 * audited action fails closed).
 */
export const MAX_APPEND_ATTEMPTS = 40;

/** Upper bound of the random pause between tries, so racing writers spread out instead of colliding again. */
export const APPEND_BACKOFF_MAX_MS = 25;

/** Rows read per query while verifying: bounded memory whatever the chain's length. */
export const VERIFY_PAGE_ROWS = 500;

/** The chain of events with no tenant (operator actions). */
export const DEPLOYMENT_CHAIN = "deployment";
/** Rows written before chains were split (migration 0002): one chain, MAC layout 1, never appended to. */
export const LEGACY_CHAIN = "legacy";

/** A tenant's chain. Tenant ids are never reused while their chain exists (db/tenants.ts). */
export function tenantChain(tenant: TenantShortId): string {
  return `tenant:${tenant}`;
}

export function chainOf(tenant: TenantShortId | null): string {
  return tenant === null ? DEPLOYMENT_CHAIN : tenantChain(tenant);
}

/** Version of the MAC input layout: 1 had one global chain; 2 binds every row to its chain. */
const MAC_LAYOUT = 2;
const layoutOf = (chain: string) => (chain === LEGACY_CHAIN ? 1 : MAC_LAYOUT);

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
  "tenant.uninstall",
  "tenant.restore",
  "tenant.purge",
  "tenant.settings",
  "finding.accept",
  "finding.unaccept",
  "page.trashed",
  "page.restored",
  "page.deleted",
  "reconcile.reprovision",
  "reconcile.delete",
  "reconcile.tenant_csp",
  "key.rotate",
  "macro.bind",
  "request.denied",
  "privacy.report",
  "tenant.key.create",
  "tenant.key.rotate",
  "monitor.create",
  "monitor.update",
  "monitor.delete",
  "tenant.branding",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEntry {
  /** The tenant, whose chain the entry joins; `null` for deployment-wide events. */
  readonly tenantId: TenantShortId | null;
  /**
   * Who did it: an id such as `forge:<accountId>`, `api-token:<tokenId>` or `ci` — never a credential.
   * A Forge user's account id is stored as its pseudonym (`forge:~<hex>`, privacy/pseudonyms.ts).
   */
  readonly actor: string;
  readonly action: AuditAction;
  /** What it was done to, e.g. `site:<siteId>` or `site:<siteId>/v3`. */
  readonly target?: string | null;
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface AuditRecord {
  readonly chain: string;
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
  chain: string;
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

const COLUMNS = "chain, seq, prev_mac, mac, key_id, tenant_id, actor, action, target, detail, at";

function toRecord(row: AuditRow): AuditRecord {
  return {
    chain: row.chain,
    seq: row.seq,
    prevMac: row.prev_mac,
    mac: row.mac,
    keyId: row.key_id,
    tenantId: row.tenant_id,
    actor: row.actor,
    action: row.action,
    target: row.target,
    detail: row.detail,
    at: row.at,
  };
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
  const layout = layoutOf(row.chain);
  const body = canonicalJson({
    v: layout,
    ...(layout >= 2 ? { chain: row.chain } : {}),
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

/** Where a chain's head is written after each append, outside D1 (anchor.ts). */
export interface AuditAnchors {
  write(keyring: Keyring, chain: string, head: { seq: number; mac: string }): Promise<void>;
  read(keyring: Keyring, chain: string): Promise<AnchorReading>;
}

export type AnchorReading =
  | { readonly state: "none" }
  | { readonly state: "valid"; readonly seq: number; readonly mac: string; readonly at: number }
  /** The anchor exists but its signature does not verify with any key we hold: tampered or foreign. */
  | { readonly state: "invalid" };

export interface AppendOptions {
  readonly now?: Clock;
  readonly maxAttempts?: number;
  /** Pause before retry `attempt` (0-based); tests pass a no-op to make races tighter. */
  readonly backoff?: (attempt: number) => Promise<void>;
  /** Anchor each chain's head outside D1 after every append. */
  readonly anchors?: AuditAnchors;
}

const randomBackoff = (attempt: number): Promise<void> =>
  new Promise((resolve) =>
    setTimeout(resolve, Math.random() * Math.min(APPEND_BACKOFF_MAX_MS, 2 ** Math.min(attempt, 5))),
  );

/** Appends one entry to its tenant's chain; resolves to the stored record once it is in the chain. */
export async function appendAudit(
  db: D1Database,
  keyring: Keyring,
  entry: AuditEntry,
  options: AppendOptions = {},
): Promise<AuditRecord> {
  const now = options.now ?? systemClock;
  const maxAttempts = options.maxAttempts ?? MAX_APPEND_ATTEMPTS;
  const backoff = options.backoff ?? randomBackoff;
  const chain = chainOf(entry.tenantId);
  const target = entry.target ?? null;
  checkField("actor", entry.actor);
  checkField("action", entry.action);
  checkField("target", target);
  const cleanDetail = sanitizeDetail(entry.detail ?? {});
  const detail = canonicalJson(cleanDetail);
  const key = keyring.current;
  // A Forge user is written by pseudonym, never by account id (privacy/pseudonyms.ts).
  const actor = await auditActorFor(db, entry.tenantId, entry.actor, now());

  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    if (attempt > 0) await backoff(attempt - 1);
    const head = await chainHead(db, chain);
    const prevMac = head?.mac ?? AUDIT_GENESIS_MAC;
    const row = {
      chain,
      seq: (head?.seq ?? 0) + 1,
      keyId: key.id,
      tenantId: entry.tenantId,
      actor,
      action: entry.action,
      target,
      detail,
      at: now(),
    };
    const mac = await hmacHex(key.hmac, macInput(prevMac, row, cleanDetail));
    try {
      const result = await db
        .prepare(
          `INSERT INTO audit_entries (${COLUMNS})
           SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
           WHERE COALESCE((SELECT mac FROM audit_entries WHERE chain = ? AND seq = ?), ?) = ?`,
        )
        .bind(
          chain,
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
          chain,
          row.seq - 1,
          AUDIT_GENESIS_MAC,
          prevMac,
        )
        .run();
      if (result.meta.changes === 1) {
        if (options.anchors !== undefined) {
          // The anchor may lag (a crash between the two writes, or a slower racing writer): that reads
          // as "not anchored yet", never as tampering. A failure here never fails the audited action.
          await options.anchors
            .write(keyring, chain, { seq: row.seq, mac })
            .catch(() =>
              console.error(JSON.stringify({ level: "error", event: "audit.anchor_failed", chain })),
            );
        }
        return { ...row, prevMac, mac };
      }
    } catch (error) {
      if (!isUniqueViolation(error, "audit_entries.chain")) throw error;
    }
  }
  throw new AuditAppendFailed(maxAttempts);
}

async function chainHead(db: D1Database, chain: string): Promise<{ seq: number; mac: string } | undefined> {
  const head = await db
    .prepare("SELECT seq, mac FROM audit_entries WHERE chain = ? ORDER BY seq DESC LIMIT 1")
    .bind(chain)
    .first<{ seq: number; mac: string }>();
  return head ?? undefined;
}

const queues = new WeakMap<D1Database, Map<string, Promise<unknown>>>();

/**
 * The audit log of one database, with appends from this isolate to one chain queued one after
 * another: requests of one tenant handled by the same isolate never race each other, and different
 * tenants never wait for each other.
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
    let perChain = queues.get(this.#db);
    if (perChain === undefined) {
      perChain = new Map();
      queues.set(this.#db, perChain);
    }
    const chain = chainOf(entry.tenantId);
    const previous = perChain.get(chain) ?? Promise.resolve();
    const next = previous.then(() => appendAudit(this.#db, this.#keyring, entry, this.#options));
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    perChain.set(chain, settled);
    // Forget an idle chain so the map does not grow with every tenant this isolate ever served.
    void settled.then(() => {
      if (perChain.get(chain) === settled) perChain.delete(chain);
    });
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
  | "MALFORMED_ROW"
  /** The chain ends before the anchored head: rows were cut off its end. */
  | "TRUNCATED"
  /** The anchored head's MAC is not the MAC of that row: the end was rewritten. */
  | "ANCHOR_MISMATCH"
  /** The anchor's signature does not verify: it was tampered with. */
  | "ANCHOR_INVALID";

export type AuditVerification =
  | {
      readonly ok: true;
      readonly rows: number;
      readonly headSeq: number;
      readonly headMac: string;
      /** The seq the outside anchor vouches for (≤ headSeq; less while an anchor write lags); null if none. */
      readonly anchoredSeq: number | null;
    }
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

/**
 * Walks one chain from seq 1, reports the first row where it breaks, and (given the anchors) checks
 * that nothing was cut off its end.
 */
export async function verifyChain(
  db: D1Database,
  keyring: Keyring,
  chain: string,
  anchors?: AuditAnchors,
): Promise<AuditVerification> {
  let expectedSeq = 1;
  let prevMac = AUDIT_GENESIS_MAC;
  let rows = 0;
  const macs = new Map<number, string>();
  const broken = (reason: AuditBreakReason, brokenAt: number): AuditVerification => ({
    ok: false,
    brokenAt,
    reason,
    rowsChecked: rows,
  });
  const anchor = anchors === undefined ? ({ state: "none" } as const) : await anchors.read(keyring, chain);
  if (anchor.state === "invalid") return broken("ANCHOR_INVALID", 0);
  for (;;) {
    const { results } = await db
      .prepare(`SELECT ${COLUMNS} FROM audit_entries WHERE chain = ? AND seq >= ? ORDER BY seq LIMIT ?`)
      .bind(chain, expectedSeq, VERIFY_PAGE_ROWS)
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
      const expected = hexDecode(
        await hmacHex(key.hmac, macInput(prevMac, toRecord(row), detail)),
      ) as Uint8Array;
      const stored = hexDecode(row.mac);
      if (stored === undefined || !timingSafeEqual(expected, stored)) return broken("MAC_MISMATCH", row.seq);
      if (anchor.state === "valid" && row.seq === anchor.seq) macs.set(row.seq, row.mac);
      prevMac = row.mac;
      expectedSeq++;
      rows++;
    }
    if (results.length < VERIFY_PAGE_ROWS) break;
  }
  const headSeq = expectedSeq - 1;
  if (anchor.state === "valid") {
    if (anchor.seq > headSeq) return broken("TRUNCATED", headSeq + 1);
    if (macs.get(anchor.seq) !== anchor.mac) return broken("ANCHOR_MISMATCH", anchor.seq);
  }
  return {
    ok: true,
    rows,
    headSeq,
    headMac: prevMac,
    anchoredSeq: anchor.state === "valid" ? anchor.seq : null,
  };
}

/** One page of a chain, newest first: entries with seq below `before` (all when undefined). */
export async function listChain(
  db: D1Database,
  chain: string,
  options: { limit: number; before?: number },
): Promise<{ entries: AuditRecord[]; nextBefore: number | null }> {
  const { results } = await db
    .prepare(`SELECT ${COLUMNS} FROM audit_entries WHERE chain = ? AND seq < ? ORDER BY seq DESC LIMIT ?`)
    .bind(chain, options.before ?? Number.MAX_SAFE_INTEGER, options.limit + 1)
    .all<AuditRow>();
  const entries = results.slice(0, options.limit).map(toRecord);
  const last = entries[entries.length - 1];
  return { entries, nextBefore: results.length > options.limit && last !== undefined ? last.seq : null };
}
