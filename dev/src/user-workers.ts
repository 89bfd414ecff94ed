/**
 * Site user Workers on workerd. Each site is an assets-only Worker (Workers Static Assets over a
 * folder), as in production, where wrangler uploads it with no script of its own.
 *
 * Two ways to run them:
 * - `userWorkerOptions(site)`: one user Worker alone, for a Miniflare instance (a workerd process) of its
 *   own. The dev stack's edge (edge.ts) runs every site this way, so adding one never restarts the
 *   workerd serving the others.
 * - `namespaceWorkers(sites)`: several in ONE instance behind a dispatch-namespace stand-in Worker
 *   whose `get(name)` returns the site's service binding, so dispatch code written for
 *   `env.DISPATCHER.get(name).fetch(request)` runs unchanged in tests. Miniflare cannot emulate a
 *   dispatch namespace (its binding only proxies to a remote one) and Miniflare 5 no longer offers
 *   user-defined wrapped bindings, so this stand-in is a WorkerEntrypoint reached over RPC (promise
 *   pipelining lets the caller call `.fetch()` on `get()`'s result without awaiting it first).
 *
 * A small host router (`s-<name>.localhost` → site) plays the dispatch Worker for `startUserWorkers`; it
 * grants nothing and checks nothing, so that is for tests only, never a serving path.
 */

import { statSync } from "node:fs";
import { isAbsolute } from "node:path";
import { Log, LogLevel, Miniflare, type MiniflareOptions, type WorkerOptions } from "miniflare";

export type NotFoundHandling = "none" | "single-page-application" | "404-page";
export type HtmlHandling = "auto-trailing-slash" | "drop-trailing-slash" | "force-trailing-slash" | "none";

export interface SiteWorker {
  /** The site's name: its Worker is reached as `env.DISPATCHER.get(name)` and at `s-<name>.<domain>`. */
  readonly name: string;
  /** Absolute path of the folder served as the site's static assets. */
  readonly directory: string;
  readonly notFoundHandling?: NotFoundHandling;
  readonly htmlHandling?: HtmlHandling;
}

export interface UserWorkersOptions {
  readonly sites: readonly SiteWorker[];
  /** Loopback port of the host router; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Also give every site Worker its own loopback port, reachable through `directUrl(name)`. */
  readonly directAccess?: boolean;
  /** Domain under which the router finds sites: `s-<name>.<sitesDomain>`. Default `localhost`. */
  readonly sitesDomain?: string;
  readonly log?: Log;
}

export interface UserWorkers {
  /** Where the host router listens; send requests here with `Host: s-<name>.<sitesDomain>`. */
  readonly url: URL;
  readonly miniflare: Miniflare;
  /** The site Worker's own socket (assets routing included); needs `directAccess: true`. */
  directUrl(name: string): Promise<URL>;
  /** Replaces the set of sites. Miniflare rebuilds the whole workerd config (no merge). */
  setSites(sites: readonly SiteWorker[]): Promise<void>;
  dispose(): Promise<void>;
}

type EnvBinding = NonNullable<WorkerOptions["config"]["env"]>[string];

/** The newest date workerd 1.20261102.1 supports, so assets routing behaves as deployed today. */
export const COMPATIBILITY_DATE = "2026-11-01";
export const NAMESPACE_SHIM_NAME = "dispatch-namespace";
const NAMESPACE_SHIM_EXPORT = "DispatchNamespace";
const HOST_ROUTER_NAME = "host-router";
/** A site name is one DNS label, because it becomes part of the site's host name. */
const SITE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Stand-in for a Workers-for-Platforms dispatch namespace binding. As in production, `get()` of an
 * unknown name does not fail; the later `fetch()` rejects with a message starting `Worker not found`.
 */
const NAMESPACE_SHIM_SOURCE = `
import { RpcTarget, WorkerEntrypoint } from "cloudflare:workers";

class MissingWorker extends RpcTarget {
  constructor(name) { super(); this.name = name; }
  fetch() { throw new Error("Worker not found: " + this.name); }
}

export class ${NAMESPACE_SHIM_EXPORT} extends WorkerEntrypoint {
  get(name) {
    return Object.hasOwn(this.env, "SITE:" + name) ? this.env["SITE:" + name] : new MissingWorker(name);
  }
}

export default {
  fetch() {
    return new Response("dispatch namespace stand-in", { status: 404 });
  },
};
`;

/** Dispatch-Worker stand-in: finds the site by host and forwards the request untouched. */
const HOST_ROUTER_SOURCE = `
export default {
  async fetch(request, env) {
    const host = (request.headers.get("host") ?? "").replace(/:\\d+$/, "").toLowerCase();
    const suffix = "." + env.SITES_DOMAIN;
    if (!host.startsWith("s-") || !host.endsWith(suffix)) return new Response("No site here", { status: 404 });
    const name = host.slice(2, -suffix.length);
    try {
      return await env.DISPATCHER.get(name).fetch(request);
    } catch (error) {
      if (String(error?.message).startsWith("Worker not found")) return new Response("Site not found", { status: 404 });
      throw error;
    }
  },
};
`;

/** What wrangler deploys for an assets-only Worker (templates/no-op-worker.js); never reached here. */
const NO_OP_SOURCE = `export default { fetch() { return new Response("Not found", { status: 404 }); } };`;

export function userWorkerName(site: string): string {
  return `site-${site}`;
}

/** The binding to put in a dispatch Worker's env as `DISPATCHER` (see `namespaceWorkers`). */
export function dispatchNamespaceBinding(): EnvBinding {
  return { type: "worker", worker: NAMESPACE_SHIM_NAME, exportName: NAMESPACE_SHIM_EXPORT };
}

export interface NamespaceOptions {
  /** Also give every site Worker its own loopback socket. */
  readonly directAccess?: boolean;
}

/**
 * The namespace stand-in plus one assets-only Worker per site. Add them after the entry Worker
 * (Miniflare sends its socket's requests to the first Worker) and bind `dispatchNamespaceBinding()`.
 */
export function namespaceWorkers(
  sites: readonly SiteWorker[],
  options: NamespaceOptions = {},
): WorkerOptions[] {
  const seen = new Set<string>();
  for (const site of sites) {
    checkSite(site);
    if (seen.has(site.name)) throw new Error(`Site "${site.name}" is listed twice`);
    seen.add(site.name);
  }
  const shim: WorkerOptions = {
    config: {
      name: NAMESPACE_SHIM_NAME,
      compatibilityDate: COMPATIBILITY_DATE,
      manifest: esModule(NAMESPACE_SHIM_SOURCE),
      env: {
        ...Object.fromEntries(
          sites.map((site) => [`SITE:${site.name}`, { type: "worker", worker: userWorkerName(site.name) }]),
        ),
      },
    },
  };
  return [shim, ...sites.map((site) => assetsOnlyWorker(site, options.directAccess === true))];
}

export async function startUserWorkers(options: UserWorkersOptions): Promise<UserWorkers> {
  const build = (sites: readonly SiteWorker[]): MiniflareOptions => ({
    host: "127.0.0.1",
    port: options.port ?? 0,
    log: options.log ?? new Log(LogLevel.WARN),
    logRequests: false,
    // Never fetch a real `Request.cf` from workers.cloudflare.com: loopback only.
    cf: false,
    enableDevRegistry: false,
    workers: [
      {
        config: {
          name: HOST_ROUTER_NAME,
          compatibilityDate: COMPATIBILITY_DATE,
          manifest: esModule(HOST_ROUTER_SOURCE),
          env: {
            DISPATCHER: dispatchNamespaceBinding(),
            SITES_DOMAIN: { type: "text", value: options.sitesDomain ?? "localhost" },
          },
        },
      },
      ...namespaceWorkers(sites, { directAccess: options.directAccess }),
    ],
  });
  const miniflare = new Miniflare(build(options.sites));
  try {
    const url = await miniflare.ready;
    return {
      url,
      miniflare,
      directUrl: (name) => miniflare.unsafeGetDirectURL(userWorkerName(name)),
      setSites: (sites) => miniflare.setOptions(build(sites)),
      dispose: () => miniflare.dispose(),
    };
  } catch (error) {
    await miniflare.dispose();
    throw error;
  }
}

/**
 * One user Worker alone, with its own loopback socket (`unsafeGetDirectURL(userWorkerName(name))`):
 * the Worker list of a Miniflare instance that runs just this site.
 */
export function userWorkerOptions(site: SiteWorker): WorkerOptions[] {
  checkSite(site);
  return [assetsOnlyWorker(site, true)];
}

function checkSite(site: SiteWorker): void {
  if (!SITE_NAME.test(site.name)) throw new Error(`Site name "${site.name}" is not a lowercase DNS label`);
  // Miniflare resolves a relative folder against the working directory and silently serves an empty
  // temporary folder when it does not exist: a site would look deployed and serve nothing.
  if (!isAbsolute(site.directory) || !statSync(site.directory, { throwIfNoEntry: false })?.isDirectory()) {
    throw new Error(`Site "${site.name}": ${site.directory} is not an absolute path to a folder`);
  }
}

function assetsOnlyWorker(site: SiteWorker, directAccess: boolean): WorkerOptions {
  return {
    config: {
      name: userWorkerName(site.name),
      compatibilityDate: COMPATIBILITY_DATE,
      // Miniflare needs code for every Worker; wrangler gives assets-only Workers this same no-op.
      manifest: esModule(NO_OP_SOURCE),
      assets: {
        directory: site.directory,
        notFoundHandling: site.notFoundHandling,
        htmlHandling: site.htmlHandling,
      },
    },
    // A direct socket of an assets Worker goes through the assets router, like the binding does.
    dev: directAccess ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] } : undefined,
  };
}

function esModule(contents: string): NonNullable<WorkerOptions["config"]["manifest"]> {
  return { mainModule: "worker.js", modules: { "worker.js": { type: "esm", contents } } };
}
