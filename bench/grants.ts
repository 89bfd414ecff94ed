/**
 * Grant verification benchmark (DESIGN §9; issue 3 item 7: grant verify ≤ 20 µs median): a valid
 * grant through `verifyGrant` with the keyring built once, as the dispatch Worker does.
 *
 * Two runtimes, because they differ by design: Node runs WebCrypto HMAC on its thread pool, so one
 * `subtle.sign` costs a thread hop (~15–20 µs) that dominates; workerd (production) signs on the
 * calling thread. Node figures are per call; workerd freezes timers while code runs (Spectre
 * mitigation), so its figure is the wall time of a batch of verifies minus an empty request, divided
 * by the batch size — the median of several batches. Prints figures, never asserts.
 *
 * Run: `npx node bench/grants.ts` (BENCH_ITERATIONS changes the Node sample size).
 */

import { mintGrant, verifyGrant } from "../core/src/grants/index.ts";
import { KEY_PURPOSE, keyringFor, requireIdentity } from "../core/src/identity/index.ts";
import { newSiteId, newTenantShortId } from "../core/src/ids.ts";
import { bundleWorker } from "../dev/src/bundle-worker.ts";
import { startSingleWorker } from "../dev/src/single-worker.ts";

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 20_000);
const WARMUP = 2_000;
const WORKERD_BATCH = 5_000;
const WORKERD_BATCHES = 15;
const ENV = { APP_PID: "bench", APP_PSK: "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz" };

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function p99(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.99)] as number;
}

async function timeEach(run: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await run();
  const samples: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const start = performance.now();
    await run();
    samples.push((performance.now() - start) * 1000);
  }
  return samples;
}

async function inNode(): Promise<void> {
  const keyring = await keyringFor(requireIdentity(ENV), KEY_PURPOSE.grant);
  const siteId = newSiteId();
  const now = Date.now();
  const { text } = await mintGrant(keyring, { siteId, version: 7, tenantId: newTenantShortId() }, now);
  const first = await verifyGrant(keyring, text, { siteId, now });
  if (!first.ok) throw new Error(`benchmark grant did not verify: ${first.code}`);

  const verify = await timeEach(() => verifyGrant(keyring, text, { siteId, now }));
  const malformed = await timeEach(() => verifyGrant(keyring, `${text.slice(0, -1)}A`, { siteId, now }));
  const body = new Uint8Array(22);
  const sign = await timeEach(() => crypto.subtle.sign("HMAC", keyring.current.hmac, body));

  console.log(`grant: ${text.length} characters, e.g. ${text}`);
  console.log(`Node ${process.versions.node}, n=${ITERATIONS} per line:`);
  console.log(
    `  verifyGrant, valid grant      median ${median(verify).toFixed(2)} µs   p99 ${p99(verify).toFixed(2)} µs`,
  );
  console.log(
    `  verifyGrant, malformed grant  median ${median(malformed).toFixed(2)} µs   p99 ${p99(malformed).toFixed(2)} µs`,
  );
  console.log(
    `  crypto.subtle.sign HMAC alone median ${median(sign).toFixed(2)} µs   (Node's floor for any WebCrypto MAC)`,
  );
  console.log(`  verify / bare HMAC ratio      ${(median(verify) / median(sign)).toFixed(2)}`);
}

/** The same core code, bundled as a Worker and run on workerd through Miniflare. */
const WORKER_ENTRY = `
import { mintGrant, verifyGrant } from "./core/src/grants/index.ts";
import { KEY_PURPOSE, keyringFor, requireIdentity } from "./core/src/identity/index.ts";
import { newSiteId, newTenantShortId } from "./core/src/ids.ts";
let fixture;
export default {
  async fetch(request) {
    if (!fixture) {
      const keyring = await keyringFor(requireIdentity(${JSON.stringify(ENV)}), KEY_PURPOSE.grant);
      const siteId = newSiteId();
      const now = Date.now();
      const { text } = await mintGrant(keyring, { siteId, version: 7, tenantId: newTenantShortId() }, now);
      fixture = { keyring, siteId, now, text };
    }
    const n = Number(new URL(request.url).searchParams.get("n"));
    let ok = 0;
    for (let i = 0; i < n; i++) {
      if ((await verifyGrant(fixture.keyring, fixture.text, { siteId: fixture.siteId, now: fixture.now })).ok) ok++;
    }
    return new Response(String(ok));
  },
};`;

async function inWorkerd(): Promise<void> {
  const root = new URL("..", import.meta.url).pathname;
  const code = await bundleWorker({ contents: WORKER_ENTRY, resolveDir: root });
  const mf = await startSingleWorker({ name: "grant-bench", compatibilityDate: "2025-09-01", script: code });
  try {
    const request = async (n: number): Promise<number> => {
      const start = performance.now();
      const response = await mf.dispatchFetch(`http://bench.test/?n=${n}`);
      if ((await response.text()) !== String(n)) throw new Error("benchmark grant did not verify in workerd");
      return performance.now() - start;
    };
    await request(WORKERD_BATCH);
    const perCall: number[] = [];
    for (let b = 0; b < WORKERD_BATCHES; b++) {
      const empty = await request(0);
      const full = await request(WORKERD_BATCH);
      perCall.push(((full - empty) * 1000) / WORKERD_BATCH);
    }
    console.log(`workerd (Miniflare), ${WORKERD_BATCHES} batches of ${WORKERD_BATCH}:`);
    console.log(
      `  verifyGrant, valid grant      median ${median(perCall).toFixed(2)} µs   ` +
        `min ${Math.min(...perCall).toFixed(2)}   max ${Math.max(...perCall).toFixed(2)}   (target ≤ 20 µs)`,
    );
  } finally {
    await mf.dispose();
  }
}

await inNode();
await inWorkerd();
