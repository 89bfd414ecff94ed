/**
 * The local Forge function runtime (src/forge/functions.ts): the app's functions bundled as CommonJS
 * and called by the handler the manifest names, with the platform reached only through
 * `__forge_fetch__` — here a function's `invokeRemote` (Atlassian's `@forge/api`), whose FIT must
 * be one the control Worker would accept for a Forge function: the installation, no user, no page.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ForgeFunctions } from "../../src/forge/functions.ts";
import { createEphemeralFitSigner, type FitSigner } from "../../src/forge/signer.ts";
import { FIXTURE_ENTRY, fixtureManifest, installation, startRemote, verifiedFit } from "./support.ts";

let dataDir: string;
let signer: FitSigner;
let remote: Awaited<ReturnType<typeof startRemote>>;
let functions: ForgeFunctions;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "forge-functions-"));
  signer = await createEphemeralFitSigner();
  remote = await startRemote((request) => ({ status: 200, body: { echoed: JSON.parse(request.body) } }));
  functions = await ForgeFunctions.load({
    manifest: fixtureManifest(remote.url),
    signer,
    dataDir,
    entry: FIXTURE_ENTRY,
    timeoutMs: 500,
  });
}, 60_000);

afterAll(async () => {
  await remote?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe("the local Forge function runtime", () => {
  it("calls the export the manifest's handler names, with the payload and context Forge passes", async () => {
    const answer = await functions.invoke(installation(1), "echoEvent", { a: 1 }, { principal: "x" });
    expect(answer).toEqual({ event: { a: 1 }, context: { principal: "x" } });
    await expect(functions.invoke(installation(1), "no-such-function", {})).rejects.toThrow(
      /names no function "no-such-function"/,
    );
    expect(functions.log.at(-1)).toMatchObject({ functionKey: "no-such-function", ok: false });
  });

  it("a function's invokeRemote reaches the remote with a FIT for the installation, without user or page", async () => {
    const answer = await functions.invoke(installation(1), "callRemote", {
      remote: "backend",
      path: "/v1/ping",
      body: { hello: "remote" },
    });
    expect(answer).toEqual({ status: 200, body: { echoed: { hello: "remote" } } });
    const request = remote.received.at(-1);
    expect([request?.method, request?.path]).toEqual(["POST", "/v1/ping"]);
    const claims = await verifiedFit(signer, request?.headers.authorization);
    expect(claims.app).toMatchObject({
      installationId: `ari:cloud:ecosystem::installation/${installation(1).installationId}`,
      apiBaseUrl: installation(1).apiBaseUrl,
      environment: { type: "DEVELOPMENT" },
    });
    expect(claims.principal).toBeUndefined();
    expect(claims.context).toBeUndefined();
    expect((claims.app as { license?: unknown }).license).toBeUndefined();
  });

  it("a paid installation's FITs carry the license it plays, in the PRODUCTION environment", async () => {
    for (const license of ["active", "inactive"] as const) {
      await functions.invoke(installation(2, license), "callRemote", {
        remote: "backend",
        path: "/l",
        body: {},
      });
      const claims = await verifiedFit(signer, remote.received.at(-1)?.headers.authorization);
      expect(claims.app).toMatchObject({
        environment: { type: "PRODUCTION" },
        license: { isActive: license === "active" },
      });
    }
  });

  it("refuses a remote the manifest does not open to functions (no compute operation)", async () => {
    const before = remote.received.length;
    await expect(
      functions.invoke(installation(1), "callRemote", { remote: "ui-only", path: "/x", body: {} }),
    ).rejects.toThrow(/Invalid remote key provided: "ui-only"/);
    expect(remote.received.length).toBe(before);
  });

  it("ends a function that runs past its time", async () => {
    await expect(functions.invoke(installation(1), "neverEnds", {})).rejects.toThrow(/ran past 500 ms/);
  });

  it("answers __forge_fetch__ only inside an invocation (it knows which installation is asking)", async () => {
    const forgeFetch = (globalThis as { __forge_fetch__?: (...args: unknown[]) => Promise<Response> })
      .__forge_fetch__;
    await expect(forgeFetch?.({ type: "kvs" }, "/api/v1/get", {})).rejects.toThrow(
      /outside a Forge function invocation/,
    );
  });
});
