/**
 * Where the dispatch Worker's time goes on the serve path, three ways (docs/performance.md reads them):
 * 1. each step of its request path alone, in a loop in workerd: CPU microseconds per step
 *    (support/dispatch-steps.ts);
 * 2. the whole gateway process under load, with no profiler attached: CPU per request from /proc,
 *    and, where Linux `perf` is available, which parts of workerd spend it (its HTTP server and
 *    client, V8, the kernel, the allocator…);
 * 3. a V8 CPU profile of the isolate (workerd's inspector) under load, for a 10 KB asset with a grant
 *    the gateway has seen, the same with a grant it has not (every request a new one: HMAC
 *    included), and an HTML page (script injection): functions by total and self time per request,
 *    runtime calls (new Request, NET.fetch, Headers) charged to the function that makes them. The
 *    profiler slows the isolate down; the shares are what count.
 *
 *   npm run bench -- profile        (BENCH_SECONDS=5 to change the load per scenario)
 */

import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { newSiteId, newTenantShortId, workerNameFor } from "@mini-sites/core";
import { Log, LogLevel } from "miniflare";
import { bundleWorker, DISPATCH_ENTRY } from "../dev/src/bundle-worker.ts";
import { Edge } from "../dev/src/edge.ts";
import { workerdListeningOn } from "../dev/src/processes.ts";
import { STEPS, timeDispatchSteps } from "./support/dispatch-steps.ts";
import { Inspector } from "./support/inspector.ts";
import { load, type Target } from "./support/load.ts";
import { ASSET_PATH, benchFiles, grantMinter, PAGE_PATH } from "./support/site.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const TOP = 14;
const APP_PID = "bench";
const APP_PSK = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz";

/** Which part of workerd a native symbol belongs to, by its name and library (perf's dso). */
function partOf(dso: string, symbol: string): string {
  if (dso.startsWith("[kernel")) return "kernel: sockets, syscalls, scheduling";
  if (dso.includes("JIT") || /^Builtins?_|v8::|cppgc/.test(symbol)) return "V8: JavaScript, GC, builtins";
  if (/tcmalloc|TCMalloc/.test(symbol)) return "memory allocator";
  if (/hyper|tokio|mio::|http::|futures/.test(symbol)) return "HTTP server and client (hyper, tokio)";
  if (/jsg::|workerd::api/.test(symbol)) return "runtime API objects (Request, Response, Headers, fetch)";
  if (/kj::|capnp/.test(symbol)) return "event loop and promises (kj)";
  if (dso.startsWith("libc")) return "libc: memcpy, writev, epoll";
  return "other workerd";
}

/** Samples `pid` with Linux perf while `work` runs; shares of CPU by part, or undefined without perf. */
async function nativeProfile(
  pid: number,
  work: () => Promise<unknown>,
): Promise<[string, number][] | undefined> {
  const dir = await mkdtemp(join(tmpdir(), "mini-sites-perf-"));
  const data = join(dir, "perf.data");
  try {
    const perf = spawn(
      "perf",
      ["record", "-q", "-F", "999", "-o", data, "-p", String(pid), "--", "sleep", String(SECONDS - 1)],
      {
        stdio: "ignore",
      },
    );
    const exited = new Promise<number | null>((resolve) => {
      perf.once("exit", resolve);
      perf.once("error", () => resolve(null));
    });
    await work();
    if ((await exited) !== 0) return undefined;
    const report = await new Promise<string>((resolve, reject) =>
      execFile(
        "perf",
        ["report", "-i", data, "--no-children", "--sort", "dso,sym", "-g", "none", "--stdio"],
        { maxBuffer: 64 * 2 ** 20 },
        (error, stdout) => (error ? reject(error) : resolve(stdout)),
      ),
    );
    const parts = new Map<string, number>();
    for (const line of report.split("\n")) {
      const match = /^\s*([\d.]+)%\s+(\S+)\s+\[.\]\s+(.*)$/.exec(line);
      if (match === null) continue;
      const part = partOf(match[2] as string, match[3] as string);
      parts.set(part, (parts.get(part) ?? 0) + Number(match[1]));
    }
    return [...parts].sort((a, b) => b[1] - a[1]);
  } catch {
    return undefined;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const steps = await timeDispatchSteps();
  console.log("dispatch Worker, one step at a time (workerd, hot, median of 9 batches, µs per run):");
  for (const [step, label] of STEPS) console.log(`  ${steps[step].toFixed(2).padStart(8)}  ${label}`);

  const root = await mkdtemp(join(tmpdir(), "mini-sites-profile-"));
  const siteId = newSiteId();
  const tenantId = newTenantShortId();
  const name = workerNameFor(siteId, 1);
  const directory = join(root, name);
  for (const [path, bytes] of Object.entries(benchFiles())) {
    await mkdir(dirname(join(directory, path)), { recursive: true });
    await writeFile(join(directory, path), bytes);
  }
  const edge = await Edge.start(
    {
      dispatchScript: await bundleWorker(DISPATCH_ENTRY),
      dispatchVars: {
        SITES_DOMAIN: "localhost",
        APP_PID,
        APP_PSK,
        EMBED_ANCESTORS: "http://localhost:*",
        EMBED_ORIGIN: "http://localhost:8788",
      },
      inspector: true,
      log: new Log(LogLevel.WARN),
    },
    [{ name, directory }],
  );
  const inspector = await Inspector.connect((await edge.inspectorUrl()).href);
  try {
    const mint = await grantMinter(APP_PID, APP_PSK);
    const grant = await mint(siteId, 1, tenantId);
    const fresh: string[] = [];
    for (let i = 0; i < 4000 * SECONDS; i++) fresh.push(await mint(siteId, 1, tenantId));
    const host = `s-${siteId}.localhost`;
    const scenarios: Record<string, Target> = {
      "10 KB asset, grant seen before": {
        url: new URL(ASSET_PATH, edge.url).href,
        headers: { host, cookie: `__Host-ms=${grant}` },
      },
      "10 KB asset, a new grant every request": {
        url: new URL(ASSET_PATH, edge.url).href,
        headers: { host },
        cookie: () => `__Host-ms=${fresh.pop() ?? grant}`,
      },
      "10 KB HTML page (script injected)": {
        url: new URL(PAGE_PATH, edge.url).href,
        headers: { host, cookie: `__Host-ms=${grant}`, accept: "text/html" },
      },
    };
    const gateway = { gateway: workerdListeningOn(edge.url.port) };
    for (const [label, target] of Object.entries(scenarios)) {
      await load(target.cookie ? { ...target, cookie: () => `__Host-ms=${grant}` } : target, 2); // JIT warm-up
      const run = await load(target, SECONDS, gateway);
      console.log(
        `\n${label}: dispatch workerd ${(run.cpu.gateway as number).toFixed(0)} µs CPU per request, no profiler`,
      );
    }
    const native = await nativeProfile(gateway.gateway, () =>
      load(scenarios["10 KB asset, grant seen before"] as Target, SECONDS),
    );
    if (native !== undefined) {
      console.log("\nwhere the dispatch workerd's CPU goes (perf, 10 KB asset, grant seen before):");
      for (const [part, share] of native) console.log(`  ${share.toFixed(1).padStart(5)}%  ${part}`);
    }
    for (const [label, target] of Object.entries(scenarios)) {
      await load(target.cookie ? { ...target, cookie: () => `__Host-ms=${grant}` } : target, 2); // JIT warm-up
      let requests = 0;
      let cpu = 0;
      const functions = await inspector.profile(async () => {
        const run = await load(target, SECONDS, gateway);
        requests = run.requests;
        cpu = run.cpu.gateway as number;
        if (run.errors > 0) throw new Error(`${label}: ${run.errors} errors`);
      });
      const per = (micros: number) => (micros / requests).toFixed(1).padStart(7);
      console.log(
        `\n${label}: ${requests} requests; dispatch workerd ${cpu.toFixed(0)} µs CPU per request (profiler on)`,
      );
      console.log("  µs/request   total    self   function");
      const shown = functions
        .filter((f) => !f.name.startsWith("(idle)") && !f.name.startsWith("(root)"))
        .sort((a, b) => b.total - a.total)
        .slice(0, TOP);
      for (const f of shown) console.log(`            ${per(f.total)} ${per(f.self)}   ${f.name}`);
    }
  } finally {
    inspector.close();
    await edge.dispose();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
