/**
 * Two sibling control Workers sharing one identity (DESIGN §4: "Registration under a shared identity is
 * idempotent: it never rotates an existing tenant key, never migrates state to a newly derived id, and
 * never overwrites names or branding that the owning app set"), attacked the way production races them:
 * ONE Miniflare (real workerd) runs two instances of the same control bundle — the same APP_PID and
 * APP_PSK, bound to the SAME D1 database, R2 bucket and KV namespace — and the Forge functions of two
 * apps (installed on overlapping Confluence sites) register the same tenants on both at once, round
 * after round, each request proposing different branding. Then a rotation races registrations, a
 * tenant admin renames the tenant while registrations keep coming, and one app is uninstalled and its
 * tenant erased next to its sibling's.
 *
 * Requests carry real FITs (a Forge function's: no user, no context) signed by a loopback JWKS, and
 * erasure deletes through the Cloudflare API stand-in — no part of the control Worker is replaced.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TenantShortId } from "@mini-sites/core";
import { Log, LogLevel, Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker } from "../../../dev/src/bundle-worker.ts";
import { type CloudflareApi, startCloudflareApi } from "../../../dev/src/cloudflare-api/index.ts";
import { CONTROL_ENTRY, readMigrationFiles } from "../../../dev/src/control.ts";
import {
  createEphemeralFitSigner,
  type FitSigner,
  type ForgeJwksServer,
  signFit,
  startForgeJwksServer,
} from "../../../dev/src/forge/index.ts";
import { COMPATIBILITY_DATE } from "../../../dev/src/user-workers.ts";
import { createApiToken } from "../../src/auth/api-tokens.ts";
import { D1ApiTokenStore } from "../../src/db/api-tokens.ts";
import type { D1Database } from "../../src/db/d1.ts";
import { applyMigrations } from "../../src/db/migrations.ts";

const APP_A = "0a0a0a0a-1111-4222-8333-444444444444";
const APP_B = "0b0b0b0b-5555-4666-8777-888888888888";
const CLOUD_1 = "c1c1c1c1-0000-4000-8000-000000000001";
const CLOUD_2 = "c2c2c2c2-0000-4000-8000-000000000002";
const CLOUD_3 = "c3c3c3c3-0000-4000-8000-000000000003";
const APP_PID = "mini-sites-sibling-test";
// Test-only secrets (≥ 32 bytes), assembled so no scanner mistakes them for real ones.
const APP_PSK = ["sibling", "race", "test", "only", "psk", "0123456789abcdef"].join("-");
const ACCOUNT = "0123456789abcdef0123456789abcdef";
const NAMESPACE = "mini-sites-sibling-test";
const API_TOKEN = ["sibling", "test", "token"].join("-");
const WORKERS = ["control-one", "control-two"] as const;
type WorkerName = (typeof WORKERS)[number];
const ROUNDS = 20;

interface Install {
  readonly label: string;
  readonly appId: string;
  readonly cloudId: string;
  readonly installationId: string;
}

/** Five tenants: app A on three sites, app B on two of the same sites (same cloudIds). */
const INSTALLS: readonly Install[] = [
  { label: "A@1", appId: APP_A, cloudId: CLOUD_1, installationId: "1a000000-0000-4000-8000-0000000000a1" },
  { label: "A@2", appId: APP_A, cloudId: CLOUD_2, installationId: "1a000000-0000-4000-8000-0000000000a2" },
  { label: "A@3", appId: APP_A, cloudId: CLOUD_3, installationId: "1a000000-0000-4000-8000-0000000000a3" },
  { label: "B@1", appId: APP_B, cloudId: CLOUD_1, installationId: "1b000000-0000-4000-8000-0000000000b1" },
  { label: "B@2", appId: APP_B, cloudId: CLOUD_2, installationId: "1b000000-0000-4000-8000-0000000000b2" },
];
const install = (label: string) => INSTALLS.find((i) => i.label === label) as Install;

let mf: Miniflare;
let db: D1Database;
let dataDir: string;
let signer: FitSigner;
let jwks: ForgeJwksServer;
let api: CloudflareApi;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "mini-sites-siblings-"));
  signer = await createEphemeralFitSigner();
  jwks = await startForgeJwksServer(signer);
  api = await startCloudflareApi({
    dataDir: join(dataDir, "cloudflare"),
    accountId: ACCOUNT,
    namespace: NAMESPACE,
    apiToken: API_TOKEN,
    log: () => {},
  });
  // ONE bundle, two Workers: exactly what deploying the same build twice (two Forge apps' control
  // Workers) gives, with shared storage named by id rather than per Worker.
  const script = await bundleWorker(CONTROL_ENTRY);
  const text = (value: string) => ({ type: "text" as const, value });
  const worker = (name: WorkerName) => ({
    config: {
      name,
      compatibilityDate: COMPATIBILITY_DATE,
      manifest: { mainModule: "control.js", modules: { "control.js": { type: "esm", contents: script } } },
      exports: { CloudflareApiBudget: { type: "durable-object", storage: "sqlite" } },
      env: {
        DB: { type: "d1", id: "shared-control-db" },
        BUNDLES: { type: "r2", name: "shared-bundles" },
        TENANT_CSP: { type: "kv", id: "shared-tenant-csp" },
        CLOUDFLARE_API_BUDGET: { type: "durable-object", worker: name, exportName: "CloudflareApiBudget" },
        APP_PID: text(APP_PID),
        APP_PSK: text(APP_PSK),
        FORGE_JWKS_URL: text(jwks.jwksUrl),
        ALLOWED_FORGE_APP_IDS: text(`${APP_A},${APP_B}`),
        SITES_DOMAIN: text("localhost"),
        DISPATCH_BASE_URL: text("http://gw.localhost:1"),
        DEV_ALLOW_LOOPBACK_HTTP: text("true"),
        CLOUDFLARE_API_BASE_URL: text(api.url),
        WFP_ACCOUNT_ID: text(ACCOUNT),
        WFP_NAMESPACE: text(NAMESPACE),
        WFP_API_TOKEN_PROVISIONING: text(API_TOKEN),
        TENANT_PURGE_GRACE_SECONDS: text("1"),
      },
    },
  });
  mf = new Miniflare({
    port: 0,
    cf: false,
    enableDevRegistry: false,
    logRequests: false,
    log: new Log(LogLevel.ERROR),
    resourcePersistencePath: join(dataDir, "control"),
    workers: WORKERS.map(worker),
  } as never);
  await mf.ready;
  db = (await mf.getD1Database("DB", WORKERS[0])) as unknown as D1Database;
  await applyMigrations(db, await readMigrationFiles());
}, 120_000);

afterAll(async () => {
  await mf?.dispose().catch(() => {});
  await api?.close().catch(() => {});
  await jwks?.close();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

// --- Requests as the apps' Forge functions and the tenant admin send them ---------------------------

interface KeysAnswer {
  tenant: TenantShortId;
  current: { keyId: string; publicKey: string };
  previous: { keyId: string; publicKey: string; acceptUntil: number } | null;
}

async function send(
  on: WorkerName,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
) {
  const worker = await mf.getWorker(on);
  const response = await worker.fetch(`http://control.test${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** What the app's Forge function sends: a FIT without a user or context, for its installation. */
async function asFunction(of: Install, on: WorkerName, path: string, body: unknown = {}) {
  const fit = await signFit(signer, {
    appId: of.appId,
    installationId: of.installationId,
    cloudId: of.cloudId,
    context: null,
  });
  return send(on, "POST", path, { authorization: `Bearer ${fit}` }, body);
}

/** The branding a request proposes: different in every request, so a later one that won would show. */
const proposal = (of: Install, on: WorkerName, round: number) => ({
  displayName: `${of.label} via ${on} round ${round}`,
  supportUrl: `https://help.example.com/${of.appId}/${on}/${round}`,
});

async function register(of: Install, on: WorkerName, round: number): Promise<KeysAnswer> {
  const answer = await asFunction(of, on, "/v1/tenants/register", proposal(of, on, round));
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  return answer.json as unknown as KeysAnswer;
}

async function rows<T>(query: string, ...binds: unknown[]): Promise<T[]> {
  const { results } = await db
    .prepare(query)
    .bind(...binds)
    .all<T>();
  return results;
}

const tenantRows = () =>
  rows<{ id: string; forge_app_id: string; cloud_id: string; installation_id: string }>(
    "SELECT id, forge_app_id, cloud_id, installation_id FROM tenants ORDER BY forge_app_id, cloud_id",
  );
const keyRows = (tenant: string) =>
  rows<{ key_id: string; public_key: string; state: string; wrap_key_id: string }>(
    "SELECT key_id, public_key, state, wrap_key_id FROM tenant_keys WHERE tenant_id = ? ORDER BY state",
    tenant,
  );
const branding = async (tenant: string) =>
  (
    await rows<{ display_name: string | null; support_url: string | null }>(
      "SELECT display_name, support_url FROM tenant_branding WHERE tenant_id = ?",
      tenant,
    )
  )[0];
const auditCount = async (tenant: string, action: string) =>
  (
    await rows<{ n: number }>(
      "SELECT COUNT(*) AS n FROM audit_entries WHERE tenant_id = ? AND action = ?",
      tenant,
      action,
    )
  )[0]?.n;

/** Every installation registers on both Workers at once, in every one of `rounds`, all interleaved. */
async function registerEverywhere(rounds: readonly number[]): Promise<Map<string, KeysAnswer[]>> {
  const calls = rounds.flatMap((round) => INSTALLS.flatMap((of) => WORKERS.map((on) => ({ of, on, round }))));
  const answers = await Promise.all(calls.map(({ of, on, round }) => register(of, on, round)));
  const byInstall = new Map<string, KeysAnswer[]>();
  for (const [i, { of }] of calls.entries())
    byInstall.set(of.label, [...(byInstall.get(of.label) ?? []), answers[i] as KeysAnswer]);
  return byInstall;
}

// --- The race ------------------------------------------------------------------------------------------

/** What the first round settled, per installation; every later step is compared with it. */
const settled = new Map<
  string,
  {
    tenant: TenantShortId;
    keys: KeysAnswer;
    branding: { display_name: string | null; support_url: string | null };
  }
>();

describe("two sibling control Workers sharing one identity and one database", () => {
  it("derive the same keys: the same identity fingerprints on both", async () => {
    const identities = await Promise.all(
      WORKERS.map(async (on) => (await send(on, "GET", "/.well-known/mini-sites", {})).json.identity),
    );
    expect(identities[0]).toMatchObject({ mode: "shared", appPid: APP_PID });
    expect(identities[1]).toEqual(identities[0]);
  });

  it("settle a first concurrent round on ONE tenant, ONE key and ONE proposal's branding per installation", async () => {
    const answers = await registerEverywhere([0]);
    const tenants = await tenantRows();
    expect(tenants).toHaveLength(INSTALLS.length);
    for (const of of INSTALLS) {
      const mine = answers.get(of.label) ?? [];
      expect(new Set(mine.map((a) => a.tenant)).size, of.label).toBe(1);
      expect(new Set(mine.map((a) => a.current.publicKey)).size, of.label).toBe(1);
      const tenant = (mine[0] as KeysAnswer).tenant;
      const row = tenants.find((t) => t.id === tenant);
      expect(row, of.label).toMatchObject({
        forge_app_id: of.appId,
        cloud_id: of.cloudId,
        installation_id: of.installationId,
      });
      const stored = await branding(tenant);
      // Name and link come from the same request — the one whose registration wrote first.
      const winner = WORKERS.map((on) => proposal(of, on, 0)).find(
        (p) => p.displayName === stored?.display_name,
      );
      expect(winner, `${of.label}: ${JSON.stringify(stored)}`).toBeDefined();
      expect(stored?.support_url).toBe(winner?.supportUrl);
      settled.set(of.label, { tenant, keys: mine[0] as KeysAnswer, branding: stored as never });
    }
    // Sibling apps on the same site are different tenants with different keys.
    for (const cloud of ["1", "2"]) {
      const a = settled.get(`A@${cloud}`);
      const b = settled.get(`B@${cloud}`);
      expect(a?.tenant).not.toBe(b?.tenant);
      expect(a?.keys.current.publicKey).not.toBe(b?.keys.current.publicKey);
    }
  });

  it(`keep tenants, keys and branding exactly as they are through ${ROUNDS - 1} more interleaved rounds on both Workers`, async () => {
    const rounds = Array.from({ length: ROUNDS - 1 }, (_, i) => i + 1);
    // Two halves, checked after each, so a change that a later write would hide is still seen.
    for (const half of [rounds.slice(0, rounds.length / 2), rounds.slice(rounds.length / 2)]) {
      const answers = await registerEverywhere(half);
      for (const of of INSTALLS) {
        const first = settled.get(of.label);
        for (const answer of answers.get(of.label) ?? []) {
          expect(answer.tenant, of.label).toBe(first?.tenant);
          expect(answer.current, of.label).toEqual(first?.keys.current);
          expect(answer.previous, of.label).toBeNull();
        }
        expect(await branding(first?.tenant as string), of.label).toEqual(first?.branding);
      }
    }
    expect((await tenantRows()).map((t) => t.id).sort()).toEqual(
      [...settled.values()].map((s) => s.tenant).sort(),
    );
    for (const { tenant, keys } of settled.values()) {
      const stored = await keyRows(tenant);
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({
        key_id: keys.current.keyId,
        public_key: keys.current.publicKey,
        state: "current",
      });
      // One key made and one branding written per tenant, however many registrations raced.
      expect(await auditCount(tenant, "tenant.key.create")).toBe(1);
      expect(await auditCount(tenant, "tenant.branding")).toBe(1);
    }
  }, 120_000);

  it("never roll a rotation back: registrations racing one rotate-key, and after it, all keep its key", async () => {
    const of = install("A@2");
    const { tenant, keys: before } = settled.get(of.label) as { tenant: TenantShortId; keys: KeysAnswer };
    const racing = Array.from({ length: 10 }, (_, i) => register(of, WORKERS[i % 2] as WorkerName, 100 + i));
    const rotation = asFunction(of, "control-two", "/v1/tenants/rotate-key");
    const [rotated] = await Promise.all([rotation, ...racing]);
    expect(rotated.status).toBe(200);
    const after = rotated.json as unknown as KeysAnswer;
    expect(after.current.keyId).not.toBe(before.current.keyId);
    expect(after.previous?.keyId).toBe(before.current.keyId);
    const later = await Promise.all(
      Array.from({ length: 10 }, (_, i) => register(of, WORKERS[i % 2] as WorkerName, 200 + i)),
    );
    for (const answer of later) {
      expect(answer.tenant).toBe(tenant);
      expect(answer.current).toEqual(after.current);
      expect(answer.previous?.keyId).toBe(before.current.keyId);
    }
    const stored = await keyRows(tenant);
    expect(stored.filter((r) => r.state === "current").map((r) => r.key_id)).toEqual([after.current.keyId]);
    expect(stored.filter((r) => r.state === "previous").map((r) => r.key_id)).toEqual([before.current.keyId]);
    expect(await auditCount(tenant, "tenant.key.rotate")).toBe(1);
  }, 60_000);

  it("keep the name and link the tenant's admin set, whatever the apps propose afterwards", async () => {
    const of = install("B@1");
    const { tenant } = settled.get(of.label) as { tenant: TenantShortId };
    const { token, record } = await createApiToken({
      tenantId: tenant,
      scopes: ["tenant:admin"],
      label: "admin",
    });
    await new D1ApiTokenStore(db).insert(record);
    const admin = { authorization: `Bearer ${token}` };
    const chosen = { displayName: "Globex status pages", supportUrl: "https://globex.example.com/help" };
    const put = await send("control-one", "PUT", "/v1/tenant/settings", admin, chosen);
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => register(of, WORKERS[i % 2] as WorkerName, 300 + i)),
    );
    const read = await send("control-two", "GET", "/v1/tenant/settings", admin);
    expect(read.json).toMatchObject(chosen);
    expect(await branding(tenant)).toEqual({
      display_name: chosen.displayName,
      support_url: chosen.supportUrl,
    });
  }, 60_000);

  it("erase an uninstalled app's tenant and leave its sibling app's tenant on the same site, with its key and branding, intact", async () => {
    const gone = settled.get("A@1") as { tenant: TenantShortId };
    const kept = settled.get("B@1") as { tenant: TenantShortId; keys: KeysAnswer };
    const keptKeys = await keyRows(kept.tenant);
    const keptBranding = await branding(kept.tenant);
    const uninstall = await asFunction(install("A@1"), "control-one", "/v1/lifecycle/uninstalling");
    expect(uninstall.json).toEqual({ state: "purging" });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // The 5-minute housekeeping cron of the Worker that was told, as Cloudflare would run it.
    await (await mf.getWorker("control-one")).scheduled({ cron: "*/5 * * * *", scheduledTime: new Date() });

    expect((await tenantRows()).map((t) => t.id)).not.toContain(gone.tenant);
    expect(await keyRows(gone.tenant)).toEqual([]);
    expect(await branding(gone.tenant)).toBeUndefined();
    expect(await keyRows(kept.tenant)).toEqual(keptKeys);
    expect(await branding(kept.tenant)).toEqual(keptBranding);
    // The sibling app keeps registering as itself, on either Worker.
    for (const on of WORKERS) {
      const again = await register(install("B@1"), on, 400);
      expect(again.tenant).toBe(kept.tenant);
      expect(again.current).toEqual(kept.keys.current);
    }
    // Reinstalling app A makes a NEW tenant with a new key: never the sibling's, never the erased id.
    const reinstalled = await register(install("A@1"), "control-two", 401);
    expect([gone.tenant, kept.tenant]).not.toContain(reinstalled.tenant);
    expect(reinstalled.current.publicKey).not.toBe(kept.keys.current.publicKey);
  }, 60_000);
});
