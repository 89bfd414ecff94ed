/**
 * The manifest, checked offline with Atlassian's own tools (TOOLCHAIN: Forge, offline): @forge/manifest's
 * full validation and its product-trigger scope check, and @forge/lint's client-side linters minus
 * PermissionLinter (it downloads API specs). Neither checks event names, so every event is compared
 * with DESIGN §8's list; every event endpoint must be a route the control Worker's policy opens to
 * Forge's event calls; and the module keys must be the ones the control Worker's policy knows.
 */

import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { ProcessorBuilder, ValidationTypes, validate } from "@forge/manifest";
import { FORGE_MODULE_KEYS } from "@mini-sites/core";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROUTE_POLICIES } from "../../control/src/policy/table.ts";
import { buildCustomUi } from "../build.mts";

const APP_DIR = fileURLToPath(new URL("..", import.meta.url));
const MANIFEST = `${APP_DIR}manifest.yml`;

/** DESIGN §8: the lifecycle and page events the product relies on. */
const DESIGN_EVENTS = [
  "avi:forge:installed:app",
  "avi:confluence:trashed:page",
  "avi:confluence:restored:page",
  "avi:confluence:deleted:page",
];
/**
 * Their twins the app also takes: a blog post holds the macro as a page does, and an upgrade is an
 * install of a new version (Forge's event names: developer.atlassian.com/platform/forge/events-reference).
 */
const TWIN_EVENTS = [
  "avi:forge:upgraded:app",
  "avi:confluence:trashed:blogpost",
  "avi:confluence:restored:blogpost",
  "avi:confluence:deleted:blogpost",
];

/** Functions of the app that triggers run, and the control Worker routes each calls. */
const APP_FUNCTIONS_ON_TRIGGERS = ["register-tenant", "rotate-tenant-key"];
const TENANT_KEY_ROUTES = ["/v1/tenants/register", "/v1/tenants/rotate-key"];

interface Manifest {
  modules: Record<
    string,
    {
      key: string;
      events?: string[];
      endpoint?: string;
      function?: string;
      remote?: string;
      route?: { path: string };
      auth?: { appUserToken?: { enabled: boolean }; appSystemToken?: { enabled: boolean } };
    }[]
  >;
}

beforeAll(async () => {
  // Resource paths must exist and hold index.html for the full validation.
  await buildCustomUi();
  process.chdir(APP_DIR);
}, 120_000);

describe("forge-app/manifest.yml", () => {
  it("passes @forge/manifest's full validation", async () => {
    const result = await validate(false, MANIFEST);
    expect(result.errors ?? []).toEqual([]);
    expect(result.success).toBe(true);
  });

  it("passes the product-trigger scope check (every event has the scopes Forge requires)", async () => {
    const result = await ProcessorBuilder.instance()
      .withValidation(ValidationTypes.PRODUCT_TRIGGER)
      .build()
      .process(MANIFEST);
    expect(result.errors ?? []).toEqual([]);
  });

  it("fails the product-trigger check when a required scope is missing (the check can fail)", async () => {
    const { writeFile, mkdtemp, cp } = await import("node:fs/promises");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = await mkdtemp(join(tmpdir(), "manifest-"));
    await cp(join(APP_DIR, "static"), join(dir, "static"), { recursive: true });
    const text = (await readFile(MANIFEST, "utf8")).replace("    - write:confluence-content\n", "");
    await writeFile(join(dir, "manifest.yml"), text);
    const result = await ProcessorBuilder.instance()
      .withValidation(ValidationTypes.PRODUCT_TRIGGER)
      .build()
      .process(join(dir, "manifest.yml"));
    expect(JSON.stringify(result.errors)).toContain("write:confluence-content");
  });

  it("subscribes to DESIGN §8's events and their twins, and to nothing else", async () => {
    const manifest = parse(await readFile(MANIFEST, "utf8")) as Manifest;
    const events = (manifest.modules.trigger ?? []).flatMap((t) => t.events ?? []);
    // (installed/upgraded reach two receivers: the control Worker, and the app's registration.)
    expect([...new Set(events)].sort()).toEqual([...DESIGN_EVENTS, ...TWIN_EVENTS].sort());
  });

  it("delivers every event to a control Worker route that takes Forge's event calls (FIT, no user)", async () => {
    const manifest = parse(await readFile(MANIFEST, "utf8")) as Manifest;
    const receivers = [
      ...(manifest.modules.trigger ?? []),
      ...(manifest.modules.preUninstall ?? []),
      ...(manifest.modules.scheduledTrigger ?? []),
    ];
    expect(receivers.length).toBeGreaterThan(0);
    for (const receiver of receivers) {
      // The app's own functions: only the signed reports' registration and key rotation, which need
      // the app's platform (Forge KVS, its web trigger URL) and call /v1/tenants/* (Forge functions only).
      if (receiver.function !== undefined) {
        expect(APP_FUNCTIONS_ON_TRIGGERS, receiver.key).toContain(receiver.function);
        continue;
      }
      // Events straight to the remote: no Forge function in between (manifest.yml says why).
      const endpoint = manifest.modules.endpoint?.find((e) => e.key === receiver.endpoint);
      expect(endpoint?.remote, receiver.key).toBe("control");
      // Forge sends a trigger no user token; only the personal data report gets the app's own token.
      expect(endpoint?.auth?.appUserToken, receiver.key).toBeUndefined();
      expect(endpoint?.auth?.appSystemToken?.enabled ?? false, receiver.key).toBe(
        endpoint?.route?.path === "/v1/lifecycle/personal-data",
      );
      const path = endpoint?.route?.path as string;
      const policy = ROUTE_POLICIES.find((p) => p.method === "POST" && p.path === path);
      expect(policy?.allow, `${receiver.key} → POST ${path}`).toEqual({ forgeApp: true });
    }
  });

  it("runs signed-report functions whose control Worker routes only Forge functions may call", async () => {
    for (const path of TENANT_KEY_ROUTES) {
      const policy = ROUTE_POLICIES.find((p) => p.method === "POST" && p.path === path);
      expect(policy?.allow, path).toEqual({ forgeApp: true });
    }
    const manifest = parse(await readFile(MANIFEST, "utf8")) as Manifest & {
      modules: { function?: { key: string; handler: string }[] };
    };
    const webtriggers = manifest.modules.webtrigger ?? [];
    expect(webtriggers.map((w) => w.key)).toEqual(["monitor-reports"]);
    const functions = await import("../src/index.ts");
    for (const key of [...APP_FUNCTIONS_ON_TRIGGERS, webtriggers[0]?.function]) {
      const handler = manifest.modules.function?.find((f) => f.key === key)?.handler ?? "";
      expect(
        typeof (functions as Record<string, unknown>)[handler.replace(/^index\./, "")],
        String(key),
      ).toBe("function");
    }
  });

  it("uses the module keys the control Worker's route policy gives routes to", async () => {
    const manifest = parse(await readFile(MANIFEST, "utf8")) as Manifest;
    expect(manifest.modules.macro?.map((m) => m.key)).toEqual([
      FORGE_MODULE_KEYS.macro,
      FORGE_MODULE_KEYS.status,
    ]);
    expect(manifest.modules["confluence:globalSettings"]?.map((m) => m.key)).toEqual([
      FORGE_MODULE_KEYS.admin,
    ]);
  });

  it("passes @forge/lint's client-side linters (without the PermissionLinter, which needs the network)", async () => {
    const lint = await import("@forge/lint");
    const { StatsigReader } = await import("@forge/cli-shared");
    // Feature flags come from Atlassian's service; offline, every gate is "unknown".
    class OfflineFlags extends StatsigReader {
      override async checkGate() {
        return null;
      }
      override async getDynamicConfig() {
        return null;
      }
    }
    const manifest = parse(await readFile(MANIFEST, "utf8"));
    const logger = { info() {}, warn() {}, error() {}, debug() {}, trace() {} } as never;
    const flags = new OfflineFlags() as never;
    const linters = (await lint.getClientSideLintersOnly(manifest, "development", logger, flags)).filter(
      (linter) => linter.constructor.name !== "PermissionLinter",
    );
    const files = ["src/index.ts", "src/export.ts", "src/macro-config.ts", "src/monitors.ts"];
    const results = await lint.lint(files, manifest, "development", logger, flags, {
      linter: { mode: "client-side" },
      linters,
    });
    const problems = results.flatMap((r) => [...r.errors, ...r.warnings]);
    expect(problems).toEqual([]);
    expect(linters.map((l) => l.constructor.name)).toContain("InvokeEndpointLinter");
  }, 180_000);
});
