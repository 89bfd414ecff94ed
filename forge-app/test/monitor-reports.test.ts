/**
 * The web trigger that receives signed monitor reports (src/monitors.ts handleReport): a forged,
 * tampered, replayed, stale, cross-tenant or header-less report answers 401 and changes nothing it
 * stores; the tenant's own report is applied; the previous key works only during its overlap.
 */

import {
  encodeReportPublicKey,
  generateTenantKeyPair,
  importReportSigningKey,
  REPORT_HEADERS,
  signReport,
  type TenantKeyPair,
} from "@mini-sites/core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  handleReport,
  KVS_REPORT_KEYS,
  KVS_STATUS,
  type MonitorStatus,
  type ReportStore,
  type StoredKeys,
} from "../src/monitors.ts";

const TENANT = "abcde";
const NOW = 1_790_000_000_000;
const MONITOR = "mon_abcdefghijklmnop";

let mine: TenantKeyPair;
let theirs: TenantKeyPair;
let next: TenantKeyPair;

beforeAll(async () => {
  [mine, theirs, next] = await Promise.all([
    generateTenantKeyPair(),
    generateTenantKeyPair(),
    generateTenantKeyPair(),
  ]);
});

function memoryStore(keys: StoredKeys | undefined): ReportStore & { data: Map<string, unknown> } {
  const data = new Map<string, unknown>();
  if (keys !== undefined) data.set(KVS_REPORT_KEYS, keys);
  return {
    data,
    get: async <T>(key: string) => structuredClone(data.get(key)) as T | undefined,
    set: async (key, value) => {
      data.set(key, structuredClone(value));
    },
  };
}

const registered = (...keys: { pair: TenantKeyPair; acceptUntil?: number }[]): StoredKeys => ({
  tenant: TENANT,
  keys: keys.map(({ pair, acceptUntil }) => ({
    keyId: pair.keyId,
    publicKey: encodeReportPublicKey(pair.publicKey),
    ...(acceptUntil === undefined ? {} : { acceptUntil }),
  })),
  registeredAt: NOW,
});

function reportBody(to: "up" | "down", at = NOW, tenant = TENANT) {
  return JSON.stringify({
    type: "monitor.state",
    reportId: `rep_${at}`,
    tenant,
    monitorId: MONITOR,
    name: "Orders",
    from: to === "up" ? "down" : "up",
    to,
    at,
    status: to === "up" ? 200 : 503,
    latencyMs: 12,
    error: to === "up" ? null : "status",
  });
}

async function signed(pair: TenantKeyPair, body: string, options: { at?: number; tenant?: string } = {}) {
  const headers = await signReport({
    signingKey: await importReportSigningKey(pair.privateKeyPkcs8),
    keyId: pair.keyId,
    tenant: options.tenant ?? TENANT,
    body,
    nowMs: options.at ?? NOW,
  });
  // Forge hands a web trigger its headers as arrays.
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]]));
}

describe("the monitor-reports web trigger", () => {
  it("applies the tenant's own signed report", async () => {
    const store = memoryStore(registered({ pair: mine }));
    const body = reportBody("down");
    const response = await handleReport(
      { method: "POST", headers: await signed(mine, body), body },
      store,
      NOW,
    );
    expect(response.statusCode).toBe(204);
    const status = store.data.get(KVS_STATUS) as MonitorStatus;
    expect(status.monitors[MONITOR]).toMatchObject({ state: "down", status: 503 });
    expect(status.events).toHaveLength(1);
  });

  it("answers 401 and stores nothing for forged, tampered, replayed, stale, cross-tenant and header-less reports", async () => {
    const body = reportBody("down");
    const good = await signed(mine, body);
    const { [REPORT_HEADERS.signature]: _s, ...noSignature } = good;
    const cases: [string, Record<string, string[]>, string, StoredKeys | undefined][] = [
      ["tampered body", good, reportBody("up"), registered({ pair: mine })],
      ["another tenant's key", await signed(theirs, body), body, registered({ pair: mine })],
      [
        "another tenant's report",
        await signed(theirs, reportBody("down", NOW, "fghij"), { tenant: "fghij" }),
        reportBody("down", NOW, "fghij"),
        registered({ pair: mine }),
      ],
      ["stale", await signed(mine, body, { at: NOW - 600_000 }), body, registered({ pair: mine })],
      ["from the future", await signed(mine, body, { at: NOW + 600_000 }), body, registered({ pair: mine })],
      ["missing signature", noSignature, body, registered({ pair: mine })],
      ["no headers", {}, body, registered({ pair: mine })],
      [
        "duplicated header",
        { ...good, [REPORT_HEADERS.nonce]: [...(good[REPORT_HEADERS.nonce] ?? []), "x"] },
        body,
        registered({ pair: mine }),
      ],
      ["not registered", good, body, undefined],
    ];
    for (const [label, headers, sentBody, keys] of cases) {
      const store = memoryStore(keys);
      const response = await handleReport({ method: "POST", headers, body: sentBody }, store, NOW);
      expect(response.statusCode, label).toBe(401);
      expect(store.data.has(KVS_STATUS), label).toBe(false);
    }
  });

  it("refuses a replay of a report it applied", async () => {
    const store = memoryStore(registered({ pair: mine }));
    const body = reportBody("down");
    const headers = await signed(mine, body);
    expect((await handleReport({ method: "POST", headers, body }, store, NOW)).statusCode).toBe(204);
    const replay = await handleReport({ method: "POST", headers, body }, store, NOW + 30_000);
    expect(replay.statusCode).toBe(401);
    expect(JSON.parse(replay.body)).toEqual({ error: "REPORT_REPLAYED" });
    expect((store.data.get(KVS_STATUS) as MonitorStatus).events).toHaveLength(1);
  });

  it("accepts the previous key during the overlap window and refuses it after", async () => {
    const overlapEnd = NOW + 60_000;
    const keys = registered({ pair: next }, { pair: mine, acceptUntil: overlapEnd });
    const body = reportBody("up");
    const during = await handleReport(
      { method: "POST", headers: await signed(mine, body), body },
      memoryStore(keys),
      NOW,
    );
    expect(during.statusCode).toBe(204);
    const later = overlapEnd + 1000;
    const after = await handleReport(
      {
        method: "POST",
        headers: await signed(mine, reportBody("up", later), { at: later }),
        body: reportBody("up", later),
      },
      memoryStore(keys),
      later,
    );
    expect(after.statusCode).toBe(401);
    expect(JSON.parse(after.body)).toEqual({ error: "REPORT_KEY_RETIRED" });
  });

  it("never lets an older report delivered late overwrite a newer state", async () => {
    const store = memoryStore(registered({ pair: mine }));
    const newer = reportBody("up", NOW);
    const older = reportBody("down", NOW - 60_000);
    await handleReport({ method: "POST", headers: await signed(mine, newer), body: newer }, store, NOW);
    await handleReport({ method: "POST", headers: await signed(mine, older), body: older }, store, NOW);
    expect((store.data.get(KVS_STATUS) as MonitorStatus).monitors[MONITOR]?.state).toBe("up");
  });

  it("refuses other methods and oversized bodies before any verification", async () => {
    const store = memoryStore(registered({ pair: mine }));
    expect((await handleReport({ method: "GET", headers: {} }, store, NOW)).statusCode).toBe(405);
    expect(
      (await handleReport({ method: "POST", headers: {}, body: "x".repeat(20_000) }, store, NOW)).statusCode,
    ).toBe(413);
  });
});
