/**
 * The publish tests' world, all real and on loopback: the control Worker (production publish code,
 * fixtures/control-worker.ts — or, with `entry: "production"`, the deployed entry src/index.ts with
 * its real authentication) in workerd with D1, R2 and a Workflow from Miniflare; the Cloudflare API
 * stand-in (dev/src/cloudflare-api) that materializes user Workers; and the dev edge (the unchanged
 * dispatch Worker + namespace stand-in) serving them. Smoke checks reach the edge through the DISPATCH
 * binding exactly as designed for dev, with a fault switch in between.
 */

import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { newTenantShortId, type TenantShortId } from "@mini-sites/core";
import { Log, LogLevel, Response as MfResponse, Miniflare } from "miniflare";
import { bundleWorker, DISPATCH_ENTRY } from "../../../dev/src/bundle-worker.ts";
import {
  type CloudflareApi,
  type NamespaceScript,
  startCloudflareApi,
} from "../../../dev/src/cloudflare-api/index.ts";
import { controlWorkerBindings, readMigrationFiles } from "../../../dev/src/control.ts";
import { Edge } from "../../../dev/src/edge.ts";
import type { SiteWorker } from "../../../dev/src/user-workers.ts";
import { createApiToken } from "../../src/auth/api-tokens.ts";
import { SCOPES } from "../../src/auth/principal.ts";
import { D1ApiTokenStore } from "../../src/db/api-tokens.ts";
import type { D1Database } from "../../src/db/d1.ts";
import { applyMigrations } from "../../src/db/migrations.ts";

const ACCOUNT = "0123456789abcdef0123456789abcdef";
const NAMESPACE = "mini-sites-test";
// Assembled (and plainly fake) so the repository's own secret scan does not flag this test.
const API_TOKEN = ["publish", "test", "token"].join("-");
const APP_PID = "mini-sites-publish-test";

/** The Worker the world runs: the publish fixture (production app, quick retries, fault switches) or the deployed entry. */
export type WorldEntry = "fixture" | "production";

const ENTRIES: Record<WorldEntry, URL> = {
  fixture: new URL("./fixtures/control-worker.ts", import.meta.url),
  production: new URL("../../src/index.ts", import.meta.url),
};

export interface World {
  readonly mf: Miniflare;
  /** The control Worker's D1 (migrated), for seeding tenants and API tokens. */
  readonly db: D1Database;
  readonly api: CloudflareApi;
  readonly edgeUrl: URL;
  /** The control Worker's loopback socket, for raw HTTP tests. */
  readonly controlUrl: URL;
  readonly appPsk: string;
  /** The smoke check answers 503 while set. */
  smokeFault: boolean;
  flipFault: boolean;
  /** A tenant with an API token of every scope, which `call` presents. */
  newTenant(): Promise<TenantShortId>;
  tokenOf(tenant: TenantShortId): string;
  /** A request to the control Worker with exactly these headers (the production entry authenticates them). */
  send(
    method: string,
    path: string,
    init?: { body?: string | Uint8Array; headers?: Record<string, string> },
  ): Promise<Response>;
  /** A request to the control Worker with the API token of `tenant` (made by newTenant). */
  call(
    tenant: TenantShortId,
    method: string,
    path: string,
    init?: { body?: string | Uint8Array | ReadableStream<Uint8Array>; headers?: Record<string, string> },
  ): Promise<Response>;
  /** GET through the gateway with a Host header (Node cannot resolve `*.localhost`). */
  viaGateway(
    url: string,
    cookie?: string,
  ): Promise<{ status: number; body: string; location?: string; setCookie?: string }>;
  sql<T>(query: string, ...binds: unknown[]): Promise<T[]>;
  /** One key of the SITE_FEEDS namespace the control Worker writes and the edge reads. */
  readSiteFeeds(key: string): Promise<string | null>;
  dispose(): Promise<void>;
}

function siteWorkerOf(script: NamespaceScript): SiteWorker {
  return {
    name: script.name,
    directory: script.directory,
    notFoundHandling: script.assets.config.not_found_handling,
    htmlHandling: script.assets.config.html_handling,
  };
}

/**
 * The edge rebuilds its workerd when the namespace changes (dev/src/edge.ts), keeping its port but
 * refusing connections for a moment; a browser would retry, so the tests do too.
 */
async function rawGet(target: URL, host: string, cookie?: string) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await rawGetOnce(target, host, cookie);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt >= 50 || (code !== "ECONNREFUSED" && code !== "ECONNRESET")) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function rawGetOnce(target: URL, host: string, cookie?: string) {
  return new Promise<{ status: number; body: string; location?: string; setCookie?: string }>(
    (resolve, reject) => {
      const request = http.request(
        {
          host: "127.0.0.1",
          port: target.port,
          path: target.pathname + target.search,
          method: "GET",
          headers: {
            host,
            ...(cookie ? { cookie } : {}),
            "sec-fetch-mode": "navigate",
            "sec-fetch-dest": "document",
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (c: Buffer) => chunks.push(c));
          response.on("end", () =>
            resolve({
              status: response.statusCode ?? 0,
              body: Buffer.concat(chunks).toString("utf8"),
              ...(response.headers.location ? { location: response.headers.location } : {}),
              ...(response.headers["set-cookie"]
                ? { setCookie: response.headers["set-cookie"].join("; ") }
                : {}),
            }),
          );
        },
      );
      request.on("error", reject);
      request.end();
    },
  );
}

export async function startWorld(
  vars: Record<string, string> = {},
  options: { entry?: WorldEntry } = {},
): Promise<World> {
  const dataDir = await mkdtemp(join(tmpdir(), "mini-sites-publish-"));
  const appPsk = randomBytes(32).toString("base64url");
  let edge: Edge | undefined;
  let initial: readonly NamespaceScript[] = [];
  let known = new Map<string, string>();
  const api = await startCloudflareApi({
    dataDir: join(dataDir, "cloudflare"),
    accountId: ACCOUNT,
    namespace: NAMESPACE,
    apiToken: API_TOKEN,
    log: () => {},
    onScriptsChanged: async (scripts) => {
      const changed = scripts.filter((s) => known.get(s.name) !== s.versionId).map((s) => s.name);
      known = new Map(scripts.map((s) => [s.name, s.versionId]));
      if (edge === undefined) initial = scripts;
      else await edge.setScripts(scripts.map(siteWorkerOf), changed);
    },
  });
  edge = await Edge.start(
    {
      dispatchScript: await bundleWorker(DISPATCH_ENTRY),
      dispatchVars: {
        SITES_DOMAIN: "localhost",
        DISPATCH_BASE_URL: "http://localhost:1",
        APP_PID,
        APP_PSK: appPsk,
        EMBED_ANCESTORS: "http://localhost:*",
      },
      port: 0,
      maxRunning: 50,
      log: new Log(LogLevel.ERROR),
      // The control Worker's SITE_FEEDS, as in the dev stack: one namespace, written there, read here.
      siteFeeds: (key) => world.readSiteFeeds(key),
    },
    initial.map(siteWorkerOf),
  );
  const edgeUrl = edge.url;
  const code = await bundleWorker(fileURLToPath(ENTRIES[options.entry ?? "fixture"]));
  const faults = { smoke: false, flip: false };
  const text = (value: string) => ({ type: "text" as const, value });
  const bindings = controlWorkerBindings("control");
  const mf = new Miniflare({
    port: 0,
    cf: false,
    log: new Log(LogLevel.ERROR),
    resourcePersistencePath: join(dataDir, "control"),
    workers: [
      {
        config: {
          name: "control",
          compatibilityDate: "2026-11-01",
          manifest: { mainModule: "control.js", modules: { "control.js": { type: "esm", contents: code } } },
          exports: bindings.exports,
          env: {
            ...bindings.env,
            DISPATCH: {
              type: "fetcher",
              handler: async (request: Request) => {
                if (faults.smoke) return new MfResponse("injected", { status: 503 });
                const url = new URL(request.url);
                const answer = await rawGet(
                  new URL(url.pathname + url.search, edgeUrl),
                  url.host,
                  request.headers.get("cookie") ?? undefined,
                );
                return new MfResponse(answer.body, {
                  status: answer.status,
                  headers: {
                    "content-type": answer.status === 200 ? "text/html; charset=utf-8" : "text/plain",
                  },
                });
              },
            },
            TEST_CONTROL: {
              type: "fetcher",
              handler: async () => new MfResponse(faults.flip ? "fail" : "ok"),
            },
            APP_PID: text(APP_PID),
            APP_PSK: text(appPsk),
            SITES_DOMAIN: text("localhost"),
            DISPATCH_BASE_URL: text(`http://localhost:${edgeUrl.port}`),
            CLOUDFLARE_API_BASE_URL: text(api.url),
            WFP_ACCOUNT_ID: text(ACCOUNT),
            WFP_NAMESPACE: text(NAMESPACE),
            WFP_API_TOKEN_PROVISIONING: text(API_TOKEN),
            // Sites are `http://s-<id>.localhost:<port>` here, which grants.ts allows only with this flag.
            DEV_ALLOW_LOOPBACK_HTTP: text("true"),
            ...Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, text(v)])),
          },
        },
      },
    ],
  } as never);
  const controlUrl = await mf.ready;
  const db = await mf.getD1Database("DB", "control");
  await applyMigrations(db as never, await readMigrationFiles());

  const tokens = new Map<TenantShortId, string>();
  const world: World = {
    mf,
    db: db as unknown as D1Database,
    api,
    edgeUrl,
    controlUrl,
    appPsk,
    get smokeFault() {
      return faults.smoke;
    },
    set smokeFault(value: boolean) {
      faults.smoke = value;
    },
    get flipFault() {
      return faults.flip;
    },
    set flipFault(value: boolean) {
      faults.flip = value;
    },
    async newTenant() {
      const id = newTenantShortId();
      await db
        .prepare(
          "INSERT INTO tenants (id, forge_app_id, cloud_id, installation_id, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id, "app-test", `cloud-${id}`, `inst-${id}`, Date.now())
        .run();
      // A real API token of the tenant, stored hashed as the token API would: `call` presents it.
      const issued = await createApiToken({ tenantId: id, scopes: [...SCOPES], label: "publish tests" });
      await new D1ApiTokenStore(db as never).insert(issued.record);
      tokens.set(id, issued.token);
      return id;
    },
    tokenOf(tenant) {
      const token = tokens.get(tenant);
      if (token === undefined) throw new Error(`no token for tenant ${tenant}: make it with newTenant()`);
      return token;
    },
    async send(method, path, init = {}) {
      const response = await mf.dispatchFetch(`http://control.test${path}`, {
        method,
        headers: init.headers ?? {},
        ...(init.body === undefined ? {} : { body: init.body as never }),
      } as never);
      return response as unknown as Response;
    },
    async call(tenant, method, path, init = {}) {
      const response = await mf.dispatchFetch(`http://control.test${path}`, {
        method,
        headers: { authorization: `Bearer ${world.tokenOf(tenant)}`, ...(init.headers ?? {}) },
        ...(init.body === undefined ? {} : { body: init.body as never, duplex: "half" }),
      } as never);
      return response as unknown as Response;
    },
    viaGateway(url, cookie) {
      const parsed = new URL(url);
      return rawGet(new URL(parsed.pathname + parsed.search, edgeUrl), parsed.host, cookie);
    },
    async sql<T>(query: string, ...binds: unknown[]) {
      const { results } = await db
        .prepare(query)
        .bind(...binds)
        .all();
      return results as T[];
    },
    async readSiteFeeds(key) {
      return (await mf.getKVNamespace("SITE_FEEDS", "control")).get(key, "text");
    },
    async dispose() {
      await mf.dispose().catch(() => {});
      await edge?.dispose().catch(() => {});
      await api.close().catch(() => {});
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return world;
}
