/**
 * The manifest, checked offline with Atlassian's own tools (TOOLCHAIN: Forge, offline): @forge/manifest's
 * full validation and its product-trigger scope check, and @forge/lint's client-side linters minus
 * PermissionLinter (it downloads API specs). Neither checks event names, so every event is compared
 * with DESIGN §8's list; and the module keys must be the ones the control Worker's policy knows.
 */

import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { ProcessorBuilder, ValidationTypes, validate } from "@forge/manifest";
import { FORGE_MODULE_KEYS } from "@mini-sites/core";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildCustomUi } from "../build.mts";
import { PAGE_EVENTS } from "../src/page-events.ts";

const APP_DIR = fileURLToPath(new URL("..", import.meta.url));
const MANIFEST = `${APP_DIR}manifest.yml`;

/** DESIGN §8: the lifecycle and page events the product relies on. */
const DESIGN_EVENTS = [
  "avi:forge:installed:app",
  "avi:confluence:trashed:page",
  "avi:confluence:restored:page",
  "avi:confluence:deleted:page",
];

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

  it("subscribes to exactly DESIGN §8's events, and the page-event function handles each", async () => {
    const manifest = parse(await readFile(MANIFEST, "utf8")) as {
      modules: { trigger: { events: string[] }[] };
    };
    const events = manifest.modules.trigger.flatMap((t) => t.events);
    for (const event of events) expect(DESIGN_EVENTS).toContain(event);
    expect([...events].sort()).toEqual([...DESIGN_EVENTS].sort());
    expect([...PAGE_EVENTS].sort()).toEqual(events.filter((e) => e.startsWith("avi:confluence:")).sort());
  });

  it("uses the module keys the control Worker's route policy gives routes to", async () => {
    const manifest = parse(await readFile(MANIFEST, "utf8")) as {
      modules: Record<string, { key: string }[]>;
    };
    expect(manifest.modules.macro?.map((m) => m.key)).toEqual([FORGE_MODULE_KEYS.macro]);
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
    const files = [
      "src/index.ts",
      "src/control.ts",
      "src/lifecycle.ts",
      "src/page-events.ts",
      "src/export.ts",
    ];
    const results = await lint.lint(files, manifest, "development", logger, flags, {
      linter: { mode: "client-side" },
      linters,
    });
    const problems = results.flatMap((r) => [...r.errors, ...r.warnings]);
    expect(problems).toEqual([]);
    expect(linters.map((l) => l.constructor.name)).toContain("InvokeEndpointLinter");
  }, 180_000);
});
