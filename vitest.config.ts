import { fileURLToPath } from "node:url";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import type { WorkerOptions } from "miniflare";
import { defineConfig } from "vitest/config";
import { readMigrations } from "./control/test/support/migrations.ts";
import * as control from "./control/test/workerd/fixtures.ts";
import { COMPATIBILITY_DATE, NAMESPACE_SHIM_NAME, namespaceWorkers } from "./dev/src/user-workers.ts";
import {
  DISPATCH_HOST,
  EMBED_ANCESTORS,
  EMBED_ORIGIN,
  SITES_DOMAIN,
  TEST_APP_PID,
  TEST_APP_PSK,
  USER_WORKERS,
} from "./dispatch/test/workerd/fixtures.ts";

/** Tests that run inside workerd (the dispatch Worker with real bindings); every other test runs in Node. */
const WORKERD_TESTS = "dispatch/test/workerd/**/*.test.ts";
/** The control Worker's tests inside workerd, with real D1 databases migrated from control/migrations. */
const CONTROL_WORKERD_TESTS = "control/test/workerd/**/*.test.ts";

type LegacyWorker = Record<string, unknown>;

/**
 * The plugin takes Miniflare's legacy (v4-shaped) worker options, while dev/src/user-workers.ts builds
 * Miniflare 5's native ones; translating keeps ONE definition of the namespace stand-in and of an
 * assets-only user Worker, so the tests route exactly as the dev stack does.
 */
function toLegacyWorker(worker: WorkerOptions): LegacyWorker {
  const config = worker.config;
  const manifest = config.manifest as { mainModule: string; modules: Record<string, { contents: string }> };
  const main = manifest.modules[manifest.mainModule];
  const serviceBindings: Record<string, string> = {};
  for (const [name, binding] of Object.entries(config.env ?? {})) {
    const service = binding as { type?: string; worker?: string };
    if (service.type === "worker" && service.worker !== undefined) serviceBindings[name] = service.worker;
  }
  const assets = config.assets as { directory: string; notFoundHandling?: string } | undefined;
  return {
    name: config.name,
    compatibilityDate: config.compatibilityDate,
    modules: [{ type: "ESModule", path: manifest.mainModule, contents: main?.contents ?? "" }],
    serviceBindings,
    ...(assets === undefined
      ? {}
      : {
          assets: {
            directory: assets.directory,
            routerConfig: { has_user_worker: false },
            assetConfig: { not_found_handling: assets.notFoundHandling ?? "none" },
          },
        }),
  };
}

const userWorkers = namespaceWorkers(
  USER_WORKERS.map((site) => ({
    name: site.name,
    directory: fileURLToPath(new URL(`./dispatch/test/fixtures/${site.folder}`, import.meta.url)),
    notFoundHandling: site.notFoundHandling,
  })),
).map(toLegacyWorker);

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: "node",
          include: ["**/test/**/*.test.ts"],
          exclude: ["**/node_modules/**", WORKERD_TESTS, CONTROL_WORKERD_TESTS],
        },
      },
      {
        extends: true,
        plugins: [
          cloudflareTest({
            main: "./dispatch/src/index.ts",
            miniflare: {
              compatibilityDate: COMPATIBILITY_DATE,
              bindings: {
                SITES_DOMAIN,
                DISPATCH_BASE_URL: `http://${DISPATCH_HOST}:8787`,
                EMBED_ANCESTORS,
                EMBED_ORIGIN,
                APP_PID: TEST_APP_PID,
                APP_PSK: TEST_APP_PSK,
              },
              serviceBindings: { DISPATCHER: { name: NAMESPACE_SHIM_NAME, entrypoint: "DispatchNamespace" } },
              // The tenants' allow-lists and monitor feeds as the control Worker writes them
              // (wrangler-dispatch.toml).
              kvNamespaces: ["TENANT_CSP", "SITE_FEEDS"],
              workers: userWorkers,
            },
          }),
        ],
        test: { name: "dispatch-workerd", include: [WORKERD_TESTS] },
      },
      {
        extends: true,
        plugins: [
          cloudflareTest({
            main: "./control/src/index.ts",
            miniflare: {
              compatibilityDate: COMPATIBILITY_DATE,
              // DB: the Worker's own; AUDIT_TEST_DB: a chain the audit tests may tamper with;
              // MIGRATIONS_TEST_DB: left empty for the migration tests.
              d1Databases: ["DB", "AUDIT_TEST_DB", "MIGRATIONS_TEST_DB"],
              r2Buckets: ["BUNDLES"],
              // The tenants' allow-lists and monitor feeds the dispatch Worker reads (wrangler-control.toml).
              kvNamespaces: ["TENANT_CSP", "SITE_FEEDS"],
              // The Worker's own Workflow and Durable Object, as wrangler-control.toml binds them.
              workflows: { PROVISION_VERSION: { name: "provision-version", className: "ProvisionVersion" } },
              durableObjects: {
                CLOUDFLARE_API_BUDGET: { className: "CloudflareApiBudget", useSQLite: true },
              },
              bindings: {
                APP_PID: control.TEST_APP_PID,
                APP_PSK: control.TEST_APP_PSK,
                SITES_DOMAIN: control.SITES_DOMAIN,
                DISPATCH_BASE_URL: control.DISPATCH_BASE_URL,
                WFP_NAMESPACE: control.WFP_NAMESPACE,
                ALLOWED_FORGE_APP_IDS: control.ALLOWED_FORGE_APP_IDS,
                TEST_MIGRATIONS: readMigrations(),
              },
            },
          }),
        ],
        test: {
          name: "control-workerd",
          include: [CONTROL_WORKERD_TESTS],
          setupFiles: ["./control/test/workerd/setup.ts"],
        },
      },
    ],
  },
});
