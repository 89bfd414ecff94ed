/**
 * The local edge's dispatch-namespace stand-in, running inside the dispatch Worker's own isolate as
 * its entry module: the production dispatch Worker (`./dispatch.js`, unchanged) gets an env whose
 * DISPATCHER is a plain object here, so `env.DISPATCHER.get(name).fetch(request)` costs what it does
 * on Cloudflare (a local call, then the user Worker), not an RPC round trip to a stand-in Worker.
 *
 * Each user Worker runs in a workerd process of its own (dev/src/edge.ts), so adding a site never
 * restarts the workerd that serves the others. The route name → process socket is learnt from Node
 * (LOADER, which starts a stopped user Worker first) and kept here; NET reaches loopback only.
 *
 * TENANT_CSP (the tenants' CSP allow-lists) and SITE_FEEDS (their monitor feeds and opt-ins): on
 * Cloudflare Workers KV namespaces both Workers bind. Here the namespaces live in the control Worker's
 * Miniflare instance (which writes them, persisted with its D1 and R2), and this isolate reads a key
 * through Node (TENANT_CSP_READER, SITE_FEEDS_READER): one store, so what the control Worker writes is
 * what the gateway reads, with a KV binding's answers — the text, null for no key, a thrown error for
 * a failed read.
 *
 * Threat: a port can be reused. Once Node stops a user Worker's process, another site's process (or
 * anything else) may listen on its port later, and a stale route would hand this site's request, and
 * its answer, to the wrong owner. So every route names the process instance it was given for; Node
 * retires an instance through `NamespaceControl` (loopback socket, never the public one) BEFORE it
 * stops it: the route is dropped, the instance id is refused if a late answer brings it back, and the
 * retire call returns only when no request is still waiting on that instance.
 */

import { WorkerEntrypoint } from "cloudflare:workers";
import dispatch from "./dispatch.js";

/** name → { origin, instance } for the user Workers this isolate has been told about. */
const routes = new Map();
/** Instance ids Node has retired: never routed to again. */
const retired = new Set();
/** instance id → requests sent to it whose response headers have not arrived yet. */
const inflight = new Map();
/** name → ms of its last request, for Node's least-recently-used choice. */
const lastUsed = new Map();
/** name → the LOADER answer being awaited, so a burst of first requests asks Node once. */
const lookups = new Map();

/** A retire waits at most this long for requests still in flight (a hung user Worker must not block Node). */
const RETIRE_WAIT_MS = 30_000;
/** WfP: `fetch()` on a missing script rejects with a message starting "Worker not found". */
const WORKER_NOT_FOUND = "Worker not found";

async function askLoader(env, name, failed) {
  const query = `name=${encodeURIComponent(name)}${failed === undefined ? "" : `&failed=${failed}`}`;
  const answer = await env.LOADER.fetch(`http://loader/route?${query}`, { method: "POST" });
  if (answer.status === 404) throw new Error(`${WORKER_NOT_FOUND}: ${name}`);
  if (!answer.ok) throw new Error(`User Worker ${name} could not be started (${answer.status})`);
  return answer.json();
}

/** The route for `name`, asking Node when there is none (or the one we had failed). */
async function route(env, name, failed) {
  const known = routes.get(name);
  if (known !== undefined && known.instance !== failed) return known;
  let lookup = lookups.get(name);
  if (lookup === undefined) {
    lookup = (async () => {
      // A late answer may name an instance retired meanwhile: ask again (a few times at most).
      for (let attempt = 0; attempt < 3; attempt++) {
        const answer = await askLoader(env, name, attempt === 0 ? failed : undefined);
        if (!retired.has(answer.instance)) {
          routes.set(name, answer);
          return answer;
        }
      }
      throw new Error(`User Worker ${name} keeps being replaced`);
    })().finally(() => lookups.delete(name));
    lookups.set(name, lookup);
  }
  return lookup;
}

/** What `DISPATCHER.get(name)` returns: a Fetcher for one user Worker. */
class UserWorker {
  #env;
  #name;
  constructor(env, name) {
    this.#env = env;
    this.#name = name;
  }

  /** Like a Fetcher's: a Request, or a URL and init (what the dispatch Worker sends: no copy). */
  async fetch(input, init) {
    lastUsed.set(this.#name, Date.now());
    // The path and query, as the dispatch Worker built them (the origin part is replaced).
    const url = input instanceof Request ? input.url : String(input);
    const tail = url.slice(url.indexOf("/", url.indexOf("//") + 2));
    const details = init ?? (input instanceof Request ? input : undefined);
    let target = await route(this.#env, this.#name);
    try {
      return await this.#send(target, tail, details);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith(WORKER_NOT_FOUND)) throw error;
      // The process went away (stopped, crashed): say so, take the new route, try once more. Only
      // GET and HEAD reach here (the gateway refuses the rest), so a retry is safe.
      target = await route(this.#env, this.#name, target.instance);
      return this.#send(target, tail, details);
    }
  }

  async #send(target, tail, details) {
    inflight.set(target.instance, (inflight.get(target.instance) ?? 0) + 1);
    try {
      return await this.#env.NET.fetch(target.origin + tail, details);
    } finally {
      inflight.set(target.instance, inflight.get(target.instance) - 1);
    }
  }
}

class Namespace {
  #env;
  constructor(env) {
    this.#env = env;
  }
  get(name) {
    return new UserWorker(this.#env, name);
  }
}

/** The part of a KV namespace binding the dispatch Worker calls, over a reader (TENANT_CSP_READER, …). */
class KvReader {
  #reader;
  #name;
  constructor(reader, name) {
    this.#reader = reader;
    this.#name = name;
  }
  async get(key, options) {
    if (options?.type !== undefined && options.type !== "text")
      throw new Error(`${this.#name}: only text reads`);
    const answer = await this.#reader.fetch(`http://kv/?key=${encodeURIComponent(key)}`);
    if (answer.status === 404) return null;
    if (!answer.ok) throw new Error(`${this.#name} read failed (${answer.status})`);
    return answer.text();
  }
}

/** One routed env per real env: the dispatch Worker caches its config and keys per env object. */
const routedEnvs = new WeakMap();

function routedEnv(env) {
  let routed = routedEnvs.get(env);
  if (routed === undefined) {
    const {
      NET: _net,
      LOADER: _loader,
      TENANT_CSP_READER: tenantCsp,
      SITE_FEEDS_READER: siteFeeds,
      ...rest
    } = env;
    routed = { ...rest, DISPATCHER: new Namespace(env) };
    if (tenantCsp !== undefined) routed.TENANT_CSP = new KvReader(tenantCsp, "TENANT_CSP");
    if (siteFeeds !== undefined) routed.SITE_FEEDS = new KvReader(siteFeeds, "SITE_FEEDS");
    routedEnvs.set(env, routed);
  }
  return routed;
}

export default {
  fetch(request, env, ctx) {
    return dispatch.fetch(request, routedEnv(env), ctx);
  },
};

/** Node's side door (its own loopback socket): least-recently-used facts, and retiring an instance. */
export class NamespaceControl extends WorkerEntrypoint {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/usage") return Response.json(Object.fromEntries(lastUsed));
    if (url.pathname === "/retire" && request.method === "POST") {
      const instance = Number(url.searchParams.get("instance"));
      retired.add(instance);
      for (const [name, target] of routes) if (target.instance === instance) routes.delete(name);
      const deadline = Date.now() + RETIRE_WAIT_MS;
      while ((inflight.get(instance) ?? 0) > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      inflight.delete(instance);
      return new Response(null, { status: 204 });
    }
    return new Response("not found", { status: 404 });
  }
}
