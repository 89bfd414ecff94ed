/**
 * The Forge side of signed monitor reports (DESIGN §3 "Monitors and tenant keys"):
 *
 *   registerTenant      the REGISTER step: asks the control Worker for the tenant's public keys
 *                       (POST /v1/tenants/register, a function's FIT: no user) and hands it the web
 *                       trigger URL and the app's branding (branding.ts); stores the keys in Forge KVS. Runs when the app is installed or
 *                       upgraded, and daily, so a lost answer or a rotation elsewhere heals.
 *   rotateTenantKey     weekly: a new key pair; the previous public key stays accepted for the
 *                       overlap window the control Worker names.
 *   receiveMonitorReport  the web trigger. Its URL is unauthenticated by design, so the signature is
 *                       the authentication: every report is verified (core/src/reports) against the
 *                       tenant and keys stored at registration — never anything the request says —
 *                       within ±5 min, with a nonce ledger against replays. Anything else answers 401
 *                       and changes nothing.
 *
 * Known limits: the nonce ledger and the status record are each one KVS value, read, changed and
 * written back. Two copies of one report arriving at the same instant could both pass the nonce
 * check — applying a state report twice is harmless (it sets the same state), which is why reports
 * carry states, never deltas — and two different reports arriving at the same instant could lose one
 * monitor's update until its next change. The control Worker makes this rare: it pushes one report
 * at a time and leases each report before sending it, so overlapping passes never send the same one.
 * The way out is one KVS key per nonce set with `keyPolicy: "FAIL_IF_EXISTS"` and a TTL, and one key
 * per monitor (@forge/kvs 1.3+); the local KVS (dev/src/forge/kvs.ts) does not play set options yet.
 */

import { invokeRemote, webTrigger } from "@forge/api";
import { kvs } from "@forge/kvs";
import { type ReportVerifyKey, rememberInLedger, verifyReport } from "@mini-sites/core";
import { appBranding } from "./branding.ts";

/** The manifest's webtrigger module key (manifest.yml). */
export const REPORT_WEBTRIGGER_KEY = "monitor-reports";
/** KVS keys. */
export const KVS_REPORT_KEYS = "monitors:report-keys";
export const KVS_NONCES = "monitors:report-nonces";
export const KVS_STATUS = "monitors:status";
/** Live nonces kept: one window of reports for 50 monitors changing every minute, with room to spare. */
export const NONCE_LEDGER_CAP = 2000;
/** State-change events kept for the status view. */
export const MAX_EVENTS = 100;
/** A report body larger than this is not ours. */
const MAX_REPORT_BYTES = 16 * 1024;

export interface StoredKeys {
  readonly tenant: string;
  readonly keys: readonly ReportVerifyKey[];
  readonly registeredAt: number;
}

interface KeysAnswer {
  tenant: string;
  current: { keyId: string; publicKey: string };
  previous: { keyId: string; publicKey: string; acceptUntil: number } | null;
}

function storedFrom(answer: KeysAnswer, now: number): StoredKeys {
  const keys: ReportVerifyKey[] = [{ keyId: answer.current.keyId, publicKey: answer.current.publicKey }];
  if (answer.previous !== null) keys.push(answer.previous);
  return { tenant: answer.tenant, keys, registeredAt: now };
}

async function callControl(path: string, body: unknown): Promise<KeysAnswer> {
  const response = await invokeRemote("control", {
    path,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path} answered ${response.status}`);
  return (await response.json()) as KeysAnswer;
}

/** Trigger (installed, upgraded) and daily scheduled trigger: register and store the keys. */
export async function registerTenant(): Promise<{ tenant: string; keyId: string }> {
  const webTriggerUrl = await webTrigger.getUrl(REPORT_WEBTRIGGER_KEY);
  // The app's branding rides along: kept only where the tenant has none (never overwrites).
  const answer = await callControl("/v1/tenants/register", { webTriggerUrl, ...appBranding() });
  await kvs.set(KVS_REPORT_KEYS, storedFrom(answer, Date.now()));
  return { tenant: answer.tenant, keyId: answer.current.keyId };
}

/** Weekly scheduled trigger: rotate, and store both keys (the previous one until its overlap ends). */
export async function rotateTenantKey(): Promise<{ tenant: string; keyId: string }> {
  const answer = await callControl("/v1/tenants/rotate-key", {});
  await kvs.set(KVS_REPORT_KEYS, storedFrom(answer, Date.now()));
  return { tenant: answer.tenant, keyId: answer.current.keyId };
}

/** What the status view reads: each monitor's last reported state, and recent changes. */
export interface MonitorStatus {
  readonly monitors: Record<
    string,
    {
      name: string;
      state: "up" | "down";
      at: number;
      status: number | null;
      latencyMs: number | null;
      error: string | null;
    }
  >;
  readonly events: { monitorId: string; name: string; from: string; to: string; at: number }[];
}

/** A web trigger's request and response, as Forge hands and expects them. */
export interface WebTriggerRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, readonly string[] | string | undefined>>;
  readonly body?: string;
}

export interface WebTriggerResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string[]>;
  readonly body: string;
}

/** The storage the verifier needs: the Forge KVS in production, a map in tests. */
export interface ReportStore {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
}

const forgeStore: ReportStore = {
  get: async <T>(key: string) => (await kvs.get(key)) as T | undefined,
  set: (key, value) => kvs.set(key, value as never),
};

const answer = (statusCode: number, body: unknown): WebTriggerResponse => ({
  statusCode,
  headers: { "Content-Type": ["application/json"] },
  body: JSON.stringify(body),
});

interface StateReport {
  type: "monitor.state";
  tenant: string;
  monitorId: string;
  name: string;
  from: string;
  to: "up" | "down";
  at: number;
  status: number | null;
  latencyMs: number | null;
  error: string | null;
}

function parseReport(body: string, tenant: string): StateReport | undefined {
  try {
    const r = JSON.parse(body) as Partial<StateReport>;
    if (
      r.type !== "monitor.state" ||
      r.tenant !== tenant ||
      typeof r.monitorId !== "string" ||
      !/^mon_[a-z2-7]{16}$/.test(r.monitorId) ||
      typeof r.name !== "string" ||
      (r.to !== "up" && r.to !== "down") ||
      typeof r.at !== "number"
    )
      return undefined;
    return r as StateReport;
  } catch {
    return undefined;
  }
}

/** Verifies and applies one report; the web trigger's whole job. Exported for tests with any store. */
export async function handleReport(
  request: WebTriggerRequest,
  store: ReportStore,
  now: number,
): Promise<WebTriggerResponse> {
  if (request.method !== "POST") return answer(405, { error: "METHOD_NOT_ALLOWED" });
  const body = request.body ?? "";
  if (body.length > MAX_REPORT_BYTES) return answer(413, { error: "BODY_TOO_LARGE" });
  const registered = await store.get<StoredKeys>(KVS_REPORT_KEYS);
  if (registered === undefined) return answer(401, { error: "NOT_REGISTERED" });
  const verdict = await verifyReport({
    headers: request.headers,
    body,
    tenant: registered.tenant,
    keys: registered.keys,
    nowMs: now,
    rememberNonce: async (nonce, expiresAt) => {
      const ledger = (await store.get<Record<string, number>>(KVS_NONCES)) ?? {};
      const next = rememberInLedger(ledger, nonce, expiresAt, now, NONCE_LEDGER_CAP);
      await store.set(KVS_NONCES, next.ledger);
      return next.fresh;
    },
  });
  if (!verdict.ok) return answer(401, { error: verdict.code });
  const report = parseReport(body, registered.tenant);
  if (report === undefined) return answer(400, { error: "REPORT_INVALID" });
  const status = (await store.get<MonitorStatus>(KVS_STATUS)) ?? { monitors: {}, events: [] };
  const known = status.monitors[report.monitorId];
  // An older report delivered late never overwrites a newer state.
  if (known === undefined || known.at <= report.at)
    status.monitors[report.monitorId] = {
      name: report.name,
      state: report.to,
      at: report.at,
      status: report.status,
      latencyMs: report.latencyMs,
      error: report.error,
    };
  status.events.push({
    monitorId: report.monitorId,
    name: report.name,
    from: report.from,
    to: report.to,
    at: report.at,
  });
  status.events.splice(0, Math.max(0, status.events.length - MAX_EVENTS));
  await store.set(KVS_STATUS, status);
  return { statusCode: 204, headers: {}, body: "" };
}

/** The web trigger handler (manifest.yml `webtrigger` → function `receive-monitor-report`). */
export function receiveMonitorReport(request: WebTriggerRequest): Promise<WebTriggerResponse> {
  return handleReport(request, forgeStore, Date.now());
}
