/**
 * Signed reports from the attacker's side (DESIGN §3 "Monitors and tenant keys"): a web trigger URL
 * is public, so everything an attacker can send it — a tampered body, another tenant's key or name,
 * a replay, a stale or future timestamp, missing, duplicated or re-spelled headers, a retired key —
 * is refused, and only the tenant's own fresh report verifies.
 */

import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  encodeReportPublicKey,
  generateTenantKeyPair,
  importReportSigningKey,
  REPORT_HEADERS,
  REPORT_WINDOW_SECONDS,
  type ReportVerifyKey,
  rememberInLedger,
  signReport,
  type TenantKeyPair,
  verifyReport,
} from "../../src/reports/index.ts";

const NOW = 1_780_000_000_000;
const TENANT = "abcde";
const OTHER_TENANT = "fghij";
const BODY = JSON.stringify({ type: "monitor.state", monitorId: "mon_1", state: "down" });

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

const keyOf = (pair: TenantKeyPair, acceptUntil?: number): ReportVerifyKey => ({
  keyId: pair.keyId,
  publicKey: encodeReportPublicKey(pair.publicKey),
  ...(acceptUntil === undefined ? {} : { acceptUntil }),
});

async function sign(pair: TenantKeyPair, options: { tenant?: string; body?: string; at?: number } = {}) {
  return signReport({
    signingKey: await importReportSigningKey(pair.privateKeyPkcs8),
    keyId: pair.keyId,
    tenant: options.tenant ?? TENANT,
    body: options.body ?? BODY,
    nowMs: options.at ?? NOW,
  });
}

function memory() {
  const seen = new Set<string>();
  return async (nonce: string) => {
    if (seen.has(nonce)) return false;
    seen.add(nonce);
    return true;
  };
}

async function verify(
  headers: Record<string, string | string[]>,
  options: {
    body?: string;
    keys?: ReportVerifyKey[];
    at?: number;
    remember?: ReturnType<typeof memory>;
  } = {},
) {
  return verifyReport({
    headers,
    body: options.body ?? BODY,
    tenant: TENANT,
    keys: options.keys ?? [keyOf(mine)],
    nowMs: options.at ?? NOW,
    rememberNonce: options.remember ?? memory(),
  });
}

describe("a report signed by the tenant's own key", () => {
  it("verifies, from a fetch Headers object and from Forge's record of arrays alike", async () => {
    const headers = await sign(mine);
    expect(await verify(headers)).toMatchObject({ ok: true, keyId: mine.keyId });
    const forgeShape = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]]));
    expect((await verify(forgeShape)).ok).toBe(true);
    const fetchHeaders = new Headers(headers);
    const verdict = await verifyReport({
      headers: fetchHeaders,
      body: BODY,
      tenant: TENANT,
      keys: [keyOf(mine)],
      nowMs: NOW,
      rememberNonce: memory(),
    });
    expect(verdict.ok).toBe(true);
  });

  it("verifies at both edges of the ±5 minute window and not one second beyond", async () => {
    for (const skew of [-REPORT_WINDOW_SECONDS, REPORT_WINDOW_SECONDS]) {
      const headers = await sign(mine, { at: NOW + skew * 1000 });
      expect((await verify(headers)).ok).toBe(true);
    }
    for (const skew of [-(REPORT_WINDOW_SECONDS + 1), REPORT_WINDOW_SECONDS + 1]) {
      const headers = await sign(mine, { at: NOW + skew * 1000 });
      expect(await verify(headers)).toEqual({ ok: false, code: "REPORT_STALE" });
    }
  });
});

describe("refusals", () => {
  it("refuses a tampered body, however small the change", async () => {
    const headers = await sign(mine);
    expect(await verify(headers, { body: BODY.replace("down", "up") })).toEqual({
      ok: false,
      code: "REPORT_BAD_SIGNATURE",
    });
    expect((await verify(headers, { body: `${BODY} ` })).ok).toBe(false);
    expect((await verify(headers, { body: "" })).ok).toBe(false);
  });

  it("refuses a report signed with another tenant's key, whatever tenant it claims", async () => {
    // Their key, our tenant name, their key id: we do not hold that key.
    expect(await verify(await sign(theirs))).toEqual({ ok: false, code: "REPORT_KEY_UNKNOWN" });
    // Their key, but claiming our key id: the signature does not verify with our key.
    const forged = { ...(await sign(theirs)), [REPORT_HEADERS.keyId]: mine.keyId };
    expect(await verify(forged)).toEqual({ ok: false, code: "REPORT_BAD_SIGNATURE" });
  });

  it("refuses a report for another tenant, even one signed correctly for it", async () => {
    const theirsForThem = await sign(theirs, { tenant: OTHER_TENANT });
    expect(await verify(theirsForThem, { keys: [keyOf(mine), keyOf(theirs)] })).toEqual({
      ok: false,
      code: "REPORT_WRONG_TENANT",
    });
    // Re-labelled to our tenant, the tenant is inside the signed string: it no longer verifies.
    const relabelled = { ...theirsForThem, [REPORT_HEADERS.tenant]: TENANT };
    expect(await verify(relabelled, { keys: [keyOf(mine), keyOf(theirs)] })).toEqual({
      ok: false,
      code: "REPORT_BAD_SIGNATURE",
    });
  });

  it("refuses a replay of a report that verified, within the window", async () => {
    const remember = memory();
    const headers = await sign(mine);
    expect((await verify(headers, { remember })).ok).toBe(true);
    expect(await verify(headers, { remember, at: NOW + 60_000 })).toEqual({
      ok: false,
      code: "REPORT_REPLAYED",
    });
  });

  it("never remembers the nonce of a report that failed, so junk cannot burn a real nonce", async () => {
    const remember = memory();
    const headers = await sign(mine);
    expect((await verify(headers, { remember, body: "tampered" })).ok).toBe(false);
    expect((await verify(headers, { remember })).ok).toBe(true);
  });

  it("refuses stale and future timestamps", async () => {
    expect(await verify(await sign(mine, { at: NOW - 3_600_000 }))).toEqual({
      ok: false,
      code: "REPORT_STALE",
    });
    expect(await verify(await sign(mine, { at: NOW + 3_600_000 }))).toEqual({
      ok: false,
      code: "REPORT_STALE",
    });
  });

  it("refuses a report missing any one header", async () => {
    const headers = await sign(mine);
    for (const name of Object.values(REPORT_HEADERS)) {
      const { [name]: _dropped, ...rest } = headers;
      expect(await verify(rest)).toEqual({ ok: false, code: "REPORT_HEADER_MISSING", header: name });
    }
    expect(await verify({})).toMatchObject({ ok: false, code: "REPORT_HEADER_MISSING" });
  });

  it("refuses any header sent twice, even with the same value, and in another letter case", async () => {
    const headers = await sign(mine);
    for (const name of Object.values(REPORT_HEADERS)) {
      const value = headers[name] as string;
      expect(await verify({ ...headers, [name]: [value, value] })).toEqual({
        ok: false,
        code: "REPORT_HEADER_DUPLICATED",
        header: name,
      });
      expect(await verify({ ...headers, [name.toUpperCase()]: value })).toMatchObject({
        ok: false,
        code: "REPORT_HEADER_DUPLICATED",
      });
    }
    // A fetch Headers object joins duplicates with ", ": no longer the canonical spelling.
    const joined = new Headers(headers);
    joined.append(REPORT_HEADERS.nonce, headers[REPORT_HEADERS.nonce] as string);
    const verdict = await verifyReport({
      headers: joined,
      body: BODY,
      tenant: TENANT,
      keys: [keyOf(mine)],
      nowMs: NOW,
      rememberNonce: memory(),
    });
    expect(verdict).toMatchObject({ ok: false, code: "REPORT_HEADER_MALFORMED" });
  });

  it("refuses re-spelled headers (padding, case, whitespace, leading zeros)", async () => {
    const headers = await sign(mine);
    const variants: [string, string][] = [
      [REPORT_HEADERS.timestamp, `0${headers[REPORT_HEADERS.timestamp]}`],
      [REPORT_HEADERS.timestamp, `${headers[REPORT_HEADERS.timestamp]}.0`],
      [REPORT_HEADERS.timestamp, ` ${headers[REPORT_HEADERS.timestamp]}`],
      [REPORT_HEADERS.signature, `${headers[REPORT_HEADERS.signature]}==`],
      [REPORT_HEADERS.keyId, (headers[REPORT_HEADERS.keyId] as string).toUpperCase()],
      [REPORT_HEADERS.tenant, TENANT.toUpperCase()],
      [REPORT_HEADERS.nonce, `${headers[REPORT_HEADERS.nonce]}A`],
    ];
    for (const [name, value] of variants) {
      const verdict = await verify({ ...headers, [name]: value });
      expect(verdict.ok, `${name}: ${value}`).toBe(false);
    }
  });

  it("property: any change of one character of any header never verifies", async () => {
    const headers = await sign(mine);
    const names = Object.values(REPORT_HEADERS);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...names),
        fc.nat(),
        fc.integer({ min: 33, max: 126 }),
        async (name, position, code) => {
          const value = headers[name] as string;
          const at = position % value.length;
          const replacement = String.fromCharCode(code);
          fc.pre(value[at] !== replacement);
          const changed = value.slice(0, at) + replacement + value.slice(at + 1);
          expect((await verify({ ...headers, [name]: changed })).ok).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("property: any single-byte change of the body never verifies", async () => {
    const headers = await sign(mine);
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.integer({ min: 32, max: 126 }), async (position, code) => {
        const at = position % BODY.length;
        const replacement = String.fromCharCode(code);
        fc.pre(BODY[at] !== replacement);
        const body = BODY.slice(0, at) + replacement + BODY.slice(at + 1);
        expect((await verify(headers, { body })).ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});

describe("rotation", () => {
  it("accepts the previous key during its overlap window and refuses it after", async () => {
    const overlapEnd = NOW + 60_000;
    const keys = [keyOf(next), keyOf(mine, overlapEnd)];
    expect((await verify(await sign(next), { keys })).ok).toBe(true);
    expect((await verify(await sign(mine), { keys })).ok).toBe(true);
    const after = overlapEnd + 1;
    expect(await verify(await sign(mine, { at: after }), { keys, at: after })).toEqual({
      ok: false,
      code: "REPORT_KEY_RETIRED",
    });
    expect((await verify(await sign(next, { at: after }), { keys, at: after })).ok).toBe(true);
  });

  it("refuses a stored key whose bytes do not match its id", async () => {
    const mixedUp: ReportVerifyKey = {
      keyId: mine.keyId,
      publicKey: encodeReportPublicKey(theirs.publicKey),
    };
    expect(await verify(await sign(mine), { keys: [mixedUp] })).toMatchObject({ ok: false });
  });
});

describe("the nonce ledger kept in one stored value", () => {
  it("remembers fresh nonces, refuses repeats, drops expired ones, and fails closed when full", () => {
    let state = rememberInLedger({}, "a", NOW + 1000, NOW, 3);
    expect(state.fresh).toBe(true);
    state = rememberInLedger(state.ledger, "a", NOW + 1000, NOW, 3);
    expect(state.fresh).toBe(false);
    state = rememberInLedger(state.ledger, "b", NOW + 5000, NOW + 2000, 3);
    expect(state).toEqual({ fresh: true, ledger: { b: NOW + 5000 } });
    state = rememberInLedger(state.ledger, "c", NOW + 5000, NOW + 2000, 2);
    expect(state.fresh).toBe(true);
    expect(rememberInLedger(state.ledger, "d", NOW + 5000, NOW + 2000, 2).fresh).toBe(false);
  });
});
