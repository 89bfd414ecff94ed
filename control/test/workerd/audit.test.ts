/**
 * The audit log is a keyed hash chain per tenant that concurrent appends cannot fork and that detects
 * tampering — including rows cut off its end, against the head anchored outside D1 (DESIGN §6.8) —
 * and it never keeps a secret or a full token (DESIGN §6.7). Runs on its own database (AUDIT_TEST_DB):
 * the tamper tests act as an attacker with direct database access and undo their changes afterwards,
 * so the chain is whole again for the next test.
 */

import { KEY_PURPOSE, type Keyring, keyringFor, requireIdentity, type TenantShortId } from "@mini-sites/core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  AUDIT_GENESIS_MAC,
  type AuditAnchors,
  type AuditEntry,
  AuditLog,
  appendAudit,
  canonicalJson,
  r2AuditAnchors,
  tenantChain,
  verifyChain,
} from "../../src/audit/index.ts";
import { TEST_APP_PID, TEST_APP_PSK } from "./fixtures.ts";
import { testEnv } from "./helpers.ts";

const db = testEnv.AUDIT_TEST_DB;
let keyring: Keyring;
let foreign: Keyring;

beforeAll(async () => {
  keyring = await keyringFor(
    requireIdentity({ APP_PID: TEST_APP_PID, APP_PSK: TEST_APP_PSK }),
    KEY_PURPOSE.audit,
  );
  foreign = await keyringFor(
    requireIdentity({ APP_PID: TEST_APP_PID, APP_PSK: "another-deployment-psk-0123456789abcdefghij" }),
    KEY_PURPOSE.audit,
  );
});

const TENANT = "abcde" as TenantShortId;
const CHAIN = tenantChain(TENANT);
const verifyAudit = (database: typeof db, ring: Keyring, anchors?: AuditAnchors) =>
  verifyChain(database, ring, CHAIN, anchors);
const entry = (i: number): AuditEntry => ({
  tenantId: TENANT,
  actor: `api-token:tok${i}`,
  action: "site.publish",
  target: `site:abcdefghijklm/v${i}`,
  detail: { version: i, files: i * 3, note: `publish ${i}` },
});
const noPause = async () => {};

interface Row {
  seq: number;
  prev_mac: string;
  mac: string;
  actor: string;
  detail: string;
  [column: string]: unknown;
}

async function rows(): Promise<Row[]> {
  return (await db.prepare("SELECT * FROM audit_entries WHERE chain = ? ORDER BY seq").bind(CHAIN).all<Row>())
    .results;
}

/** Runs `tamper` with the append-only triggers out of the way, as someone with raw database access could. */
async function asAttacker(tamper: () => Promise<unknown>): Promise<void> {
  const { results } = await db
    .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_entries'")
    .all<{ name: string; sql: string }>();
  for (const trigger of results) await db.prepare(`DROP TRIGGER ${trigger.name}`).run();
  try {
    await tamper();
  } finally {
    for (const trigger of results) await db.prepare(trigger.sql).run();
  }
}

async function middleRow(): Promise<Row> {
  const all = await rows();
  if (all.length < 5)
    for (let i = 0; i < 5; i++) await appendAudit(db, keyring, entry(i), { backoff: noPause });
  const fresh = await rows();
  return fresh[Math.floor(fresh.length / 2)] as Row;
}

describe("appendAudit", () => {
  it("links each row to the previous one from a zero genesis, with seq 1, 2, 3…", async () => {
    const before = (await rows()).length;
    for (let i = 0; i < 3; i++) await appendAudit(db, keyring, entry(i));
    const all = await rows();
    expect(all.map((r) => r.seq)).toEqual(Array.from({ length: before + 3 }, (_, i) => i + 1));
    expect(all[0]?.prev_mac).toBe(AUDIT_GENESIS_MAC);
    for (let i = 1; i < all.length; i++) expect(all[i]?.prev_mac).toBe(all[i - 1]?.mac);
    expect(await verifyAudit(db, keyring)).toMatchObject({ ok: true, rows: before + 3 });
  });

  it("keeps the chain gap-free and unforked under 40 concurrent appends racing on the same head", async () => {
    const before = (await rows()).length;
    let inserts = 0;
    const counting = {
      prepare: (sql: string) => {
        if (sql.trimStart().startsWith("INSERT")) inserts++;
        return db.prepare(sql);
      },
      batch: db.batch.bind(db),
    } as typeof db;
    // Default attempts and backoff: what production uses.
    const records = await Promise.all(
      Array.from({ length: 40 }, (_, i) => appendAudit(counting, keyring, entry(100 + i))),
    );
    // They really raced: many inserts lost and were retried.
    expect(inserts).toBeGreaterThan(40);
    const all = await rows();
    expect(all).toHaveLength(before + 40);
    expect(new Set(records.map((r) => r.seq)).size).toBe(40);
    expect(all.map((r) => r.seq)).toEqual(Array.from({ length: before + 40 }, (_, i) => i + 1));
    // Unforked: no two rows chain to the same predecessor.
    expect(new Set(all.map((r) => r.prev_mac)).size).toBe(all.length);
    expect(await verifyAudit(db, keyring)).toMatchObject({ ok: true, rows: before + 40 });
  });

  it("serializes one isolate's appends through AuditLog, so 40 at once need no retries", async () => {
    const before = (await rows()).length;
    const log = new AuditLog(db, keyring, { maxAttempts: 1 });
    await Promise.all(Array.from({ length: 40 }, (_, i) => log.append(entry(200 + i))));
    expect(await verifyAudit(db, keyring)).toMatchObject({ ok: true, rows: before + 40 });
  });

  it("loses a race with a constraint error on seq rather than forking, and gives up after its bounded attempts", async () => {
    const head = (await rows()).at(-1) as Row;
    // Another writer's row already holds head.seq + 1: a forking insert must fail on the UNIQUE seq.
    await expect(
      db
        .prepare(
          "INSERT INTO audit_entries (chain, seq, prev_mac, mac, key_id, actor, action, detail, at) VALUES (?, ?, ?, ?, 'x', 'a', 'b', '{}', 0)",
        )
        .bind(CHAIN, head.seq, head.prev_mac, "f".repeat(64))
        .run(),
    ).rejects.toThrow(/UNIQUE constraint failed: audit_entries\.chain, audit_entries\.seq/);
    // A writer that keeps losing stops after maxAttempts with a typed error.
    let attempts = 0;
    const contended = {
      prepare: (sql: string) => {
        const statement = db.prepare(sql);
        if (!sql.startsWith("INSERT")) return statement;
        return {
          bind: () => ({
            run: async () => {
              attempts++;
              return { results: [], success: true, meta: { changes: 0, last_row_id: 0, duration: 0 } };
            },
          }),
        };
      },
      batch: db.batch.bind(db),
    } as unknown as typeof db;
    await expect(
      appendAudit(contended, keyring, entry(1), { maxAttempts: 3, backoff: noPause }),
    ).rejects.toThrow(/lost the race 3 times/);
    expect(attempts).toBe(3);
  });

  it("refuses UPDATE and DELETE on audit rows from application code", async () => {
    await middleRow();
    await expect(
      db.prepare("UPDATE audit_entries SET actor = 'someone else' WHERE seq = 1").run(),
    ).rejects.toThrow(/AUDIT_APPEND_ONLY/);
    await expect(db.prepare("DELETE FROM audit_entries WHERE seq = 1").run()).rejects.toThrow(
      /AUDIT_APPEND_ONLY/,
    );
  });
});

describe("verifyAudit detects tampering", () => {
  it("with a middle row's detail", async () => {
    const row = await middleRow();
    const forged = canonicalJson({ ...JSON.parse(row.detail), version: 999 });
    await asAttacker(() =>
      db
        .prepare(`UPDATE audit_entries SET detail = ? WHERE chain = '${CHAIN}' AND seq = ?`)
        .bind(forged, row.seq)
        .run(),
    );
    expect(await verifyAudit(db, keyring)).toMatchObject({
      ok: false,
      brokenAt: row.seq,
      reason: "MAC_MISMATCH",
    });
    await asAttacker(() =>
      db
        .prepare(`UPDATE audit_entries SET detail = ? WHERE chain = '${CHAIN}' AND seq = ?`)
        .bind(row.detail, row.seq)
        .run(),
    );
    expect(await verifyAudit(db, keyring)).toMatchObject({ ok: true });
  });

  it("with a middle row's actor", async () => {
    const row = await middleRow();
    await asAttacker(() =>
      db
        .prepare(`UPDATE audit_entries SET actor = 'ci' WHERE chain = '${CHAIN}' AND seq = ?`)
        .bind(row.seq)
        .run(),
    );
    expect(await verifyAudit(db, keyring)).toMatchObject({
      ok: false,
      brokenAt: row.seq,
      reason: "MAC_MISMATCH",
    });
    await asAttacker(() =>
      db
        .prepare(`UPDATE audit_entries SET actor = ? WHERE chain = '${CHAIN}' AND seq = ?`)
        .bind(row.actor, row.seq)
        .run(),
    );
    expect(await verifyAudit(db, keyring)).toMatchObject({ ok: true });
  });

  it("with a middle row's mac (even one recomputed over the new content without the key)", async () => {
    const row = await middleRow();
    await asAttacker(() =>
      db
        .prepare(`UPDATE audit_entries SET mac = ? WHERE chain = '${CHAIN}' AND seq = ?`)
        .bind("a".repeat(64), row.seq)
        .run(),
    );
    expect(await verifyAudit(db, keyring)).toMatchObject({
      ok: false,
      brokenAt: row.seq,
      reason: "MAC_MISMATCH",
    });
    await asAttacker(() =>
      db
        .prepare(`UPDATE audit_entries SET mac = ? WHERE chain = '${CHAIN}' AND seq = ?`)
        .bind(row.mac, row.seq)
        .run(),
    );
    expect(await verifyAudit(db, keyring)).toMatchObject({ ok: true });
  });

  it("with a deleted middle row", async () => {
    const row = await middleRow();
    await asAttacker(() =>
      db.prepare(`DELETE FROM audit_entries WHERE chain = '${CHAIN}' AND seq = ?`).bind(row.seq).run(),
    );
    expect(await verifyAudit(db, keyring)).toMatchObject({
      ok: false,
      brokenAt: row.seq,
      reason: "MISSING_ROW",
    });
    const columns = Object.keys(row);
    await asAttacker(() =>
      db
        .prepare(
          `INSERT INTO audit_entries (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
        )
        .bind(...columns.map((c) => row[c]))
        .run(),
    );
    expect(await verifyAudit(db, keyring)).toMatchObject({ ok: true });
  });

  it("with two rows swapped", async () => {
    const row = await middleRow();
    // A free slot to park a row in while swapping (seq has a CHECK (seq >= 1)).
    const park = 1_000_000_000;
    const swapViaPark = (a: number, b: number) =>
      asAttacker(async () => {
        await db
          .prepare(`UPDATE audit_entries SET seq = ? WHERE chain = '${CHAIN}' AND seq = ?`)
          .bind(park, a)
          .run();
        await db
          .prepare(`UPDATE audit_entries SET seq = ? WHERE chain = '${CHAIN}' AND seq = ?`)
          .bind(a, b)
          .run();
        await db
          .prepare(`UPDATE audit_entries SET seq = ? WHERE chain = '${CHAIN}' AND seq = ?`)
          .bind(b, park)
          .run();
      });
    await swapViaPark(row.seq, row.seq + 1);
    expect(await verifyAudit(db, keyring)).toMatchObject({
      ok: false,
      brokenAt: row.seq,
      reason: "CHAIN_BROKEN",
    });
    await swapViaPark(row.seq, row.seq + 1);
    expect(await verifyAudit(db, keyring)).toMatchObject({ ok: true });
  });

  it("with a row appended by someone holding another deployment's key", async () => {
    const before = (await rows()).length;
    const intruder = await appendAudit(db, foreign, entry(7));
    expect(await verifyAudit(db, keyring)).toMatchObject({
      ok: false,
      brokenAt: before + 1,
      reason: "UNKNOWN_KEY",
    });
    await asAttacker(() =>
      db.prepare(`DELETE FROM audit_entries WHERE chain = '${CHAIN}' AND seq = ?`).bind(intruder.seq).run(),
    );
    expect(await verifyAudit(db, keyring)).toMatchObject({ ok: true });
  });
});

describe("the chain's head, anchored outside D1", () => {
  const anchors = () => r2AuditAnchors(testEnv.BUNDLES);
  const chainOf = (tenant: TenantShortId) => tenantChain(tenant);

  it("detects rows cut off the end of a chain, which a shorter chain alone would hide", async () => {
    const tenant = "trunc" as TenantShortId;
    const log = new AuditLog(db, keyring, { anchors: anchors() });
    for (let i = 0; i < 6; i++) await log.append({ ...entry(i), tenantId: tenant });
    expect(await verifyChain(db, keyring, chainOf(tenant), anchors())).toMatchObject({
      ok: true,
      headSeq: 6,
      anchoredSeq: 6,
    });
    await asAttacker(() =>
      db.prepare("DELETE FROM audit_entries WHERE chain = ? AND seq >= 5").bind(chainOf(tenant)).run(),
    );
    // Without the anchor the remaining 4 rows still verify…
    expect(await verifyChain(db, keyring, chainOf(tenant))).toMatchObject({ ok: true, headSeq: 4 });
    // …with it, the truncation is named.
    expect(await verifyChain(db, keyring, chainOf(tenant), anchors())).toMatchObject({
      ok: false,
      reason: "TRUNCATED",
      brokenAt: 5,
    });
  });

  it("detects a rewritten end (same length, other MACs) and a forged or altered anchor", async () => {
    const tenant = "rewri" as TenantShortId;
    const log = new AuditLog(db, keyring, { anchors: anchors() });
    for (let i = 0; i < 3; i++) await log.append({ ...entry(i), tenantId: tenant });
    // Replace the last row with one chained properly but under another key: the anchor remembers the MAC.
    await asAttacker(() =>
      db.prepare("DELETE FROM audit_entries WHERE chain = ? AND seq = 3").bind(chainOf(tenant)).run(),
    );
    await appendAudit(db, keyring, { ...entry(99), tenantId: tenant });
    expect(await verifyChain(db, keyring, chainOf(tenant), anchors())).toMatchObject({
      ok: false,
      reason: "ANCHOR_MISMATCH",
      brokenAt: 3,
    });
    // An anchor edited by someone without the key does not verify.
    const key = `audit/anchors/${encodeURIComponent(chainOf(tenant))}.json`;
    const stored = JSON.parse(await ((await testEnv.BUNDLES.get(key)) as { text(): Promise<string> }).text());
    await testEnv.BUNDLES.put(key, JSON.stringify({ ...stored, seq: 1 }));
    expect(await verifyChain(db, keyring, chainOf(tenant), anchors())).toMatchObject({
      ok: false,
      reason: "ANCHOR_INVALID",
    });
  });

  it("keeps tenants' chains apart: each starts at seq 1 and never waits for the other's head", async () => {
    const a = "chaia" as TenantShortId;
    const b = "chaib" as TenantShortId;
    const log = new AuditLog(db, keyring, { maxAttempts: 1 });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => log.append({ ...entry(i), tenantId: i % 2 === 0 ? a : b })),
    );
    for (const tenant of [a, b])
      expect(await verifyChain(db, keyring, chainOf(tenant))).toMatchObject({
        ok: true,
        rows: 10,
        headSeq: 10,
      });
  });
});

describe("audit rows never keep a secret or a full token", () => {
  it("redacts credentials by key name, our API tokens and scanner-detected secrets anywhere in the detail", async () => {
    const apiToken = `ms_${"Q7".repeat(20)}`;
    const github = ["ghp", "_", "R4nd0mL00kingT0kenValue1234567890abcd"].join("");
    const psk = "x".repeat(8) + TEST_APP_PSK;
    const record = await appendAudit(db, keyring, {
      tenantId: TENANT,
      actor: "api-token:tok-redaction",
      action: "token.create",
      target: "token:tok-redaction",
      detail: {
        token: apiToken,
        authorization: `Bearer ${apiToken}`,
        nested: { appPsk: psk, note: `created ${apiToken} for CI`, other: `leaked ${github} here` },
        list: [apiToken],
      },
    });
    const stored = JSON.stringify(
      await db
        .prepare("SELECT * FROM audit_entries WHERE chain = ? AND seq = ?")
        .bind(CHAIN, record.seq)
        .first(),
    );
    for (const secret of [apiToken, github, TEST_APP_PSK]) expect(stored).not.toContain(secret);
    expect(stored).toContain("ms_");
    expect(await verifyAudit(db, keyring)).toMatchObject({ ok: true });
  });
});
