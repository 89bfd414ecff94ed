/**
 * The control Worker in the dev stack: the production code (control/src/index.ts) on workerd in a
 * Miniflare instance of its own — apart from the edge, so nothing the edge does when sites come and
 * go can restart a running Workflow — with D1, R2 and Workflows persisted under `<data>/control`.
 *
 * Local Workflows do not resume after the process dies (dev/research/workflow-resume.ts): at start,
 * every job still marked running is handed to the Worker's own recovery (restart or fail typed), so a
 * publish interrupted by Ctrl-C or a kill ends resumed or cleanly failed, never half-live.
 */

import { createHmac } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseTenantShortId, type TenantShortId } from "@mini-sites/core";
import { Log, LogLevel, Miniflare, Response as MiniflareResponse } from "miniflare";
import { createApiToken } from "../../control/src/auth/api-tokens.ts";
import { SCOPES } from "../../control/src/auth/principal.ts";
import { D1ApiTokenStore } from "../../control/src/db/api-tokens.ts";
import type { D1Database } from "../../control/src/db/d1.ts";
import { applyMigrations } from "../../control/src/db/migrations.ts";
import { ensureTenant } from "../../control/src/db/tenants.ts";
import { DEFAULT_PUBLISH_CONFIG } from "../../control/src/publish/config.ts";
import { bundleWorker } from "./bundle-worker.ts";
import { DEV_FORGE_INSTALLATION } from "./forge/index.ts";
import { requestVia } from "./loopback-http.ts";
import { readMigrationFiles } from "./migration-files.ts";
import { COMPATIBILITY_DATE } from "./user-workers.ts";

export { readMigrationFiles };

export const CONTROL_ENTRY = fileURLToPath(new URL("../../control/src/index.ts", import.meta.url));
const WORKFLOW_NAME = "provision-version";
/** The local TENANT_CSP namespace's id: its folder under `<data>/control/kv`. */
const TENANT_CSP_NAMESPACE = "tenant-csp";
/** The local SITE_FEEDS namespace's id: its folder under `<data>/control/kv`. */
const SITE_FEEDS_NAMESPACE = "site-feeds";
/** Headers that described the loopback hop, not the response (the body is re-sent whole). */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length"]);

/** The monitors' cron as wrangler-control.toml names it (control/src/index.ts answers it). */
export const MONITOR_CRON = "* * * * *";
export const DEFAULT_MONITOR_CRON_MS = 5_000;

export interface ControlOptions {
  readonly dataDir: string;
  readonly port: number;
  /** Vars and secrets the Worker gets, exactly as `wrangler-control.toml` and `wrangler secret` give them. */
  readonly vars: Readonly<Record<string, string>>;
  /** The gateway's socket (`127.0.0.1:<port>`): smoke checks go through the real gateway, Host kept. */
  readonly gateway: URL;
  /** 32 bytes kept in dev-secrets.json: the dev API token is derived from it, so it survives restarts. */
  readonly apiTokenSeed: string;
  readonly log?: Log;
  /**
   * How often the monitors' cron runs (ms). Cloudflare runs it every minute; locally it runs more
   * often so a state change shows within seconds of a check falling due (monitor intervals stay ≥ 1 min).
   */
  readonly monitorCronMs?: number;
}

export interface Control {
  readonly url: URL;
  readonly miniflare: Miniflare;
  /** Tenant of the dev Forge installation, and an API token for it (all scopes). */
  readonly devTenant: TenantShortId;
  readonly apiToken: string;
  /** One key of the TENANT_CSP namespace, read from the real local namespace (the gateway's reader). */
  readTenantCsp(key: string): Promise<string | null>;
  /** One key of the SITE_FEEDS namespace, likewise. */
  readSiteFeeds(key: string): Promise<string | null>;
  close(): Promise<void>;
}

/**
 * The control Worker's own bindings as Miniflare 5 declares them — D1, R2, the TENANT_CSP and
 * SITE_FEEDS KV namespaces, the ProvisionVersion Workflow and the CloudflareApiBudget Durable Object, as
 * wrangler-control.toml declares them for Cloudflare — shared by the dev stack and the publish tests
 * so both run the Worker one way. The dev stack's gateway reads TENANT_CSP and SITE_FEEDS from this
 * instance (`readTenantCsp`, `readSiteFeeds`), so both Workers share the namespaces as on Cloudflare.
 */
export function controlWorkerBindings(workerName: string) {
  return {
    exports: {
      ProvisionVersion: { type: "workflow" as const, name: WORKFLOW_NAME },
      CloudflareApiBudget: { type: "durable-object" as const, storage: "sqlite" as const },
    },
    env: {
      DB: { type: "d1" as const },
      BUNDLES: { type: "r2" as const },
      TENANT_CSP: { type: "kv" as const, id: TENANT_CSP_NAMESPACE },
      SITE_FEEDS: { type: "kv" as const, id: SITE_FEEDS_NAMESPACE },
      PROVISION_VERSION: {
        type: "workflow" as const,
        name: WORKFLOW_NAME,
        worker: workerName,
        exportName: "ProvisionVersion",
      },
      CLOUDFLARE_API_BUDGET: {
        type: "durable-object" as const,
        worker: workerName,
        exportName: "CloudflareApiBudget",
      },
    },
  };
}

export async function startControl(options: ControlOptions): Promise<Control> {
  const text = (value: string) => ({ type: "text" as const, value });
  const bindings = controlWorkerBindings("control");
  const miniflare = new Miniflare({
    host: "127.0.0.1",
    port: options.port,
    log: options.log ?? new Log(LogLevel.WARN),
    logRequests: false,
    cf: false,
    enableDevRegistry: false,
    resourcePersistencePath: join(options.dataDir, "control"),
    workers: [
      {
        config: {
          name: "control",
          compatibilityDate: COMPATIBILITY_DATE,
          manifest: {
            mainModule: "control.js",
            modules: { "control.js": { type: "esm", contents: await bundleWorker(CONTROL_ENTRY) } },
          },
          exports: bindings.exports,
          env: {
            ...bindings.env,
            // Production: a service binding to the dispatch Worker. Here: the gateway's own socket, so
            // smoke checks see exactly what a browser sees (cold user Workers included).
            DISPATCH: {
              type: "fetcher",
              handler: async (request) => {
                const url = new URL(request.url);
                const answer = await requestVia(new URL(url.pathname + url.search, options.gateway).href, {
                  host: url.host,
                  method: request.method,
                  headers: Object.fromEntries(request.headers),
                });
                return new MiniflareResponse(answer.body, {
                  status: answer.status,
                  headers: Object.entries(answer.headers).flatMap(([name, value]) =>
                    value === undefined || HOP_BY_HOP.has(name)
                      ? []
                      : [[name, String(value)] as [string, string]],
                  ),
                });
              },
            },
            ...Object.fromEntries(Object.entries(options.vars).map(([key, value]) => [key, text(value)])),
          },
        },
      },
    ],
  });
  try {
    const url = await miniflare.ready;
    const db = (await miniflare.getD1Database("DB", "control")) as unknown as D1Database;
    await applyMigrations(db, await readMigrationFiles());
    const devTenant = await devTenantOf(db);
    const apiToken = await ensureDevApiToken(db, devTenant, options.apiTokenSeed);
    await recoverInterruptedJobs(miniflare);
    const tenantCsp = await miniflare.getKVNamespace("TENANT_CSP", "control");
    const siteFeeds = await miniflare.getKVNamespace("SITE_FEEDS", "control");
    const worker = await miniflare.getWorker("control");
    let cron: Promise<unknown> = Promise.resolve();
    const monitors = setInterval(() => {
      // One pass at a time, as Cloudflare never overlaps a Worker's own cron invocations here either.
      cron = cron
        .then(() => worker.scheduled({ cron: MONITOR_CRON, scheduledTime: new Date() }))
        .catch(() => undefined);
    }, options.monitorCronMs ?? DEFAULT_MONITOR_CRON_MS);
    monitors.unref();
    return {
      url,
      miniflare,
      devTenant,
      apiToken,
      readTenantCsp: (key) => tenantCsp.get(key, "text"),
      readSiteFeeds: (key) => siteFeeds.get(key, "text"),
      close: async () => {
        clearInterval(monitors);
        await cron;
        await miniflare.dispose();
      },
    };
  } catch (error) {
    await miniflare.dispose();
    throw error;
  }
}

/** The tenant of the dev Forge installation: the one the dev console's FITs and dev.json's token act for. */
async function devTenantOf(db: D1Database): Promise<TenantShortId> {
  const tenant = await ensureTenant(db, {
    forgeAppId: DEV_FORGE_INSTALLATION.appId,
    cloudId: DEV_FORGE_INSTALLATION.cloudId,
    installationId: DEV_FORGE_INSTALLATION.installationId,
  });
  const id = parseTenantShortId(tenant.id);
  if (id === undefined) throw new Error(`dev tenant id ${tenant.id} is not a tenant short id`);
  return id;
}

/**
 * The same API token on every start of one data folder: its random bytes come from a seed kept in
 * dev-secrets.json, and its hashed record is inserted if the database does not have it yet.
 */
async function ensureDevApiToken(db: D1Database, tenantId: TenantShortId, seed: string): Promise<string> {
  let counter = 0;
  const random = (length: number) => {
    const bytes = new Uint8Array(length);
    for (let filled = 0; filled < length; counter++) {
      const block = createHmac("sha256", seed).update(String(counter)).digest();
      const take = Math.min(block.length, length - filled);
      bytes.set(block.subarray(0, take), filled);
      filled += take;
    }
    return bytes;
  };
  const { token, record } = await createApiToken({
    tenantId,
    scopes: [...SCOPES],
    label: "dev",
    createdBy: "dev-stack",
    now: 0,
    random,
  });
  const existing = await db
    .prepare("SELECT 1 FROM api_tokens WHERE token_hash = ?")
    .bind(record.hash)
    .first();
  if (existing === null) await new D1ApiTokenStore(db).insert(record);
  return token;
}

/**
 * Jobs left `running` by a stopped dev stack: their local Workflow instances will never continue.
 * The Worker's own cron recovery handles them, run as if one stuck-job TTL had passed: every job the
 * previous run left behind counts as stuck, and a recent one is restarted (every step is idempotent),
 * so an interrupted publish resumes; only jobs that had already used up their restarts are failed.
 */
async function recoverInterruptedJobs(miniflare: Miniflare): Promise<void> {
  const worker = await miniflare.getWorker("control");
  const oneTtlLater = Date.now() + DEFAULT_PUBLISH_CONFIG.jobStuckAfterSeconds * 1000 + 1000;
  await worker.scheduled({ cron: "dev-start", scheduledTime: new Date(oneTtlLater) });
}
