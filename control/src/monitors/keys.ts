/**
 * Tenant keys (DESIGN §3, §4): each tenant's Ed25519 key pair, which signs every report pushed to its
 * Forge web trigger. Threats and answers:
 *
 *   - a stolen database dump         private keys are stored only wrapped: AES-256-GCM under the
 *                                     deployment's `tenant-key-wrap` key (HKDF from APP_PSK, never
 *                                     stored), with the tenant and key id as associated data, so a
 *                                     wrapped key moved to another tenant's row does not unwrap
 *   - a registration that replaces    registering is idempotent: the first key of a tenant wins (one
 *     a key (concurrent or replayed)  `current` row per tenant, a UNIQUE index); every later or
 *                                     concurrent registration reads that key and never writes another
 *   - concurrent rotations            the demotion is guarded by the key it read, and the new key is
 *                                     inserted only where no current key exists: one rotation wins,
 *                                     the others answer with its result
 *   - a rotated APP_PSK               `wrap_key_id` names the wrapping key; a key wrapped under the
 *                                     previous secret is unwrapped with it and re-wrapped on first use,
 *                                     and the housekeeping cron re-wraps every other one in batches,
 *                                     so tenants that never sign are not lost when APP_PSK_PREVIOUS goes
 */

import {
  base64urlDecode,
  base64urlEncode,
  encodeReportPublicKey,
  generateTenantKeyPair,
  importReportSigningKey,
  KEY_PURPOSE,
  keyIdOf,
  readIdentity,
  type TenantShortId,
} from "@mini-sites/core";
import { ApiError } from "../app/errors.ts";
import type { D1Database } from "../db/d1.ts";
import type { ControlEnv } from "../env.ts";

/** How long the Forge side keeps accepting the previous key after a rotation, unless configured. */
export const DEFAULT_KEY_OVERLAP_SECONDS = 24 * 60 * 60;
/** Bounds of TENANT_KEY_OVERLAP_SECONDS: at least the report window, at most a week. */
const MIN_OVERLAP_SECONDS = 600;
const MAX_OVERLAP_SECONDS = 7 * 24 * 60 * 60;
const GCM_IV_BYTES = 12;

type PlatformKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

interface WrapKey {
  readonly id: string;
  readonly aes: PlatformKey;
}

interface WrapKeys {
  readonly current: WrapKey;
  readonly previous: WrapKey | undefined;
}

const wrapKeyCache = new WeakMap<object, Promise<WrapKeys | undefined>>();

/** The env's tenant-key wrapping keys (current, and previous during an APP_PSK rotation), once per env. */
function wrapKeysOf(env: ControlEnv): Promise<WrapKeys | undefined> {
  let loading = wrapKeyCache.get(env);
  if (loading === undefined) {
    loading = (async () => {
      const state = readIdentity(env);
      if (state.status !== "ready") return undefined;
      const load = async (generation: "current" | "previous"): Promise<WrapKey | undefined> => {
        const raw = await state.identity.deriveKey(KEY_PURPOSE.tenantKeyWrap, { generation });
        if (raw === undefined) return undefined;
        const aes = await crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, [
          "encrypt",
          "decrypt",
        ]);
        // The same fingerprint `/.well-known/mini-sites` shows for this purpose.
        return { id: await keyIdOf(raw), aes };
      };
      const current = await load("current");
      if (current === undefined) return undefined;
      const previous = await load("previous");
      return { current, previous: previous?.id === current.id ? undefined : previous };
    })();
    wrapKeyCache.set(env, loading);
  }
  return loading;
}

async function requireWrapKeys(env: ControlEnv): Promise<WrapKeys> {
  const keys = await wrapKeysOf(env);
  if (keys === undefined)
    throw new ApiError(
      "NOT_CONFIGURED",
      "This Mini-Sites deployment is not fully configured; see /.well-known/mini-sites.",
    );
  return keys;
}

const aadOf = (tenant: string, keyId: string) =>
  new TextEncoder().encode(`mini-sites/tenant-key/${tenant}/${keyId}`);

async function wrap(
  key: WrapKey,
  tenant: string,
  keyId: string,
  pkcs8: Uint8Array<ArrayBuffer>,
): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(GCM_IV_BYTES));
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: aadOf(tenant, keyId) },
      key.aes,
      pkcs8,
    ),
  );
  const out = new Uint8Array(iv.length + sealed.length);
  out.set(iv);
  out.set(sealed, iv.length);
  return base64urlEncode(out);
}

async function unwrap(
  key: WrapKey,
  tenant: string,
  keyId: string,
  text: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const bytes = base64urlDecode(text);
  if (bytes === undefined || bytes.length <= GCM_IV_BYTES)
    throw new Error("tenant key: wrapped key is malformed");
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: bytes.slice(0, GCM_IV_BYTES), additionalData: aadOf(tenant, keyId) },
    key.aes,
    bytes.slice(GCM_IV_BYTES),
  );
  return new Uint8Array(plain);
}

/** A public key as the Forge side stores it. */
export interface PublicTenantKey {
  readonly keyId: string;
  /** base64url of the raw 32-byte Ed25519 public key. */
  readonly publicKey: string;
  /** Previous keys only: accepted until then (ms since the epoch). */
  readonly acceptUntil?: number;
}

export interface TenantKeys {
  readonly tenant: TenantShortId;
  readonly current: PublicTenantKey;
  readonly previous: PublicTenantKey | null;
}

interface Row {
  key_id: string;
  public_key: string;
  wrapped_private_key: string;
  wrap_key_id: string;
  state: "current" | "previous";
  accept_until: number | null;
}

async function rows(db: D1Database, tenant: TenantShortId): Promise<Row[]> {
  const { results } = await db
    .prepare(
      `SELECT key_id, public_key, wrapped_private_key, wrap_key_id, state, accept_until
       FROM tenant_keys WHERE tenant_id = ? ORDER BY state`,
    )
    .bind(tenant)
    .all<Row>();
  return results;
}

function publicKeys(tenant: TenantShortId, found: Row[]): TenantKeys | undefined {
  const current = found.find((r) => r.state === "current");
  if (current === undefined) return undefined;
  const previous = found.find((r) => r.state === "previous");
  return {
    tenant,
    current: { keyId: current.key_id, publicKey: current.public_key },
    previous:
      previous === undefined
        ? null
        : { keyId: previous.key_id, publicKey: previous.public_key, acceptUntil: previous.accept_until ?? 0 },
  };
}

/** The tenant's public keys, if it registered. */
export async function tenantKeys(db: D1Database, tenant: TenantShortId): Promise<TenantKeys | undefined> {
  return publicKeys(tenant, await rows(db, tenant));
}

async function newKeyRow(env: ControlEnv, tenant: TenantShortId) {
  const wrapKeys = await requireWrapKeys(env);
  const pair = await generateTenantKeyPair();
  return {
    keyId: pair.keyId,
    publicKey: encodeReportPublicKey(pair.publicKey),
    wrapped: await wrap(wrapKeys.current, tenant, pair.keyId, pair.privateKeyPkcs8),
    wrapKeyId: wrapKeys.current.id,
  };
}

/**
 * Registers the tenant's key pair: creates one if the tenant has none, and otherwise — including
 * when another registration wins a race — answers the key it has. Never replaces a key.
 */
export async function registerTenantKey(
  env: ControlEnv,
  tenant: TenantShortId,
  now: number,
): Promise<{ readonly keys: TenantKeys; readonly created: boolean }> {
  const existing = publicKeys(tenant, await rows(env.DB, tenant));
  if (existing !== undefined) return { keys: existing, created: false };
  const made = await newKeyRow(env, tenant);
  // OR IGNORE: a concurrent registration's current key (the partial UNIQUE index) wins silently.
  const inserted = await env.DB.prepare(
    `INSERT OR IGNORE INTO tenant_keys (tenant_id, key_id, public_key, wrapped_private_key, wrap_key_id, state, created_at)
     VALUES (?, ?, ?, ?, ?, 'current', ?)`,
  )
    .bind(tenant, made.keyId, made.publicKey, made.wrapped, made.wrapKeyId, now)
    .run();
  const keys = publicKeys(tenant, await rows(env.DB, tenant));
  if (keys === undefined) throw new Error("tenant key: no current key after registration");
  return { keys, created: inserted.meta.changes === 1 && keys.current.keyId === made.keyId };
}

/** The overlap window from TENANT_KEY_OVERLAP_SECONDS, bounded. */
export function keyOverlapSeconds(env: ControlEnv): number {
  const raw = Number(env.TENANT_KEY_OVERLAP_SECONDS ?? DEFAULT_KEY_OVERLAP_SECONDS);
  if (!Number.isFinite(raw)) return DEFAULT_KEY_OVERLAP_SECONDS;
  return Math.min(MAX_OVERLAP_SECONDS, Math.max(MIN_OVERLAP_SECONDS, Math.floor(raw)));
}

/**
 * Rotates the tenant's key: a new current key; the old one becomes `previous`, accepted by the Forge
 * side until the overlap ends; the key before it is deleted. Registers first if there is no key.
 */
export async function rotateTenantKey(
  env: ControlEnv,
  tenant: TenantShortId,
  now: number,
): Promise<{ readonly keys: TenantKeys; readonly rotated: boolean; readonly retired: string | null }> {
  const before = publicKeys(tenant, await rows(env.DB, tenant));
  if (before === undefined) {
    const { keys } = await registerTenantKey(env, tenant, now);
    return { keys, rotated: false, retired: null };
  }
  const made = await newKeyRow(env, tenant);
  const old = before.current.keyId;
  const acceptUntil = now + keyOverlapSeconds(env) * 1000;
  const [demoted] = await env.DB.batch([
    env.DB.prepare(
      `UPDATE tenant_keys SET state = 'previous', accept_until = ?
       WHERE tenant_id = ? AND key_id = ? AND state = 'current'`,
    ).bind(acceptUntil, tenant, old),
    // Only the key this rotation demoted may stay as `previous`.
    env.DB.prepare(
      `DELETE FROM tenant_keys WHERE tenant_id = ? AND state = 'previous' AND key_id <> ?
       AND EXISTS (SELECT 1 FROM tenant_keys WHERE tenant_id = ? AND key_id = ? AND state = 'previous' AND accept_until = ?)`,
    ).bind(tenant, old, tenant, old, acceptUntil),
    env.DB.prepare(
      `INSERT INTO tenant_keys (tenant_id, key_id, public_key, wrapped_private_key, wrap_key_id, state, created_at)
       SELECT ?, ?, ?, ?, ?, 'current', ?
       WHERE NOT EXISTS (SELECT 1 FROM tenant_keys WHERE tenant_id = ? AND state = 'current')`,
    ).bind(tenant, made.keyId, made.publicKey, made.wrapped, made.wrapKeyId, now, tenant),
  ]);
  const keys = publicKeys(tenant, await rows(env.DB, tenant));
  if (keys === undefined) throw new Error("tenant key: no current key after rotation");
  const rotated = (demoted?.meta.changes ?? 0) === 1 && keys.current.keyId === made.keyId;
  return { keys, rotated, retired: rotated ? old : null };
}

export interface SigningKey {
  readonly keyId: string;
  readonly key: PlatformKey;
}

/**
 * The tenant's current private key, unwrapped for signing (held only in memory, non-extractable). A
 * key wrapped under the previous APP_PSK is re-wrapped under the current one on the way.
 */
export async function signingKeyOf(env: ControlEnv, tenant: TenantShortId): Promise<SigningKey | undefined> {
  const current = (await rows(env.DB, tenant)).find((r) => r.state === "current");
  if (current === undefined) return undefined;
  const wrapKeys = await requireWrapKeys(env);
  const wrapKey = [wrapKeys.current, wrapKeys.previous].find((k) => k?.id === current.wrap_key_id);
  if (wrapKey === undefined)
    throw new ApiError(
      "NOT_CONFIGURED",
      "A tenant key is wrapped under a deployment secret this Worker no longer has (APP_PSK_PREVIOUS removed too early).",
    );
  const pkcs8 = await unwrap(wrapKey, tenant, current.key_id, current.wrapped_private_key);
  if (wrapKey.id !== wrapKeys.current.id)
    await rewrap(env.DB, wrapKeys.current, wrapKey, tenant, current.key_id, pkcs8);
  return { keyId: current.key_id, key: await importReportSigningKey(pkcs8) };
}

/** Stores `pkcs8` wrapped under `to`, only if the row is still wrapped under `from` (a concurrent re-wrap wins). */
async function rewrap(
  db: D1Database,
  to: WrapKey,
  from: WrapKey,
  tenant: string,
  keyId: string,
  pkcs8: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  const rewrapped = await wrap(to, tenant, keyId, pkcs8);
  const result = await db
    .prepare(
      "UPDATE tenant_keys SET wrapped_private_key = ?, wrap_key_id = ? WHERE tenant_id = ? AND key_id = ? AND wrap_key_id = ?",
    )
    .bind(rewrapped, to.id, tenant, keyId, from.id)
    .run();
  return result.meta.changes === 1;
}

/** Keys re-wrapped per housekeeping pass: bounded CPU per cron invocation. */
export const REWRAP_BATCH = 100;

/**
 * During an APP_PSK rotation (APP_PSK_PREVIOUS set): re-wraps up to `limit` keys still wrapped under
 * the previous secret, current and previous keys alike, and answers how many it re-wrapped and how
 * many remain, so the operator knows when APP_PSK_PREVIOUS may go (remaining 0). A key that does not
 * unwrap (a damaged row) is counted as failed and left as it is; rows are taken in random order, so
 * damaged rows never hold back the others however many there are.
 */
export async function rewrapTenantKeys(
  env: ControlEnv,
  limit: number = REWRAP_BATCH,
): Promise<{ readonly rewrapped: number; readonly failed: number; readonly remaining: number }> {
  const keys = await wrapKeysOf(env);
  if (keys?.previous === undefined) return { rewrapped: 0, failed: 0, remaining: 0 };
  const previous = keys.previous;
  const { results } = await env.DB.prepare(
    // In random order: rows that do not unwrap (damaged) stay behind, and must not fill every batch.
    "SELECT tenant_id, key_id, wrapped_private_key FROM tenant_keys WHERE wrap_key_id = ? ORDER BY random() LIMIT ?",
  )
    .bind(previous.id, limit)
    .all<{ tenant_id: string; key_id: string; wrapped_private_key: string }>();
  let rewrapped = 0;
  let failed = 0;
  for (const row of results) {
    try {
      const pkcs8 = await unwrap(previous, row.tenant_id, row.key_id, row.wrapped_private_key);
      if (await rewrap(env.DB, keys.current, previous, row.tenant_id, row.key_id, pkcs8)) rewrapped++;
    } catch {
      failed++;
    }
  }
  const left = await env.DB.prepare("SELECT COUNT(*) AS n FROM tenant_keys WHERE wrap_key_id = ?")
    .bind(previous.id)
    .first<{ n: number }>();
  return { rewrapped, failed, remaining: left?.n ?? 0 };
}
