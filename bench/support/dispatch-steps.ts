/**
 * The dispatch Worker's request path taken apart: each step of `handle` (dispatch/src/index.ts) run
 * alone in a loop inside workerd, on the inputs a browser's request for a 10 KB asset brings, so its
 * cost can be read in microseconds. workerd freezes its clocks while JavaScript runs (a Spectre
 * mitigation), so a step's cost is measured from outside: the CPU time the workerd process spends on a
 * request that runs it n times (from /proc, so other work on a busy machine does not count), over n;
 * n is chosen so a batch costs ~BATCH_MS, the median of several batches. Steps run hot (JIT warm,
 * caches filled), like the steady state of a gateway serving a page's subresources.
 */

import { bundleWorker } from "../../dev/src/bundle-worker.ts";
import { cpuMicros, workerdListeningOn } from "../../dev/src/processes.ts";
import { startSingleWorker } from "../../dev/src/single-worker.ts";
import { median } from "./load.ts";

/** CPU time is counted in 10 ms ticks: a batch of ~400 ms reads it to a few percent. */
const BATCH_MS = 400;
const BATCHES = 9;
const APP_PID = "bench";
const APP_PSK = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz";

/** In the order `handle` runs them; `label` is what docs/performance.md calls the step. */
export const STEPS = [
  ["config", "config: readConfig(env) (parsed once per env; a WeakMap lookup)"],
  ["identity", "identity: await gatewayIdentity(env) (keyring built once per env)"],
  ["host", "host: new URL(request.url) + routeHost"],
  ["policy", "policy: method, Service-Worker, Fetch Metadata headers"],
  ["path", "path: isSafeSitePath + isReservedPath"],
  ["cookie", "cookie: grantCookieValues (Cookie header split)"],
  ["grant-cold", "grant, first sight: base32 decode + HMAC-SHA256 + checks"],
  ["grant-warm", "grant, seen before: verified-grant cache hit"],
  ["tenant-csp", "tenant CSP, seen before: per-isolate cache hit (tenant-csp.ts)"],
  ["upstream", "upstream Request: forwarded headers + new Request"],
  ["response", "response: copy upstream headers, drop/set headers, new Response"],
  ["inject", "HTML injection: HTMLRewriter over a 10 KB page, read to the end"],
  ["stub", "the stubbed user Worker alone: a 10 KB Response, read to the end"],
  ["handle", "whole dispatch Worker, asset, stubbed user Worker included"],
  ["stub-html", "the stubbed user Worker alone: a 10 KB HTML Response, read to the end"],
  ["handle-html", "whole dispatch Worker, HTML page, stubbed user Worker included"],
] as const;

export type StepName = (typeof STEPS)[number][0];

const WORKER = `
import worker from "./dispatch/src/index.ts";
import { readConfig } from "./dispatch/src/config.ts";
import { gatewayIdentity } from "./dispatch/src/identity.ts";
import { routeHost } from "./dispatch/src/hosts.ts";
import { requestPolicyError } from "./dispatch/src/policy.ts";
import { isReservedPath, isSafeSitePath } from "./dispatch/src/paths.ts";
import { grantCookieValues } from "./dispatch/src/cookies.ts";
import { checkGrant } from "./dispatch/src/grants.ts";
import { forwardedRequestHeaders, secureUpstreamHeaders } from "./dispatch/src/headers.ts";
import { injectBootstrap } from "./dispatch/src/inject.ts";
import { tenantCspsFor } from "./dispatch/src/tenant-csp.ts";
import { mintGrant, newSiteId, newTenantShortId, verifyGrant, workerNameFor } from "@mini-sites/core";

const ASSET = new Uint8Array(10 * 1024).fill(97);
let rows = "";
for (let i = 0; rows.length < 9 * 1024; i++) rows += "<tr><td>row " + i + "</td><td>" + "x".repeat(40) + "</td></tr>";
const PAGE = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bench</title></head><body><table>' + rows + "</table></body></html>";
const ASSET_HEADERS = {
  "content-type": "text/plain; charset=utf-8",
  etag: '"0123456789abcdef0123456789abcdef"',
  "cache-control": "public, max-age=0, must-revalidate",
  "content-length": String(ASSET.length),
};
let fixture;

async function setUp(env) {
  const { keyring } = await gatewayIdentity(env);
  const siteId = newSiteId();
  const tenantId = newTenantShortId();
  const grant = (await mintGrant(keyring, { siteId, version: 1, tenantId }, Date.now())).text;
  const url = "http://s-" + siteId + ".localhost:8787/assets/index-3f2a.js";
  const headers = {
    host: "s-" + siteId + ".localhost:8787",
    cookie: "__Host-ms=" + grant,
    accept: "*/*",
    "accept-language": "en-GB,en;q=0.9",
    "accept-encoding": "gzip, deflate, br, zstd",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "sec-fetch-site": "same-origin",
    "sec-fetch-mode": "cors",
    "sec-fetch-dest": "script",
    referer: "http://s-" + siteId + ".localhost:8787/",
  };
  const request = new Request(url, { headers });
  const page = new Request(url.replace("/assets/index-3f2a.js", "/"), {
    headers: { ...headers, accept: "text/html", "sec-fetch-mode": "navigate", "sec-fetch-dest": "iframe" },
  });
  const name = workerNameFor(siteId, 1);
  // The tenant's allow-lists as KV would answer them (held in memory: the cache hit is what is timed).
  const allowLists = JSON.stringify({ v: 1, cdn: ["https://cdn.tenant.example"], connect: ["https://api.tenant.example"] });
  const stubEnv = {
    ...env,
    TENANT_CSP: { get: async (key) => (key === tenantId ? allowLists : null) },
    DISPATCHER: {
      get(worker) {
        if (worker !== name) throw new Error("wrong worker " + worker);
        return {
          async fetch(input) {
            const html = new URL(input instanceof Request ? input.url : input).pathname === "/";
            return html
              ? new Response(PAGE, { headers: { ...ASSET_HEADERS, "content-type": "text/html; charset=utf-8", "content-length": String(PAGE.length) } })
              : new Response(ASSET, { headers: ASSET_HEADERS });
          },
        };
      },
    },
  };
  await checkGrant(keyring, grant, siteId, Date.now());
  fixture = { keyring, siteId, tenantId, grant, request, page, stubEnv, name, upstream: new Response(ASSET, { headers: ASSET_HEADERS }) };
}

const steps = {
  config: (env) => readConfig(env),
  identity: (env) => gatewayIdentity(env),
  host: (env) => routeHost(new URL(fixture.request.url), readConfig(env).config),
  policy: () => requestPolicyError(fixture.request),
  path: () => isSafeSitePath("/assets/index-3f2a.js") && !isReservedPath("/assets/index-3f2a.js"),
  cookie: () => grantCookieValues(fixture.request),
  "grant-cold": () => verifyGrant(fixture.keyring, fixture.grant, { siteId: fixture.siteId, now: Date.now() }),
  "grant-warm": () => checkGrant(fixture.keyring, fixture.grant, fixture.siteId, Date.now()),
  "tenant-csp": () =>
    tenantCspsFor(readConfig(fixture.stubEnv).config, fixture.stubEnv.TENANT_CSP).cspFor(fixture.tenantId, Date.now()),
  upstream: () =>
    new Request("https://s-" + fixture.siteId + ".localhost/assets/index-3f2a.js", {
      method: "GET",
      headers: forwardedRequestHeaders(fixture.request.headers),
      redirect: "manual",
    }),
  response: (env) => {
    const response = new Response(null, fixture.upstream);
    secureUpstreamHeaders(response.headers, readConfig(env).config.csp);
    response.headers.get("location");
    response.headers.get("content-type");
    return response;
  },
  inject: async (env) =>
    injectBootstrap(new Response(PAGE, { headers: { "content-type": "text/html" } }), readConfig(env).config.bootstrapScript).text(),
  stub: async () => (await fixture.stubEnv.DISPATCHER.get(fixture.name).fetch(new Request("https://x/a.js"))).arrayBuffer(),
  handle: async () => (await worker.fetch(fixture.request, fixture.stubEnv)).arrayBuffer(),
  "stub-html": async () => (await fixture.stubEnv.DISPATCHER.get(fixture.name).fetch(new Request("https://x/"))).arrayBuffer(),
  "handle-html": async () => (await worker.fetch(fixture.page, fixture.stubEnv)).arrayBuffer(),
};

export default {
  async fetch(request, env) {
    if (fixture === undefined) await setUp(env);
    const query = new URL(request.url).searchParams;
    const step = steps[query.get("step")];
    const n = Number(query.get("n"));
    for (let i = 0; i < n; i++) await step(env);
    return new Response("ok");
  },
};
`;

/** Microseconds per run of each step, the median over batches. */
export async function timeDispatchSteps(): Promise<Record<StepName, number>> {
  const root = new URL("../..", import.meta.url).pathname;
  const worker = await startSingleWorker({
    name: "dispatch-steps",
    script: await bundleWorker({ contents: WORKER, resolveDir: root }),
    bindings: {
      SITES_DOMAIN: "localhost",
      APP_PID,
      APP_PSK,
      EMBED_ANCESTORS: "http://localhost:*",
      EMBED_ORIGIN: "http://localhost:8788",
    },
  });
  try {
    const pid = workerdListeningOn(worker.url.port);
    /** Wall ms and CPU µs of one request running `step` n times. */
    const run = async (step: string, n: number): Promise<{ wall: number; cpu: number }> => {
      const cpu = cpuMicros(pid);
      const start = performance.now();
      const answer = await worker.dispatchFetch(`http://bench.test/?step=${step}&n=${n}`);
      if ((await answer.text()) !== "ok") throw new Error(`step ${step} failed`);
      return { wall: performance.now() - start, cpu: cpuMicros(pid) - cpu };
    };
    const results = {} as Record<StepName, number>;
    for (const [step] of STEPS) {
      const probe = await run(step, 200); // also the warm-up: JIT, caches
      const n = Math.max(200, Math.round((200 * BATCH_MS) / Math.max(probe.wall, 0.1)));
      const perRun: number[] = [];
      for (let b = 0; b < BATCHES; b++) perRun.push((await run(step, n)).cpu / n);
      results[step] = median(perRun);
    }
    return results;
  } finally {
    await worker.dispose();
  }
}
