/**
 * Serve-path benchmark (DESIGN §9): the same bytes through the gateway (dispatch Worker → namespace
 * router → user Worker) and straight from the user Worker's own socket, on the running dev stack.
 *
 * Paths, each loaded with autocannon (10 connections) for BENCH_SECONDS, in BENCH_ROUNDS rounds; in a
 * round each direct path runs just before and just after what is compared with it, and the order
 * reverses every other round, so a slower moment of the machine falls on both sides of a ratio:
 *   direct asset / direct page       the user Worker's own socket: a 10 KB asset, a 10 KB HTML page
 *   gateway asset                    the same asset through the gateway, a grant it has seen
 *   gateway asset, cold grant        every request a grant the gateway has never seen (full HMAC),
 *                                    against the direct asset with each request built the same way
 *   gateway page                     the HTML page through the gateway (script injected): after the
 *                                    first request, the kept page confirmed by the user Worker's 304
 *   gateway page, first view         a single-page app's index at a new path every request: a page the
 *                                    isolate has not kept, so the rewriter runs (reported, no target)
 *   no-op gateway asset              a gateway that checks nothing, to the same user Worker socket: what
 *                                    the local hop costs, apart from the dispatch Worker's own work
 * Throughput ratios are the median over rounds of the ratio within a round (against the mean of its
 * two direct runs). Latency percentiles are taken over every response of every round of a path
 * together: a 3 s run's p99 rests on a few dozen responses and swings with one scheduler stall, the
 * pooled one on hundreds (both sides sampled in every round, so load drift falls on both); the median
 * of per-round p99 ratios is printed beside it. The load generator shares the machine's cores, so each
 * side of a ratio makes it do the same work per request.
 * CPU per request is read from /proc for the dispatch Worker's workerd and the user Worker's workerd;
 * it moves far less with the machine's load than throughput does. Then the dev stack's memory with BENCH_SITES published sites.
 *
 *   npm run bench -- serve      (BENCH_SECONDS=3 BENCH_ROUNDS=6 BENCH_SITES=100 change the defaults)
 */

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ManifestEntry,
  newSiteId,
  newTenantShortId,
  readBundle,
  type SiteId,
  siteTag,
  type TenantShortId,
  tenantTag,
  workerNameFor,
} from "@mini-sites/core";
import { Log, LogLevel, Miniflare } from "miniflare";
import { CloudflareWfPProvider } from "../control/src/hosting/index.ts";
import { workerdListeningOn, workerdMemory } from "../dev/src/processes.ts";
import { DEV_APP_PID, type DevStack, startDevStack } from "../dev/src/stack.ts";
import { COMPATIBILITY_DATE } from "../dev/src/user-workers.ts";
import { CONNECTIONS, load, median, percentile, type Run, type Target } from "./support/load.ts";
import { ASSET_PATH, benchFiles, grantMinter, PAGE_PATH } from "./support/site.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const SITES = Number(process.env.BENCH_SITES ?? 100);
/** Enough never-seen grants for the cold path at any rate this machine reaches. */
const COLD_GRANTS_PER_SECOND = 2500;

interface Published {
  readonly name: string;
  readonly siteId: SiteId;
  readonly tenantId: TenantShortId;
}

async function publish(
  stack: DevStack,
  files: Record<string, Uint8Array>,
  notFoundHandling: "404-page" | "single-page-application" = "404-page",
): Promise<Published> {
  const report = await readBundle({
    kind: "files",
    files: Object.entries(files).map(([path, bytes]) => ({
      path,
      size: bytes.length,
      read: async () => bytes,
    })),
  });
  if (!report.ok) throw new Error(JSON.stringify(report.errors));
  const siteId = newSiteId();
  const tenantId = newTenantShortId();
  const name = workerNameFor(siteId, 1);
  const provider = new CloudflareWfPProvider({
    apiBaseUrl: stack.info.cloudflareApiUrl,
    accountId: stack.info.accountId,
    namespace: stack.info.namespace,
    apiToken: stack.info.cloudflareApiToken,
  });
  const result = await provider.createWorker({
    name,
    files: report.files,
    readFile: async (entry: ManifestEntry) => files[entry.path] as Uint8Array,
    tags: [tenantTag(tenantId), siteTag(siteId)],
    assets: { notFoundHandling },
  });
  if (!result.ok) throw new Error(result.error.message);
  return { name, siteId, tenantId };
}

/**
 * A gateway that checks nothing, in a workerd of its own, sending every request to the same user
 * Worker socket the gateway uses, over the same kind of binding (a loopback `network` binding, as the
 * namespace router does): the hop alone, to set the dispatch Worker's own cost apart.
 */
async function startNoOpGateway(userWorker: URL): Promise<{ url: URL; dispose(): Promise<void> }> {
  const miniflare = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    log: new Log(LogLevel.WARN),
    logRequests: false,
    cf: false,
    enableDevRegistry: false,
    workers: [
      {
        config: {
          name: "no-op-gateway",
          compatibilityDate: COMPATIBILITY_DATE,
          manifest: {
            mainModule: "no-op.js",
            modules: {
              "no-op.js": {
                type: "esm",
                contents: `export default {
  fetch(request, env) {
    const url = new URL(request.url);
    return env.NET.fetch(${JSON.stringify(userWorker.origin)} + url.pathname + url.search, {
      method: request.method,
      headers: request.headers,
      redirect: "manual",
    });
  },
};`,
              },
            },
          },
          env: { NET: { type: "network", allow: ["local"] } },
        },
        // Its own socket, as the gateway has: Miniflare's entry Worker would add a hop.
        dev: { unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] },
      },
    ],
  });
  try {
    await miniflare.ready;
    return { url: await miniflare.unsafeGetDirectURL("no-op-gateway"), dispose: () => miniflare.dispose() };
  } catch (error) {
    await miniflare.dispose();
    throw error;
  }
}

interface Path {
  readonly target: Target;
  readonly processes: Readonly<Record<string, number>>;
}

const fmt = (n: number, digits = 0) => n.toFixed(digits);

async function servePaths(stack: DevStack, site: Published, spa: Published): Promise<void> {
  const secrets = JSON.parse(await readFile(join(stack.info.dataDir, "dev-secrets.json"), "utf8")) as {
    appPsk: string;
  };
  const mint = await grantMinter(DEV_APP_PID, secrets.appPsk);
  const grants = {
    site: await mint(site.siteId, 1, site.tenantId),
    spa: await mint(spa.siteId, 1, spa.tenantId),
  };
  const cold: string[] = [];
  for (let i = 0; i < COLD_GRANTS_PER_SECOND * SECONDS; i++)
    cold.push(await mint(site.siteId, 1, site.tenantId));

  await stack.edge.ensureRunning(site.name);
  await stack.edge.ensureRunning(spa.name);
  const direct = {
    site: (await stack.edge.directUrl(site.name)) as URL,
    spa: (await stack.edge.directUrl(spa.name)) as URL,
  };
  const noOp = await startNoOpGateway(direct.site);
  try {
    await measure(stack, { site, spa }, grants, cold, direct, noOp.url);
  } finally {
    await noOp.dispose();
  }
}

/** What is compared with what: [label, the path measured, the direct path it is compared with]. */
const COMPARED = [
  ["gateway / direct, asset", "gateway asset", "direct asset"],
  ["gateway / direct, cold grant", "gateway asset, cold grant", "direct asset, built per request"],
  ["gateway / direct, HTML page", "gateway page", "direct page"],
] as const;

async function measure(
  stack: DevStack,
  sites: { site: Published; spa: Published },
  grants: { site: string; spa: string },
  cold: readonly string[],
  direct: { site: URL; spa: URL },
  noOp: URL,
): Promise<void> {
  let nextCold = 0;
  let nextPath = 0;
  const gateway = workerdListeningOn(stack.edge.url.port);
  const user = workerdListeningOn(direct.site.port);
  const spaUser = workerdListeningOn(direct.spa.port);
  const host = `s-${sites.site.siteId}.localhost`;
  const navigation = { accept: "text/html", "sec-fetch-mode": "navigate", "sec-fetch-dest": "iframe" };
  const warm = `__Host-ms=${grants.site}`;
  // The cold-grant path sets a cookie per request, so autocannon builds each request anew: that costs
  // the load generator (on the same two cores) more than a prebuilt request, so the cold path is
  // compared with a direct path that builds each request the same way. Likewise the first-view pages
  // (a new path each request). Everything else sends prebuilt requests, gateway and direct alike.
  const newPath = () => `/app/view-${nextPath++}`;
  const paths: Record<string, Path> = {
    "direct asset": { target: { url: new URL(ASSET_PATH, direct.site).href }, processes: { user } },
    "gateway asset": {
      target: { url: new URL(ASSET_PATH, stack.edge.url).href, headers: { host, cookie: warm } },
      processes: { gateway, user },
    },
    "no-op gateway asset": {
      target: { url: new URL(ASSET_PATH, noOp).href, headers: { host } },
      processes: { gateway: workerdListeningOn(noOp.port), user },
    },
    "direct asset, built per request": {
      target: { url: new URL(ASSET_PATH, direct.site).href, cookie: () => warm },
      processes: { user },
    },
    "gateway asset, cold grant": {
      target: {
        url: new URL(ASSET_PATH, stack.edge.url).href,
        headers: { host },
        // The pool outnumbers the gateway's cache (1,024), so going round it never hits.
        cookie: () => `__Host-ms=${cold[nextCold++ % cold.length]}`,
      },
      processes: { gateway, user },
    },
    "direct page": {
      target: { url: new URL(PAGE_PATH, direct.site).href, headers: navigation },
      processes: { user },
    },
    "gateway page": {
      target: {
        url: new URL(PAGE_PATH, stack.edge.url).href,
        headers: { host, cookie: warm, ...navigation },
      },
      processes: { gateway, user },
    },
    // A single-page app answers every path with its index: each request a page this isolate has not
    // kept, so the gateway runs the rewriter and keeps a copy every time.
    "direct page, first view": {
      target: { url: direct.spa.href, headers: navigation, path: newPath },
      processes: { user: spaUser },
    },
    "gateway page, first view": {
      target: {
        url: stack.edge.url.href,
        headers: {
          host: `s-${sites.spa.siteId}.localhost`,
          cookie: `__Host-ms=${grants.spa}`,
          ...navigation,
        },
        path: newPath,
      },
      processes: { gateway, user: spaUser },
    },
  };
  const names = Object.keys(paths);
  // Each direct path runs before and after what is compared with it, and every other round runs the
  // sequence backwards: a ratio is always taken against direct runs bracketing it in time.
  const sequence = [
    "direct asset",
    "gateway asset",
    "no-op gateway asset",
    "direct asset",
    "direct asset, built per request",
    "gateway asset, cold grant",
    "direct asset, built per request",
    "direct page",
    "gateway page",
    "direct page",
    "direct page, first view",
    "gateway page, first view",
    "direct page, first view",
  ];
  console.log(
    `serve: 10 KB asset and 10 KB HTML page, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s ` +
      "per path, each compared with direct runs just before and after it",
  );
  for (const name of names) await load((paths[name] as Path).target, 1); // JIT, caches, connections
  const runs: Record<string, Run[]> = Object.fromEntries(names.map((name) => [name, []]));
  /** Per round: each path's runs (direct paths twice). */
  const rounds: Record<string, Run[]>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const these: Record<string, Run[]> = Object.fromEntries(names.map((name) => [name, []]));
    for (const name of round % 2 === 0 ? sequence : [...sequence].reverse()) {
      const path = paths[name] as Path;
      const run = await load(path.target, SECONDS, path.processes);
      (runs[name] as Run[]).push(run);
      (these[name] as Run[]).push(run);
    }
    rounds.push(these);
  }

  console.log("                                    req/s    p50 ms   p99 ms   errors   CPU µs/request");
  for (const name of names) {
    const list = runs[name] as Run[];
    const cpu = Object.keys(list[0]?.cpu ?? {})
      .map((proc) => `${proc} ${fmt(median(list.map((r) => r.cpu[proc] as number)))}`)
      .join(", ");
    console.log(
      `  ${name.padEnd(33)} ${fmt(median(list.map((r) => r.rate))).padStart(6)} ` +
        `${fmt(percentile(list, 50), 1).padStart(8)} ${fmt(percentile(list, 99), 1).padStart(8)} ` +
        `${String(list.reduce((sum, r) => sum + r.errors, 0)).padStart(8)}   ${cpu}`,
    );
  }

  const mean = (list: readonly Run[], key: "rate" | "p99") =>
    list.reduce((sum, run) => sum + run[key], 0) / list.length;
  /** The median over rounds of the ratio within a round. */
  const ratio = (a: string, b: string, key: "rate" | "p99" = "rate") =>
    median(rounds.map((round) => mean(round[a] as Run[], key) / mean(round[b] as Run[], key)));
  /** p99 over every response of every round, each side. */
  const pooledP99 = (a: string, b: string) =>
    percentile(runs[a] as Run[], 99) / percentile(runs[b] as Run[], 99);
  const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
  console.log(
    "\nratios (throughput: median over rounds of the ratio within a round; p99: over all rounds' responses,\n" +
      "and in brackets the median over rounds of the ratio of each round's p99s):",
  );
  for (const [label, a, b] of COMPARED) {
    const throughput = ratio(a, b);
    const p99 = pooledP99(a, b);
    console.log(
      `  ${label.padEnd(31)} throughput ${fmt(throughput, 2)}× (≥ 0.9: ${verdict(throughput >= 0.9)})   ` +
        `p99 ${fmt(p99, 2)}× (≤ 1.2: ${verdict(p99 <= 1.2)}) [${fmt(ratio(a, b, "p99"), 2)}×]`,
    );
  }
  console.log(
    `  ${"first view of a page".padEnd(31)} throughput ${fmt(ratio("gateway page, first view", "direct page, first view"), 2)}×` +
      `   p99 ${fmt(pooledP99("gateway page, first view", "direct page, first view"), 2)}×` +
      "   (every request a page this isolate has not kept: the rewriter runs)",
  );
  console.log(
    `  ${"gateway / no-op gateway".padEnd(31)} throughput ${fmt(ratio("gateway asset", "no-op gateway asset"), 2)}×` +
      "   (the dispatch Worker's own checks and rewriting)",
  );
  console.log(
    `  ${"no-op gateway / direct".padEnd(31)} throughput ${fmt(ratio("no-op gateway asset", "direct asset"), 2)}×` +
      "   (the local namespace hop alone)",
  );
  const errors = Object.values(runs)
    .flat()
    .reduce((sum, r) => sum + r.errors, 0);
  console.log(`  errors, all paths and rounds   ${errors} (target 0: ${verdict(errors === 0)})`);
  const cpuOf = (name: string, proc: string) =>
    median((runs[name] as Run[]).map((r) => r.cpu[proc] as number));
  console.log(
    `\nCPU per request in the dispatch Worker's workerd: asset ${fmt(cpuOf("gateway asset", "gateway"))} µs, ` +
      `cold grant ${fmt(cpuOf("gateway asset, cold grant", "gateway"))} µs, page ${fmt(cpuOf("gateway page", "gateway"))} µs, ` +
      `page on first view ${fmt(cpuOf("gateway page, first view", "gateway"))} µs ` +
      `(no-op gateway ${fmt(cpuOf("no-op gateway asset", "gateway"))} µs); ` +
      `in the user Worker's workerd: ${fmt(cpuOf("direct asset", "user"))} µs per asset`,
  );
}

async function scale(stack: DevStack): Promise<void> {
  const before = workerdMemory();
  const started = performance.now();
  for (let i = 0; i < SITES; i += 10) {
    const batch = Array.from({ length: Math.min(10, SITES - i) }, (_, j) =>
      publish(stack, {
        "index.html": new TextEncoder().encode(`<!doctype html><h1>site ${i + j}</h1>`),
        "app.js": new TextEncoder().encode(`console.log(${i + j});`),
      }),
    );
    await Promise.all(batch);
  }
  await stack.edge.settled();
  const after = workerdMemory();
  const mib = (m: { processes: number; pss: number; rss: number }) =>
    `${m.processes} workerd processes, PSS ${fmt(m.pss)} MiB (RSS ${fmt(m.rss)} MiB); Node ${fmt(process.memoryUsage().rss / 2 ** 20)} MiB`;
  console.log(
    `\nscale: ${SITES} more sites published in ${fmt((performance.now() - started) / 1000, 1)} s; ` +
      `${stack.edge.running().length} user Workers running (the rest start on demand)`,
  );
  console.log(`  memory before  ${mib(before)}`);
  console.log(`  memory after   ${mib(after)}`);
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "mini-sites-bench-"));
  const stack = await startDevStack({ dataDir, port: 0 });
  try {
    const site = await publish(stack, benchFiles());
    const spa = await publish(
      stack,
      { "index.html": benchFiles()["index.html"] as Uint8Array },
      "single-page-application",
    );
    await servePaths(stack, site, spa);
    await scale(stack);
  } finally {
    await stack.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
