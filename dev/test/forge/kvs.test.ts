/**
 * The local Forge KVS (src/forge/kvs.ts) as the app's code meets it: through Atlassian's own
 * `@forge/kvs` client inside a function run by the local runtime, so the wire format, the
 * `KEY_NOT_FOUND` → undefined rule and the query cursor are the client library's, not ours.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ForgeFunctions } from "../../src/forge/functions.ts";
import { LocalKvs } from "../../src/forge/kvs.ts";
import { createEphemeralFitSigner, type FitSigner } from "../../src/forge/signer.ts";
import { FIXTURE_ENTRY, fixtureManifest, installation } from "./support.ts";

let dataDir: string;
let signer: FitSigner;
let functions: ForgeFunctions;
const acme = installation(1);
const globex = installation(2);

const load = () =>
  ForgeFunctions.load({
    manifest: fixtureManifest("http://127.0.0.1:9"),
    signer,
    dataDir,
    entry: FIXTURE_ENTRY,
  });
const call = (key: string, payload: unknown, where = acme) =>
  functions.invoke(where, key, payload) as Promise<Record<string, unknown>>;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "forge-kvs-"));
  signer = await createEphemeralFitSigner();
  functions = await load();
}, 60_000);

afterAll(() => rm(dataDir, { recursive: true, force: true }));

describe("the local KVS behind __forge_fetch__, through @forge/kvs", () => {
  it("reads a key that was never set as undefined, as Forge does", async () => {
    expect(await call("kvsGet", { key: "never-set" })).toEqual({ value: undefined });
    // On the wire, as Forge's store answers (and @forge/kvs turns into undefined): 404 KEY_NOT_FOUND.
    const wire = await new LocalKvs(join(dataDir, "wire.json")).handle("/api/v1/get", { key: "never-set" });
    expect([wire.status, ((await wire.json()) as { code?: string }).code]).toEqual([404, "KEY_NOT_FOUND"]);
  });

  it("keeps JSON values of every kind, overwrites on set, and forgets on delete", async () => {
    for (const value of ["text", 42, true, null, [1, "two"], { nested: { deep: [true] } }]) {
      await call("kvsSet", { key: "kind", value });
      expect(await call("kvsGet", { key: "kind" })).toEqual({ value });
    }
    await call("kvsDelete", { key: "kind" });
    expect(await call("kvsGet", { key: "kind" })).toEqual({ value: undefined });
    // Deleting what is not there is no error.
    expect(await call("kvsDelete", { key: "kind" })).toEqual({ ok: true });
  });

  it("queries by key prefix in key order, page by page with the cursor, and nothing else", async () => {
    for (const n of [3, 1, 5, 2, 4]) await call("kvsSet", { key: `site:${n}`, value: { n } });
    await call("kvsSet", { key: "sites-other", value: "not under the prefix" });
    const { pages } = (await call("kvsQueryAll", { prefix: "site:", limit: 2 })) as {
      pages: { key: string; value: unknown }[][];
    };
    expect(pages.map((page) => page.map((item) => item.key))).toEqual([
      ["site:1", "site:2"],
      ["site:3", "site:4"],
      ["site:5"],
    ]);
    expect(pages[0]?.[0]?.value).toEqual({ n: 1 });
  });

  it("keeps secrets apart: getSecret reads them, get and query do not", async () => {
    expect(await call("kvsSecret", { key: "site:token", value: "s3cr3t" })).toEqual({
      secret: "s3cr3t",
      plain: undefined,
    });
    const { pages } = (await call("kvsQueryAll", { prefix: "site:t", limit: 10 })) as { pages: unknown[][] };
    expect(pages.flat()).toEqual([]);
  });

  it("gives each installation its own store", async () => {
    await call("kvsSet", { key: "who", value: "acme" }, acme);
    await call("kvsSet", { key: "who", value: "globex" }, globex);
    const [a, b] = await Promise.all([
      call("kvsGet", { key: "who" }, acme),
      call("kvsGet", { key: "who" }, globex),
    ]);
    expect([a, b]).toEqual([{ value: "acme" }, { value: "globex" }]);
  });

  it("keeps what was set across a restart of the stack (a file per installation)", async () => {
    await call("kvsSet", { key: "durable", value: { kept: true } });
    const restarted = await load();
    expect(await restarted.invoke(acme, "kvsGet", { key: "durable" })).toEqual({ value: { kept: true } });
  });

  it("refuses what it does not play (an invalid key, set options) with an error, never silently", async () => {
    await expect(call("kvsGet", { key: "" })).rejects.toThrow(/key/i);
    await expect(call("kvsSetWithPolicy", { key: "policy" })).rejects.toThrow(/set options/);
    expect(await call("kvsGet", { key: "policy" })).toEqual({ value: undefined });
  });
});
