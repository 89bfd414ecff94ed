/**
 * The local edge (dev/src/edge.ts): each user Worker in a workerd of its own, reached through the
 * namespace router in the dispatch Worker's isolate. What it promises: adding a site restarts nothing
 * that serves another; a stopped user Worker starts on its first request, which waits instead of
 * failing; at most `maxRunning` run; a removed script is gone when `setScripts` resolves; a changed
 * one serves its new files from then on; a user Worker that died is replaced.
 *
 * The dispatch Worker here is a stand-in that forwards by Host with no checks (the real one is tested
 * on this same edge by dispatch/test/raw-paths.test.ts and chromium.test.ts).
 */

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Log, LogLevel } from "miniflare";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Edge } from "../src/edge.ts";
import { type LoopbackReply, requestVia } from "../src/loopback-http.ts";
import { workerdListeningOn } from "../src/processes.ts";
import type { SiteWorker } from "../src/user-workers.ts";

const FORWARD_BY_HOST = `export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const name = url.hostname.split(".")[0];
    try {
      return await env.DISPATCHER.get(name).fetch("https://" + name + ".invalid" + url.pathname, { redirect: "manual" });
    } catch (error) {
      return new Response(String(error.message), { status: error.message.startsWith("Worker not found") ? 404 : 502 });
    }
  },
};`;

let root: string;
let edge: Edge | undefined;

async function site(name: string, body: string): Promise<SiteWorker> {
  const directory = join(root, `${name}-${Math.random().toString(36).slice(2)}`);
  await mkdir(directory, { recursive: true });
  await writeFile(join(directory, "index.html"), body);
  return { name, directory };
}

async function start(sites: SiteWorker[], maxRunning?: number): Promise<Edge> {
  edge = await Edge.start(
    { dispatchScript: FORWARD_BY_HOST, dispatchVars: {}, maxRunning, log: new Log(LogLevel.ERROR) },
    sites,
  );
  return edge;
}

function get(running: Edge, name: string): Promise<LoopbackReply> {
  return requestVia(new URL("/", running.url), { host: `${name}.localhost` });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "mini-sites-edge-"));
});

afterEach(async () => {
  await edge?.dispose();
  edge = undefined;
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("the local edge", () => {
  it("starts a stopped user Worker on its first request, which waits for it", async () => {
    const running = await start([await site("alpha", "alpha home")]);
    expect(running.running()).toEqual([]);
    expect(await get(running, "alpha")).toMatchObject({ status: 200, body: "alpha home" });
    expect(running.running()).toEqual(["alpha"]);
  });

  it("adds a site without restarting the workerd of the dispatch Worker or of another site", async () => {
    const alpha = await site("alpha", "alpha home");
    const running = await start([alpha]);
    expect((await get(running, "alpha")).status).toBe(200);
    const gateway = workerdListeningOn(running.url.port);
    const alphaProcess = workerdListeningOn(((await running.directUrl("alpha")) as URL).port);

    const answers: number[] = [];
    let serving = true;
    const loop = (async () => {
      while (serving) answers.push((await get(running, "alpha")).status);
    })();
    await running.setScripts([alpha, await site("beta", "beta home")], ["beta"]);
    serving = false;
    await loop;

    expect(answers.length).toBeGreaterThan(0);
    expect(answers.every((status) => status === 200)).toBe(true);
    expect(await get(running, "beta")).toMatchObject({ status: 200, body: "beta home" });
    expect(workerdListeningOn(running.url.port)).toBe(gateway);
    expect(workerdListeningOn(((await running.directUrl("alpha")) as URL).port)).toBe(alphaProcess);
  });

  it("runs at most maxRunning user Workers, stopping the least recently used", async () => {
    const running = await start(
      [await site("alpha", "a"), await site("beta", "b"), await site("gamma", "c")],
      2,
    );
    for (const name of ["alpha", "beta", "alpha", "gamma"])
      expect((await get(running, name)).status).toBe(200);
    expect(running.running().sort()).toEqual(["alpha", "gamma"]);
    expect(await get(running, "beta")).toMatchObject({ status: 200, body: "b" });
    expect(running.running()).toHaveLength(2);
  });

  it("no longer serves a removed script once setScripts resolves", async () => {
    const alpha = await site("alpha", "alpha home");
    const running = await start([alpha]);
    expect((await get(running, "alpha")).status).toBe(200);
    await running.setScripts([]);
    const answer = await get(running, "alpha");
    expect(answer.status).toBe(404);
    expect(answer.body).toMatch(/^Worker not found/);
  });

  it("serves a changed script's new files once setScripts resolves", async () => {
    const running = await start([await site("alpha", "version one")]);
    expect((await get(running, "alpha")).body).toBe("version one");
    await running.setScripts([await site("alpha", "version two")], ["alpha"]);
    expect((await get(running, "alpha")).body).toBe("version two");
  });

  it("replaces a user Worker whose process died", async () => {
    const running = await start([await site("alpha", "alpha home")]);
    expect((await get(running, "alpha")).status).toBe(200);
    const before = (await running.directUrl("alpha")) as URL;
    process.kill(workerdListeningOn(before.port), "SIGKILL");
    expect(await get(running, "alpha")).toMatchObject({ status: 200, body: "alpha home" });
    expect(((await running.directUrl("alpha")) as URL).port).not.toBe(before.port);
  });
});
