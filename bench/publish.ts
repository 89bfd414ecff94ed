/**
 * Publish benchmark (DESIGN §9): on the local stack, a 200-file 5 MiB bundle from `POST` to the first
 * 200 through the gateway (target ≤ 3 s), then a re-publish with one file changed (uploads one file;
 * target ≤ 1.5 s). Each measured from the request to the first successful page load.
 *
 *   npm run bench -- publish       (BENCH_PUBLISH_ROUNDS=3 to change the number of rounds)
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { strToU8, zipSync } from "fflate";
import { requestVia } from "../dev/src/loopback-http.ts";
import { type DevStack, startDevStack } from "../dev/src/stack.ts";

const ROUNDS = Number(process.env.BENCH_PUBLISH_ROUNDS ?? 3);
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

function bundle(changed: number): Uint8Array {
  const files: Record<string, Uint8Array> = {
    "index.html": strToU8(
      '<!doctype html><title>bench</title><script type="module" src="/assets/f0.js"></script>',
    ),
  };
  const each = Math.floor(TOTAL_BYTES / (FILES - 1));
  for (let i = 0; i < FILES - 1; i++) {
    files[`assets/f${i}.js`] = strToU8(fileText(i === 0 ? 1_000_000 + changed : i, each));
  }
  return zipSync(files);
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

/** POST → job done → view URL → the entry page served through the gateway. Returns seconds. */
async function publishAndOpen(
  stack: DevStack,
  site: string,
  zip: Uint8Array,
): Promise<{ seconds: number; site: string }> {
  const start = performance.now();
  const job = await api<{ jobId: string; siteId: string }>(
    stack,
    "POST",
    `/v1/sites/${site}/versions?name=bench`,
    zip,
  );
  for (;;) {
    const state = await api<{ state: string; error: unknown }>(stack, "GET", `/v1/jobs/${job.jobId}`);
    if (state.state === "succeeded") break;
    if (state.state === "failed") throw new Error(`publish failed: ${JSON.stringify(state.error)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const { url } = await api<{ url: string }>(stack, "POST", `/v1/sites/${job.siteId}/view-url`);
  const enter = new URL(url);
  const entered = await requestVia(url);
  const cookie = String(entered.headers["set-cookie"] ?? "").split(";")[0] ?? "";
  const page = await requestVia(`http://${enter.host}/`, { headers: { cookie } });
  if (page.status !== 200) throw new Error(`gateway answered ${page.status}`);
  return { seconds: (performance.now() - start) / 1000, site: job.siteId };
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "mini-sites-bench-publish-"));
  const stack = await startDevStack({ dataDir, port: 0 });
  try {
    const first: number[] = [];
    const again: number[] = [];
    const uploaded: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const fresh = await publishAndOpen(stack, "new", bundle(round * 2));
      first.push(fresh.seconds);
      const before = stack.cloudflareApi.stats().assetsUploaded;
      const changed = await publishAndOpen(stack, fresh.site, bundle(round * 2 + 1));
      again.push(changed.seconds);
      uploaded.push(stack.cloudflareApi.stats().assetsUploaded - before);
    }
    const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] as number;
    console.log(
      `publish: ${FILES} files, ${(TOTAL_BYTES / 2 ** 20).toFixed(0)} MiB, median of ${ROUNDS} rounds`,
    );
    console.log(`  new site, first 200 through the gateway   ${median(first).toFixed(2)} s  (target ≤ 3 s)`);
    console.log(
      `  one file changed, re-published            ${median(again).toFixed(2)} s  (target ≤ 1.5 s), files uploaded: ${uploaded.join(", ")}`,
    );
  } finally {
    await stack.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
