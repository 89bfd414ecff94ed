/**
 * Product and lifecycle events as the stand-in delivers them (src/forge/events.ts), against Forge's
 * remote contract: a POST of the event to the endpoint's route with a FIT for the installation and
 * no user; retried up to 4 times when the remote fails; `preUninstall` without an event type; a
 * trigger with a function runs the function instead.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EVENT_RETRIES, EventDelivery, PRE_UNINSTALL } from "../../src/forge/events.ts";
import { ForgeFunctions } from "../../src/forge/functions.ts";
import { createEphemeralFitSigner, type FitSigner } from "../../src/forge/signer.ts";
import { FIXTURE_ENTRY, fixtureManifest, installation, startRemote, verifiedFit } from "./support.ts";

let dataDir: string;
let signer: FitSigner;
let failures = 0;
let remote: Awaited<ReturnType<typeof startRemote>>;
let events: EventDelivery;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "forge-events-"));
  signer = await createEphemeralFitSigner();
  // The first `failures` requests fail with 503; then the remote answers like the control Worker.
  remote = await startRemote((_request, n) =>
    n <= failures ? { status: 503, body: { error: "down" } } : { status: 200, body: { state: "done" } },
  );
  const manifest = fixtureManifest(remote.url);
  const functions = await ForgeFunctions.load({ manifest, signer, dataDir, entry: FIXTURE_ENTRY });
  events = new EventDelivery({
    manifest,
    signer,
    functions,
    backoffMs: [10],
    systemToken: (install) => `system-token-of-${install.installationId}`,
  });
}, 60_000);

afterEach(() => {
  failures = 0;
  remote.received.length = 0;
});

afterAll(async () => {
  await remote?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe("events delivered to a remote, as Forge delivers them", () => {
  it("POSTs the event, with its type, to the endpoint's route with a FIT that names the installation and no user", async () => {
    const content = { id: "1001", type: "page", title: "Team dashboard" };
    const [record] = await events.deliver(installation(1), "avi:confluence:trashed:page", { content });
    expect(record).toMatchObject({ module: "to-remote", target: "POST /events", attempts: 1, status: 200 });
    expect(record?.answer).toEqual({ state: "done" });
    const request = remote.received[0];
    expect([request?.method, request?.path, request?.headers["content-type"]]).toEqual([
      "POST",
      "/events",
      "application/json",
    ]);
    expect(JSON.parse(request?.body ?? "")).toEqual({ content, eventType: "avi:confluence:trashed:page" });
    expect(request?.headers["x-b3-traceid"]).toMatch(/^[0-9a-f]{16}$/);
    const claims = await verifiedFit(signer, request?.headers.authorization);
    expect(claims.app).toMatchObject({
      installationId: `ari:cloud:ecosystem::installation/${installation(1).installationId}`,
    });
    expect([claims.principal, claims.context]).toEqual([undefined, undefined]);
  });

  it("retries a failing remote until it answers", async () => {
    failures = 2;
    const [record] = await events.deliver(installation(1), "avi:confluence:trashed:page", {});
    expect([record?.attempts, record?.ok, remote.received.length]).toEqual([3, true, 3]);
  });

  it(`gives up after ${EVENT_RETRIES} retries, and says so`, async () => {
    failures = 100;
    const [record] = await events.deliver(installation(1), "avi:confluence:trashed:page", {});
    expect(record).toMatchObject({ attempts: EVENT_RETRIES + 1, ok: false, status: 503 });
    expect(remote.received.length).toBe(EVENT_RETRIES + 1);
  });

  it("runs a scheduledTrigger on its endpoint, with the app's system token only where the endpoint asks for it", async () => {
    const record = await events.runScheduled(installation(1), "hourly");
    expect(record).toMatchObject({
      module: "hourly",
      target: "POST /hourly",
      ok: true,
      eventType: "scheduled",
    });
    const [asApp] = remote.received;
    expect(asApp?.headers["x-forge-oauth-system"]).toBe(`system-token-of-${installation(1).installationId}`);
    const claims = await verifiedFit(signer, asApp?.headers.authorization);
    expect([claims.principal, claims.context]).toEqual([undefined, undefined]);
    await events.runScheduled(installation(2), "daily-plain");
    expect(remote.received[1]?.path).toBe("/events");
    expect(remote.received[1]?.headers["x-forge-oauth-system"]).toBeUndefined();
    await expect(events.runScheduled(installation(1), "no-such-trigger")).rejects.toThrow(
      /no scheduledTrigger/,
    );
  });

  it("delivers preUninstall to its endpoint, without an event type", async () => {
    const [record] = await events.deliver(installation(1), PRE_UNINSTALL, { app: { id: "x" } });
    expect(record).toMatchObject({ module: "bye", target: "POST /goodbye", ok: true });
    expect(JSON.parse(remote.received[0]?.body ?? "")).toEqual({ app: { id: "x" } });
  });

  it("runs the function of a trigger that names one, and nothing for an event no one subscribed to", async () => {
    const [record] = await events.deliver(installation(1), "avi:confluence:created:page", {
      content: { id: "7" },
    });
    expect(record).toMatchObject({ module: "to-function", target: "function echoEvent", ok: true });
    expect((record?.answer as { event?: unknown } | undefined)?.event).toEqual({
      content: { id: "7" },
      eventType: "avi:confluence:created:page",
    });
    expect(await events.deliver(installation(1), "avi:confluence:updated:page", {})).toEqual([]);
    expect(remote.received).toEqual([]);
  });
});
