/**
 * Publish benchmark (DESIGN §9): on the local stack, a 200-file 5 MiB bundle from `POST` to the first
 * 200 through the gateway (target ≤ 3 s), then a re-publish with one file changed (uploads one file;
 * target ≤ 1.5 s), with 1, 20 and 100 sites already published: the time must not grow with the
 * number of sites (target: 100 within 20% of 1). Meanwhile another site is fetched through the gateway
 * back to back; its slowest answer during the publishes is the longest stall a viewer would see.
 *
 *   npm run bench -- publish       (BENCH_PUBLISH_ROUNDS=3, BENCH_PUBLISH_SIZES=1,20,100)
 */

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import {
  type ManifestEntry,
  newSiteId,
  newTenantShortId,
  parseWorkerName,
  readBundle,
  type SiteId,
  siteTag,
  tenantTag,
  workerNameFor,
} from "@mini-sites/core";
import { strToU8, zipSync } from "fflate";
import { CloudflareWfPProvider } from "../control/src/hosting/index.ts";
import { requestVia } from "../dev/src/loopback-http.ts";
import { DEV_APP_PID, type DevStack, startDevStack } from "../dev/src/stack.ts";
import { median } from "./support/load.ts";
import { grantMinter } from "./support/site.ts";

const ROUNDS = Number(process.env.BENCH_PUBLISH_ROUNDS ?? 3);
const SIZES = (process.env.BENCH_PUBLISH_SIZES ?? "1,20,100").split(",").map(Number);
const FILES = 200;
const TOTAL_BYTES = 5 * 1024 * 1024;

/** Deterministic text that compresses like real minified JS does (~3×), not like zeros. */
function fileText(seed: number, bytes: number): string {
  let x = seed * 2654435761;
  const words = ["const", "return", "function", "=>", "{", "}", "(", ")", ";", "data", "value", "map"];
  let out = `/* file ${seed} */\n`;
  while (out.length < bytes) {
    x = (x * 1103515245 + 12345) >>> 0;
    out += `${words[x % words.length]}${(x >>> 8).toString(36)} `;
  }
  return out.slice(0, bytes);
}

/**
 * A bundle of its own for every `content` (so a new site uploads all 200 files, as new content
 * would); `edit` changes its first script only (so a re-publish uploads exactly one file).
 */
function bundleFiles(content: number, edit = 0): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {
    "index.html": strToU8(
      `<!doctype html><title>bench ${content}</title><script type="module" src="/assets/f0.js"></script>`,
    ),
  };
  const each = Math.floor(TOTAL_BYTES / (FILES - 1));
  for (let i = 0; i < FILES - 1; i++) {
    files[`assets/f${i}.js`] = strToU8(fileText(content * 1_000_000 + i + (i === 0 ? edit * 1000 : 0), each));
  }
  return files;
}

function bundle(content: number, edit = 0): Uint8Array {
  return zipSync(bundleFiles(content, edit));
}

async function api<T>(stack: DevStack, method: string, path: string, body?: Uint8Array): Promise<T> {
  const response = await fetch(`${stack.info.controlUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${stack.info.apiToken}`,
      ...(body ? { "content-type": "application/zip" } : {}),
    },
    body,
  });
  const json = (await response.json()) as T;
  if (response.status >= 300)
    throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** Seconds from the POST to each milestone of a publish. */
interface Timeline {
  /** When the POST was sent (Unix ms), to place a stall within a publish. */
  readonly at: number;
  /** The control Worker answered 202: the bundle is in R2, checked and staged. */
  readonly accepted: number;
  /** The Workflow left its upload step: assets uploaded, Worker PUT, user Worker running. */
  readonly provisioned: number;
  /** The job succeeded: smoke-checked through the gateway and flipped live. */
  readonly live: number;
  /** The entry page came back 200 through the gateway with a fresh grant. */
  readonly served: number;
}

/** POST → job done → view URL → the entry page served through the gateway. */
async function publishAndOpen(
  stack: DevStack,
  site: string,
  zip: Uint8Array,
  /** A new site's name: names are unique per tenant, so every new site gets its own. */
  name?: string,
): Promise<{ timeline: Timeline; site: string }> {
  const at = Date.now();
  const start = performance.now();
  const since = () => (performance.now() - start) / 1000;
  const job = await api<{ jobId: string; siteId: string }>(
    stack,
    "POST",
    `/v1/sites/${site}/versions${name === undefined ? "" : `?name=${encodeURIComponent(name)}`}`,
    zip,
  );
  const accepted = since();
  let provisioned: number | undefined;
  for (;;) {
    const state = await api<{ state: string; step: string | null; error: unknown }>(
      stack,
      "GET",
      `/v1/jobs/${job.jobId}`,
    );
    if (provisioned === undefined && state.step !== null && !["prepare", "upload"].includes(state.step)) {
      provisioned = since();
    }
    if (state.state === "succeeded") break;
    if (state.state === "failed") throw new Error(`publish failed: ${JSON.stringify(state.error)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const live = since();
  const { url } = await api<{ url: string }>(stack, "POST", `/v1/sites/${job.siteId}/view-url`);
  const enter = new URL(url);
  const entered = await requestVia(url);
  const cookie = String(entered.headers["set-cookie"] ?? "").split(";")[0] ?? "";
  const page = await requestVia(`http://${enter.host}/`, { headers: { cookie } });
  if (page.status !== 200) throw new Error(`gateway answered ${page.status}`);
  return {
    timeline: { at, accepted, provisioned: provisioned ?? live, live, served: since() },
    site: job.siteId,
  };
}

/** Which publish, and which part of it, was under way at `at` (Unix ms). */
function placed(at: number, first: readonly Timeline[], again: readonly Timeline[]): string {
  const all = [
    ...first.map((t) => ["new site", t] as const),
    ...again.map((t) => ["re-publish", t] as const),
  ];
  for (const [kind, t] of all) {
    const offset = (at - t.at) / 1000;
    if (offset < 0 || offset > t.served) continue;
    const part =
      offset < t.accepted
        ? "before the 202 (control Worker: upload to R2, check, stage)"
        : offset < t.provisioned
          ? "while provisioning (assets, Worker PUT, user Worker start)"
          : offset < t.live
            ? "during the smoke check and flip"
            : "while opening the page";
    return `${offset.toFixed(2)} s into a ${kind} publish, ${part}`;
  }
  return "between publishes";
}

/** "accepted 1.20 / provisioned 2.00 / live 2.10 / served 2.20", medians. */
function phases(list: readonly Timeline[]): string {
  const keys = ["accepted", "provisioned", "live", "served"] as const satisfies readonly (keyof Timeline)[];
  return keys.map((key) => `${key} ${median(list.map((t) => t[key])).toFixed(2)}`).join(" / ");
}

/** Uploads `files` as the user Worker of (site, version), as the control Worker's provider does. */
async function provision(
  stack: DevStack,
  siteId: SiteId,
  version: number,
  files: Record<string, Uint8Array>,
): Promise<void> {
  const provider = new CloudflareWfPProvider({
    apiBaseUrl: stack.info.cloudflareApiUrl,
    accountId: stack.info.accountId,
    namespace: stack.info.namespace,
    apiToken: stack.info.cloudflareApiToken,
  });
  const report = await readBundle({
    kind: "files",
    files: Object.entries(files).map(([path, bytes]) => ({
      path,
      size: bytes.length,
      read: async () => bytes,
    })),
  });
  if (!report.ok) throw new Error(JSON.stringify(report.errors));
  const result = await provider.createWorker({
    name: workerNameFor(siteId, version),
    files: report.files,
    readFile: async (entry: ManifestEntry) => files[entry.path] as Uint8Array,
    tags: [tenantTag(newTenantShortId()), siteTag(siteId)],
    assets: { notFoundHandling: "404-page" },
  });
  if (!result.ok) throw new Error(result.error.message);
}

/** Publishes small sites straight to the namespace until it holds `count`. */
async function fillNamespace(stack: DevStack, count: number): Promise<void> {
  const one = (i: number) =>
    provision(stack, newSiteId(), 1, {
      "index.html": strToU8(`<!doctype html><h1>site ${i}</h1>`),
      "app.js": strToU8(`console.log(${i});`),
    });
  while (stack.cloudflareApi.scripts().length < count) {
    const missing = count - stack.cloudflareApi.scripts().length;
    await Promise.all(Array.from({ length: Math.min(10, missing) }, (_, i) => one(i)));
  }
}

/**
 * The local stack's own part of a publish, without the control Worker: assets and Worker PUT to the
 * Cloudflare API stand-in (which starts the user Worker), then the entry page through the gateway.
 */
async function provisionAndOpen(
  stack: DevStack,
  mint: (siteId: SiteId, version: number) => Promise<string>,
  siteId: SiteId,
  version: number,
  files: Record<string, Uint8Array>,
): Promise<number> {
  const start = performance.now();
  await provision(stack, siteId, version, files);
  const page = await requestVia(new URL("/", stack.edge.url), {
    host: `s-${siteId}.localhost`,
    headers: { cookie: `__Host-ms=${await mint(siteId, version)}` },
  });
  if (page.status !== 200) throw new Error(`gateway answered ${page.status}`);
  return (performance.now() - start) / 1000;
}

/**
 * Fetches one site's asset through the gateway back to back on one keep-alive connection, in a thread
 * of its own (so this process's own work — the stand-ins run here — cannot delay the measurement),
 * until stopped; returns each answer's latency in ms and when it was asked (Unix ms). Every answer
 * must be a 200. Resolves once the
 * site has answered once (it may have been stopped while the namespace filled up: that first,
 * cold answer is not counted).
 */
async function watchServing(
  url: URL,
  host: string,
  cookie: string,
): Promise<{ stop(): Promise<[number, number][]> }> {
  const thread = new Worker(
    `const http = require("node:http");
const { parentPort, workerData } = require("node:worker_threads");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const latencies = [];
let running = true;
parentPort.on("message", () => { running = false; });
const one = () => new Promise((resolve, reject) => {
  const start = performance.now();
  const request = http.request({ host: "127.0.0.1", port: workerData.port, path: workerData.path,
    headers: { host: workerData.host, cookie: workerData.cookie }, agent }, (response) => {
    response.resume();
    response.on("end", () => {
      if (response.statusCode !== 200) reject(new Error("the watched site answered " + response.statusCode));
      latencies.push([performance.now() - start, Date.now() - (performance.now() - start)]);
      resolve();
    });
  });
  request.on("error", reject);
  request.end();
});
(async () => {
  await one();
  latencies.length = 0;
  parentPort.postMessage("warm");
  while (running) await one();
  agent.destroy();
  parentPort.postMessage(latencies);
})().catch((error) => { throw error; });`,
    { eval: true, workerData: { port: url.port, path: url.pathname, host, cookie } },
  );
  const messages: unknown[] = [];
  const waiting: ((message: unknown) => void)[] = [];
  thread.on("message", (message) => {
    const next = waiting.shift();
    if (next) next(message);
    else messages.push(message);
  });
  const nextMessage = () =>
    new Promise<unknown>((resolve, reject) => {
      const queued = messages.shift();
      if (queued !== undefined) return resolve(queued);
      waiting.push(resolve);
      thread.once("error", reject);
    });
  await nextMessage(); // "warm"
  return {
    async stop() {
      thread.postMessage("stop");
      const latencies = (await nextMessage()) as [number, number][];
      await thread.terminate();
      return latencies;
    },
  };
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "mini-sites-bench-publish-"));
  const stack = await startDevStack({ dataDir, port: 0 });
  try {
    // The watched site: the first of the namespace, kept busy (so never the least recently used).
    await fillNamespace(stack, 1);
    const watched = parseWorkerName(stack.cloudflareApi.scripts()[0]?.name ?? "");
    if (watched === undefined) throw new Error("no site to watch");
    const { siteId } = watched;
    const secrets = JSON.parse(await readFile(join(dataDir, "dev-secrets.json"), "utf8")) as {
      appPsk: string;
    };
    const minter = await grantMinter(DEV_APP_PID, secrets.appPsk);
    const mint = (site: SiteId, version: number) => minter(site, version, newTenantShortId());
    const grant = await mint(siteId, 1);
    const watchUrl = new URL("/app.js", stack.edge.url);
    const watchHost = `s-${siteId}.localhost`;

    // One untimed publish first: the control Worker's first run compiles and warms what every later one reuses.
    await publishAndOpen(stack, "new", bundle(0));

    console.log(
      `publish: ${FILES} files, ${(TOTAL_BYTES / 2 ** 20).toFixed(0)} MiB, median of ${ROUNDS} rounds, ` +
        `at ${SIZES.join(", ")} sites already published`,
    );
    console.log(
      "  sites   new site → first 200   one file changed → first 200   files uploaded   longest stall",
    );
    const results: { sites: number; fresh: number; again: number }[] = [];
    const details: string[] = [];
    const local: string[] = [];
    let content = 0;
    for (const size of SIZES) {
      await fillNamespace(stack, size);
      await stack.edge.settled();
      const sites = stack.cloudflareApi.scripts().length;
      const first: Timeline[] = [];
      const again: Timeline[] = [];
      const localFirst: number[] = [];
      const localAgain: number[] = [];
      const uploaded: number[] = [];
      const watch = await watchServing(watchUrl, watchHost, `__Host-ms=${grant}`);
      for (let round = 0; round < ROUNDS; round++) {
        content++;
        const fresh = await publishAndOpen(stack, "new", bundle(content), `bench-${content}`);
        first.push(fresh.timeline);
        const before = stack.cloudflareApi.stats().assetsUploaded;
        const changed = await publishAndOpen(stack, fresh.site, bundle(content, 1));
        again.push(changed.timeline);
        uploaded.push(stack.cloudflareApi.stats().assetsUploaded - before);
        content++;
        const local = newSiteId();
        localFirst.push(await provisionAndOpen(stack, mint, local, 1, bundleFiles(content)));
        localAgain.push(await provisionAndOpen(stack, mint, local, 2, bundleFiles(content, 1)));
      }
      const answers = await watch.stop();
      const latencies = answers.map(([latency]) => latency);
      const [worst, worstAt] = answers.reduce((a, b) => (b[0] > a[0] ? b : a), [0, 0]);
      const fresh = median(first.map((t) => t.served));
      const changed = median(again.map((t) => t.served));
      results.push({ sites, fresh, again: changed });
      details.push(`  ${String(sites).padStart(5)}   new site:   ${phases(first)}`);
      details.push(`          re-publish: ${phases(again)}`);
      details.push(`          longest stall began ${placed(worstAt, first, again)}`);
      local.push(
        `  ${String(sites).padStart(5)}   new site ${median(localFirst).toFixed(2)} s, ` +
          `one file changed ${median(localAgain).toFixed(2)} s`,
      );
      console.log(
        `  ${String(sites).padStart(5)}   ${fresh.toFixed(2).padStart(8)} s (≤ 3)` +
          `          ${changed.toFixed(2).padStart(8)} s (≤ 1.5)` +
          `          ${uploaded.join(", ").padEnd(12)}` +
          `   ${worst.toFixed(0)} ms (median ${median(latencies).toFixed(1)} ms, ${latencies.length} requests)`,
      );
    }
    console.log("  seconds from the POST to each milestone (medians):");
    for (const line of details) console.log(line);
    console.log(
      "  the local stack's part alone (provider → Cloudflare API stand-in → user Worker start → first 200):",
    );
    for (const line of local) console.log(line);
    const low = results[0];
    const high = results.at(-1);
    if (low !== undefined && high !== undefined && high !== low) {
      const gap = (a: number, b: number) => `${(((b - a) / a) * 100).toFixed(0)}%`;
      console.log(
        `  ${high.sites} vs ${low.sites} sites: new site ${gap(low.fresh, high.fresh)}, ` +
          `re-publish ${gap(low.again, high.again)} (target ≤ 20%)`,
      );
    }
  } finally {
    await stack.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
