/**
 * DESIGN §6 invariant 2 (API tokens are stored hashed, scoped to a tenant, revocable) and invariant 7
 * (no full token stored or returned after creation).
 */

import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  API_TOKEN_LENGTH,
  createApiToken,
  issueApiToken,
  looksLikeApiToken,
  verifyApiToken,
} from "../../src/auth/api-tokens.ts";
import { MemoryApiTokenStore } from "./support.ts";

const TENANT_A = "tenant-a";
const TENANT_B = "tenant-b";

async function issued(store = new MemoryApiTokenStore(), tenantId = TENANT_A) {
  const created = await issueApiToken(store, {
    tenantId,
    scopes: ["sites:write", "sites:read"],
    label: "CI",
  });
  return { store, ...created };
}

describe("issuing a token", () => {
  it("makes `ms_` + 52 base32 characters (256 random bits) and keeps only its SHA-256", async () => {
    const { token, record, store } = await issued();
    expect(token).toMatch(/^ms_[a-z2-7]{52}$/);
    expect(token.length).toBe(API_TOKEN_LENGTH);
    expect(record.hash).toBe(createHash("sha256").update(token).digest("hex"));
    expect(record.displayPrefix).toBe(token.slice(0, 11));
    const stored = JSON.stringify([...store.records.values()]);
    expect(stored).not.toContain(token);
    expect(stored).not.toContain(token.slice(11));
  });

  it("never makes the same token twice", async () => {
    const tokens = new Set<string>();
    for (let i = 0; i < 500; i++)
      tokens.add((await createApiToken({ tenantId: TENANT_A, scopes: ["sites:read"], label: "" })).token);
    expect(tokens.size).toBe(500);
  });

  it("refuses a token without tenant or scopes", async () => {
    await expect(createApiToken({ tenantId: "", scopes: ["sites:read"], label: "" })).rejects.toThrow(
      RangeError,
    );
    await expect(createApiToken({ tenantId: TENANT_A, scopes: [], label: "" })).rejects.toThrow(RangeError);
  });
});

describe("verifying a token", () => {
  it("the issued token verifies as its tenant with its scopes", async () => {
    const { token, record, store } = await issued();
    expect(await verifyApiToken(store, token)).toEqual({
      ok: true,
      value: { tenantId: TENANT_A, tokenId: record.id, scopes: ["sites:write", "sites:read"] },
    });
  });

  it("a well-formed but unknown token ⇒ AUTH_INVALID_TOKEN", async () => {
    const { store } = await issued();
    const { token: stranger } = await createApiToken({
      tenantId: TENANT_A,
      scopes: ["sites:read"],
      label: "",
    });
    expect(await verifyApiToken(store, stranger)).toMatchObject({
      ok: false,
      failure: { code: "AUTH_INVALID_TOKEN", status: 401 },
    });
  });

  it("a revoked token ⇒ the same AUTH_INVALID_TOKEN (reason kept for the audit log only)", async () => {
    const { token, record, store } = await issued();
    expect(await store.revoke(TENANT_A, record.id, Date.now())).toBe(true);
    const result = await verifyApiToken(store, token);
    expect(result).toMatchObject({ ok: false, failure: { code: "AUTH_INVALID_TOKEN" }, reason: "revoked" });
  });

  it("an expired token ⇒ AUTH_INVALID_TOKEN", async () => {
    const store = new MemoryApiTokenStore();
    const { token } = await issueApiToken(store, {
      tenantId: TENANT_A,
      scopes: ["sites:read"],
      label: "",
      expiresAt: 1_000,
    });
    expect(await verifyApiToken(store, token, 999)).toMatchObject({ ok: true });
    expect(await verifyApiToken(store, token, 1_000)).toMatchObject({ ok: false, reason: "expired" });
  });

  it("another tenant cannot revoke a token, and a token always speaks for its own tenant", async () => {
    const store = new MemoryApiTokenStore();
    const a = await issued(store, TENANT_A);
    const b = await issued(store, TENANT_B);
    expect(await store.revoke(TENANT_B, a.record.id, Date.now())).toBe(false);
    expect(await verifyApiToken(store, a.token)).toMatchObject({ ok: true, value: { tenantId: TENANT_A } });
    expect(await verifyApiToken(store, b.token)).toMatchObject({ ok: true, value: { tenantId: TENANT_B } });
  });

  it("the display prefix, the bare prefix, a near miss or a re-cased token never verify", async () => {
    const { token, record, store } = await issued();
    const flip = (t: string, i: number) => t.slice(0, i) + (t[i] === "a" ? "b" : "a") + t.slice(i + 1);
    for (const attempt of [
      record.displayPrefix,
      "ms_",
      "",
      token.toUpperCase(),
      `MS_${token.slice(3)}`,
      flip(token, token.length - 1),
      flip(token, 3),
      token.slice(0, -1),
      `${token}a`,
      ` ${token}`,
      record.hash,
    ]) {
      expect((await verifyApiToken(store, attempt)).ok).toBe(false);
    }
  });

  it("the store only ever sees digests, one lookup per well-formed token, found or not", async () => {
    const { token, store } = await issued();
    const { token: stranger } = await createApiToken({
      tenantId: TENANT_A,
      scopes: ["sites:read"],
      label: "",
    });
    store.lookups.length = 0;
    await verifyApiToken(store, token);
    await verifyApiToken(store, stranger);
    await verifyApiToken(store, "ms_short");
    expect(store.lookups).toHaveLength(2);
    for (const lookup of store.lookups) {
      expect(lookup).toMatch(/^[0-9a-f]{64}$/);
      expect(lookup).not.toContain(token.slice(3, 20));
    }
  });

  it("a stored row with a corrupt digest matches nothing", async () => {
    const { token, record, store } = await issued();
    store.records.set(record.hash, { ...record, hash: "zz" });
    expect((await verifyApiToken(store, token)).ok).toBe(false);
  });

  it("property: any string other than an issued token is refused", async () => {
    const { token, store } = await issued();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc
            .string({
              unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz234567"),
              minLength: 52,
              maxLength: 52,
            })
            .map((s) => `ms_${s}`),
          fc
            .nat({ max: token.length - 1 })
            .chain((i) =>
              fc
                .constantFrom(..."abcdefghijklmnopqrstuvwxyz234567_AZ")
                .map((ch) => token.slice(0, i) + ch + token.slice(i + 1)),
            ),
        ),
        async (candidate) => {
          fc.pre(candidate !== token);
          expect((await verifyApiToken(store, candidate)).ok).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("recognises the shape without a lookup", () => {
    expect(looksLikeApiToken(`ms_${"a".repeat(52)}`)).toBe(true);
    expect(looksLikeApiToken(`ms_${"a".repeat(51)}`)).toBe(false);
    expect(looksLikeApiToken(`ms_${"a".repeat(51)}1`)).toBe(false);
  });
});
