/**
 * Tenant keys (control/src/monitors/keys.ts) in workerd with the real D1: registration never replaces
 * a key, even when many registrations race; rotation keeps the previous key for the overlap window and
 * collapses concurrent rotations into one; private keys are stored only wrapped, bound to their
 * tenant and key id; a report signed with the unwrapped key verifies with the public key the Forge
 * side stores.
 */

import {
  base64urlDecode,
  REPORT_HEADERS,
  signReport,
  type TenantShortId,
  verifyReport,
} from "@mini-sites/core";
import { describe, expect, it } from "vitest";
import type { ControlEnv } from "../../src/env.ts";
import {
  registerTenantKey,
  rewrapTenantKeys,
  rotateTenantKey,
  signingKeyOf,
  tenantKeys,
} from "../../src/monitors/keys.ts";
import { newTenant, testEnv } from "./helpers.ts";

const env = testEnv as unknown as ControlEnv;
const NOW = Date.now();

async function keyRows(tenant: TenantShortId) {
  const { results } = await env.DB.prepare(
    "SELECT key_id, state, wrapped_private_key, wrap_key_id, accept_until FROM tenant_keys WHERE tenant_id = ?",
  )
    .bind(tenant)
    .all<{
      key_id: string;
      state: string;
      wrapped_private_key: string;
      wrap_key_id: string;
      accept_until: number | null;
    }>();
  return results;
}

async function signedBy(tenant: TenantShortId, body: string) {
  const key = await signingKeyOf(env, tenant);
  if (key === undefined) throw new Error("no key");
  return signReport({ signingKey: key.key, keyId: key.keyId, tenant, body, nowMs: NOW });
}

describe("registration", () => {
  it("creates one key pair and answers the same key on every later registration", async () => {
    const tenant = await newTenant();
    const first = await registerTenantKey(env, tenant, NOW);
    expect(first.created).toBe(true);
    expect(first.keys.previous).toBeNull();
    const again = await registerTenantKey(env, tenant, NOW + 1000);
    expect(again.created).toBe(false);
    expect(again.keys).toEqual(first.keys);
    expect(await keyRows(tenant)).toHaveLength(1);
  });

  it("settles 12 concurrent registrations on ONE key that every caller is told", async () => {
    const tenant = await newTenant();
    const results = await Promise.all(Array.from({ length: 12 }, () => registerTenantKey(env, tenant, NOW)));
    const ids = new Set(results.map((r) => r.keys.current.keyId));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const rows = await keyRows(tenant);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.key_id).toBe([...ids][0]);
  });

  it("stores the private key only wrapped, and a wrapped key moved to another tenant does not unwrap", async () => {
    const tenant = await newTenant();
    await registerTenantKey(env, tenant, NOW);
    const [row] = await keyRows(tenant);
    const wrapped = base64urlDecode(row?.wrapped_private_key ?? "");
    expect(wrapped).toBeDefined();
    // A PKCS #8 Ed25519 key starts with this DER prefix; the stored bytes must not contain it.
    const der = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];
    const text = Array.from(wrapped ?? []).join(",");
    expect(text.includes(der.join(","))).toBe(false);

    const other = await newTenant();
    await env.DB.prepare(
      `INSERT INTO tenant_keys (tenant_id, key_id, public_key, wrapped_private_key, wrap_key_id, state, created_at)
       SELECT ?, key_id, public_key, wrapped_private_key, wrap_key_id, state, created_at FROM tenant_keys WHERE tenant_id = ?`,
    )
      .bind(other, tenant)
      .run();
    await expect(signingKeyOf(env, other)).rejects.toThrow();
  });

  it("signs reports that verify with the public key it answers, and only for its own tenant", async () => {
    const tenant = await newTenant();
    const { keys } = await registerTenantKey(env, tenant, NOW);
    const body = JSON.stringify({ type: "monitor.state" });
    const headers = await signedBy(tenant, body);
    const verdict = await verifyReport({
      headers,
      body,
      tenant,
      keys: [keys.current],
      nowMs: NOW,
      rememberNonce: async () => true,
    });
    expect(verdict.ok).toBe(true);

    const other = await newTenant();
    const otherKeys = (await registerTenantKey(env, other, NOW)).keys;
    const cross = await verifyReport({
      headers: { ...headers, [REPORT_HEADERS.tenant]: other },
      body,
      tenant: other,
      keys: [otherKeys.current],
      nowMs: NOW,
      rememberNonce: async () => true,
    });
    expect(cross.ok).toBe(false);
  });
});

describe("rotation", () => {
  it("makes a new current key and keeps the old one as previous until the overlap ends", async () => {
    const tenant = await newTenant();
    const { keys: before } = await registerTenantKey(env, tenant, NOW);
    const rotated = await rotateTenantKey(env, tenant, NOW + 1000);
    expect(rotated.rotated).toBe(true);
    expect(rotated.keys.current.keyId).not.toBe(before.current.keyId);
    expect(rotated.keys.previous).toMatchObject({
      keyId: before.current.keyId,
      acceptUntil: NOW + 1000 + 86_400_000,
    });
    // The next signature is made with the new key.
    const headers = await signedBy(tenant, "{}");
    expect(headers[REPORT_HEADERS.keyId]).toBe(rotated.keys.current.keyId);
    // A second rotation drops the oldest key: never more than two.
    const again = await rotateTenantKey(env, tenant, NOW + 2000);
    expect(again.keys.previous?.keyId).toBe(rotated.keys.current.keyId);
    const rows = await keyRows(tenant);
    expect(rows.map((r) => r.key_id).sort()).toEqual(
      [again.keys.current.keyId, rotated.keys.current.keyId].sort(),
    );
  });

  it("collapses concurrent rotations into one: one current, one previous, every caller told the same", async () => {
    const tenant = await newTenant();
    const { keys: before } = await registerTenantKey(env, tenant, NOW);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => rotateTenantKey(env, tenant, NOW + 5000)),
    );
    const rows = await keyRows(tenant);
    expect(rows.filter((r) => r.state === "current")).toHaveLength(1);
    expect(rows.filter((r) => r.state === "previous")).toHaveLength(1);
    const current = rows.find((r) => r.state === "current")?.key_id;
    expect(rows.find((r) => r.state === "previous")?.key_id).toBe(before.current.keyId);
    for (const result of results) expect(result.keys.current.keyId).toBe(current);
    expect(results.filter((r) => r.rotated)).toHaveLength(1);
  });

  it("registers instead when the tenant has no key yet", async () => {
    const tenant = await newTenant();
    const result = await rotateTenantKey(env, tenant, NOW);
    expect(result.rotated).toBe(false);
    expect((await tenantKeys(env.DB, tenant))?.current.keyId).toBe(result.keys.current.keyId);
  });
});

/** The same Worker with other identity variables (the wrapping keys are cached per env object). */
function withIdentity(vars: Partial<Record<"APP_PID" | "APP_PSK" | "APP_PSK_PREVIOUS" | "K_GRANT", string>>) {
  const { APP_PID: _pid, APP_PSK: _psk, APP_PSK_PREVIOUS: _previous, K_GRANT: _kGrant, ...rest } = env;
  return { ...rest, ...vars } as ControlEnv;
}

// Test-only secrets (≥ 32 bytes), assembled so no scanner mistakes them for real ones.
const OLD_PSK = ["retired", "psk", "for", "rewrap", "tests", "0123456789abcdef"].join("-");
const NEW_PSK = ["rotated", "psk", "for", "rewrap", "tests", "fedcba9876543210"].join("-");
const LEGACY_K_GRANT = ["legacy", "k", "grant", "for", "key", "tests", "0123456789abcdef"].join("-");

async function verifies(
  environment: ControlEnv,
  tenant: TenantShortId,
  keys: { keyId: string; publicKey: string },
) {
  const key = await signingKeyOf(environment, tenant);
  if (key === undefined) throw new Error("no key");
  const body = JSON.stringify({ type: "monitor.state", tenant });
  const headers = await signReport({ signingKey: key.key, keyId: key.keyId, tenant, body, nowMs: NOW });
  const verdict = await verifyReport({
    headers,
    body,
    tenant,
    keys: [keys],
    nowMs: NOW,
    rememberNonce: async () => true,
  });
  return verdict.ok;
}

describe("an APP_PSK rotation", () => {
  const before = withIdentity({ APP_PID: "rewrap-test", APP_PSK: OLD_PSK });
  const rotating = withIdentity({ APP_PID: "rewrap-test", APP_PSK: NEW_PSK, APP_PSK_PREVIOUS: OLD_PSK });
  const after = withIdentity({ APP_PID: "rewrap-test", APP_PSK: NEW_PSK });

  it("unwraps a key wrapped under the previous APP_PSK, re-wraps it under the new one, and keeps working once APP_PSK_PREVIOUS is gone", async () => {
    const tenant = await newTenant();
    const { keys } = await registerTenantKey(before, tenant, NOW);
    const [wrappedBefore] = await keyRows(tenant);

    // Without the previous secret the key cannot be read yet: the re-wrap below is what saves it.
    await expect(signingKeyOf(after, tenant)).rejects.toMatchObject({ code: "NOT_CONFIGURED" });

    expect(await verifies(rotating, tenant, keys.current)).toBe(true);
    const [rewrapped] = await keyRows(tenant);
    expect(rewrapped?.key_id).toBe(keys.current.keyId);
    expect(rewrapped?.wrap_key_id).not.toBe(wrappedBefore?.wrap_key_id);
    expect(rewrapped?.wrapped_private_key).not.toBe(wrappedBefore?.wrapped_private_key);

    // APP_PSK_PREVIOUS removed: the same key (same public key at the Forge side) still signs.
    expect(await verifies(after, tenant, keys.current)).toBe(true);
    expect((await registerTenantKey(after, tenant, NOW + 1)).keys).toEqual(keys);
    // And the retired secret alone can no longer read it.
    await expect(signingKeyOf(before, tenant)).rejects.toMatchObject({ code: "NOT_CONFIGURED" });
  });

  it("never re-wraps a key the previous secret did not wrap, and registration never replaces the key", async () => {
    const tenant = await newTenant();
    const { keys } = await registerTenantKey(rotating, tenant, NOW);
    const [row] = await keyRows(tenant);
    expect(await verifies(rotating, tenant, keys.current)).toBe(true);
    expect(await keyRows(tenant)).toEqual([row]);
    expect((await registerTenantKey(after, tenant, NOW + 1)).created).toBe(false);
  });
});

describe("legacy identity (K_GRANT, no APP_PID/APP_PSK)", () => {
  const legacy = withIdentity({ K_GRANT: LEGACY_K_GRANT });

  it("registers idempotently: one key, answered again to later and concurrent registrations", async () => {
    const tenant = await newTenant();
    const results = await Promise.all(
      Array.from({ length: 12 }, () => registerTenantKey(legacy, tenant, NOW)),
    );
    expect(new Set(results.map((r) => r.keys.current.keyId)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const again = await registerTenantKey(legacy, tenant, NOW + 1000);
    expect(again).toEqual({ keys: results[0]?.keys, created: false });
    expect(await keyRows(tenant)).toHaveLength(1);
    expect(await verifies(legacy, tenant, again.keys.current)).toBe(true);
  });

  it("wraps under a key derived from K_GRANT: a shared-identity Worker cannot read it, nor the reverse", async () => {
    const tenant = await newTenant();
    await registerTenantKey(legacy, tenant, NOW);
    await expect(signingKeyOf(env, tenant)).rejects.toMatchObject({ code: "NOT_CONFIGURED" });
    const shared = await newTenant();
    await registerTenantKey(env, shared, NOW);
    await expect(signingKeyOf(legacy, shared)).rejects.toMatchObject({ code: "NOT_CONFIGURED" });
  });

  it("refuses to register with no secret at all (NOT_CONFIGURED), creating nothing", async () => {
    const tenant = await newTenant();
    await expect(registerTenantKey(withIdentity({}), tenant, NOW)).rejects.toMatchObject({
      code: "NOT_CONFIGURED",
    });
    expect(await keyRows(tenant)).toEqual([]);
  });
});

describe("the housekeeping re-wrap during an APP_PSK rotation", () => {
  it("re-wraps keys that are never used for signing, so removing APP_PSK_PREVIOUS loses none", async () => {
    const pid = `rewrap-batch-${crypto.randomUUID()}`;
    const before = withIdentity({ APP_PID: pid, APP_PSK: OLD_PSK });
    const rotating = withIdentity({ APP_PID: pid, APP_PSK: NEW_PSK, APP_PSK_PREVIOUS: OLD_PSK });
    const after = withIdentity({ APP_PID: pid, APP_PSK: NEW_PSK });
    const tenants = await Promise.all(Array.from({ length: 5 }, () => newTenant()));
    const registered = [];
    for (const tenant of tenants) registered.push((await registerTenantKey(before, tenant, NOW)).keys);
    // One of them also rotated, so a `previous` key is wrapped under the old secret too.
    const rotated = await rotateTenantKey(before, tenants[0] as TenantShortId, NOW + 1);

    // In batches of 2: the report says how many remain until APP_PSK_PREVIOUS may go.
    const first = await rewrapTenantKeys(rotating, 2);
    expect(first).toMatchObject({ rewrapped: 2, failed: 0 });
    expect(first.remaining).toBeGreaterThanOrEqual(4);
    let report = first;
    while (report.remaining > 0) report = await rewrapTenantKeys(rotating, 2);
    expect(await rewrapTenantKeys(rotating, 2)).toEqual({ rewrapped: 0, failed: 0, remaining: 0 });

    for (const [i, tenant] of tenants.entries()) {
      const keys = i === 0 ? rotated.keys : (registered[i] as (typeof registered)[number]);
      expect(await verifies(after, tenant, keys.current)).toBe(true);
    }
    for (const row of await keyRows(tenants[0] as TenantShortId))
      expect(row.wrap_key_id).toBe((await keyRows(tenants[1] as TenantShortId))[0]?.wrap_key_id);
  });

  it("does nothing without APP_PSK_PREVIOUS", async () => {
    expect(await rewrapTenantKeys(env)).toEqual({ rewrapped: 0, failed: 0, remaining: 0 });
  });
});
