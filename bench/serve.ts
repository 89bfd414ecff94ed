/**
 * Serve-path benchmark (DESIGN §9): the same 10 KB asset through the gateway (dispatch Worker →
 * namespace stand-in → user Worker) and straight from the user Worker's own socket, in one run on the
 * same workerd, with autocannon; target ratio ≥ 0.9. Then the dev stack's memory with 100 published
 * sites (only the most recently used user Workers run).
 *
 *   npm run bench -- serve           (BENCH_SECONDS=5 BENCH_SITES=100 to change the defaults)
 */

import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ManifestEntry,
  newSiteId,
  newTenantShortId,
  readBundle,
  siteTag,
  tenantTag,
  workerNameFor,
} from "@mini-sites/core";
import autocannon from "autocannon";
import { CloudflareWfPProvider } from "../control/src/hosting/index.ts";
import { type DevStack, startDevStack } from "../dev/src/stack.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const SITES = Number(process.env.BENCH_SITES ?? 100);
const CONNECTIONS = 10;

function provider(stack: DevStack): CloudflareWfPProvider {
  return new CloudflareWfPProvider({
    apiBaseUrl: stack.info.cloudflareApiUrl,
    accountId: stack.info.accountId,
    namespace: stack.info.namespace,
    apiToken: stack.info.cloudflareApiToken,
  });
}

async function publish(
  stack: DevStack,
  files: Record<string, Uint8Array>,
): Promise<{ name: string; siteId: string }> {
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
  const name = workerNameFor(siteId, 1);
  const result = await provider(stack).createWorker({
    name,
    files: report.files,
    readFile: async (entry: ManifestEntry) => files[entry.path] as Uint8Array,
    tags: [tenantTag(newTenantShortId()), siteTag(siteId)],
    assets: { notFoundHandling: "404-page" },
  });
  if (!result.ok) throw new Error(result.error.message);
  return { name, siteId };
}

interface Run {
  requests: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(url: string, headers: Record<string, string>): Promise<Run> {
  const result = await autocannon({ url, headers, connections: CONNECTIONS, duration: SECONDS });
  const bad = result.non2xx + result.errors + result.timeouts;
  return { requests: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: bad };
}

/** Resident memory (MiB) of this process and every workerd it started. */
function memory(): { node: number; workerd: number } {
  let workerd = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== process.pid || !stat.includes("(workerd)")) continue;
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      workerd += Number(rss?.[1] ?? 0) / 1024;
    } catch {
      // the process ended while we looked
    }
  }
  return { node: process.memoryUsage().rss / 2 ** 20, workerd };
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "mini-sites-bench-"));
  const stack = await startDevStack({ dataDir, port: 0 });
  try {
    const asset = new Uint8Array(10 * 1024).map((_, i) => 97 + (i % 26));
    const site = await publish(stack, {
      "index.html": new TextEncoder().encode("<!doctype html><title>bench</title>"),
      "asset.txt": asset,
    });
    const grant = (await (
      await fetch(`${stack.info.consoleUrl}/view-url`, {
        method: "POST",
        body: JSON.stringify({ worker: site.name }),
      })
    ).json()) as { grant: string };
    const gateway = `${stack.info.edgeUrl}/asset.txt`;
    const gatewayHeaders = { host: `s-${site.siteId}.localhost`, cookie: `__Host-ms=${grant.grant}` };
    await stack.edge.ensureRunning(site.name);
    const direct = new URL("/asset.txt", await stack.edge.directUrl(site.name)).href;

    console.log(
      `serve: 10 KB asset, ${CONNECTIONS} connections, ${SECONDS} s per run, gateway and direct alternated`,
    );
    await load(gateway, gatewayHeaders); // warm-up: JIT, keyring import, asset cache
    await load(direct, {});
    const runs = { gateway: [] as Run[], direct: [] as Run[] };
    for (let round = 0; round < 2; round++) {
      runs.gateway.push(await load(gateway, gatewayHeaders));
      runs.direct.push(await load(direct, {}));
    }
    const mean = (list: Run[], key: keyof Run) => list.reduce((sum, r) => sum + r[key], 0) / list.length;
    for (const [label, list] of Object.entries(runs)) {
      console.log(
        `  ${label.padEnd(8)} ${mean(list, "requests").toFixed(0).padStart(6)} req/s   p50 ${mean(list, "p50").toFixed(1)} ms   p99 ${mean(list, "p99").toFixed(1)} ms   errors ${mean(list, "errors")}`,
      );
    }
    const ratio = mean(runs.gateway, "requests") / mean(runs.direct, "requests");
    console.log(`  ratio    ${ratio.toFixed(2)}× gateway/direct throughput (target ≥ 0.9)`);

    const before = memory();
    const started = performance.now();
    const published: string[] = [];
    for (let i = 0; i < SITES; i += 10) {
      const batch = Array.from({ length: Math.min(10, SITES - i) }, (_, j) =>
        publish(stack, {
          "index.html": new TextEncoder().encode(`<!doctype html><h1>site ${i + j}</h1>`),
          "app.js": new TextEncoder().encode(`console.log(${i + j});`),
        }),
      );
      for (const { name } of await Promise.all(batch)) published.push(name);
    }
    await stack.edge.settled();
    const after = memory();
    console.log(
      `\nscale: ${SITES} sites published in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
        `${stack.edge.running().length} user Workers running (the rest start on demand)`,
    );
    console.log(
      `  memory before  node ${before.node.toFixed(0)} MiB, workerd ${before.workerd.toFixed(0)} MiB`,
    );
    console.log(
      `  memory after   node ${after.node.toFixed(0)} MiB, workerd ${after.workerd.toFixed(0)} MiB`,
    );
  } finally {
    await stack.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
