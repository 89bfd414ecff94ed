/**
 * The local edge: the production dispatch Worker (unchanged) in a workerd process of its own, and
 * every user Worker in a workerd process of its own.
 *
 * Why one process per user Worker: Miniflare's `setOptions` rebuilds the whole workerd config and
 * restarts the process (no merge; about 1 s at 20 Workers and growing), so with everything in one
 * workerd every publish paused every site and cost more the more sites ran. Here a publish starts one
 * small workerd (~0.4 s, whatever the number of sites) and nothing that serves another site restarts.
 *
 *   viewer ─► dispatch workerd: namespace-router.worker.js (entry) → dispatch Worker
 *                 │  env.DISPATCHER.get(name).fetch(): a local call, then loopback HTTP (NET)
 *                 ▼
 *             user Worker workerd (one per running site version): Workers Static Assets
 *
 * User Workers start on first use (the router asks Node through LOADER; the request waits, it never
 * sees an error) and the least recently used beyond `maxRunning` are stopped, so a hundred published
 * sites fit in memory. A stop first retires the instance in the router (see namespace-router.worker.js:
 * ports can be reused), then waits STOP_GRACE_MS for responses still streaming, then ends the process.
 */

import { Log, LogLevel, Miniflare, type MiniflareOptions, Response as MiniflareResponse } from "miniflare";
import { ROUTER_SOURCE } from "./namespace-router.ts";
import { COMPATIBILITY_DATE, type SiteWorker, userWorkerName, userWorkerOptions } from "./user-workers.ts";

export interface EdgeOptions {
  /** The dispatch Worker as one ES module (see bundle-worker.ts). */
  readonly dispatchScript: string;
  /** Its vars and secrets: SITES_DOMAIN, DISPATCH_BASE_URL, APP_PID, APP_PSK, EMBED_ANCESTORS, … */
  readonly dispatchVars: Readonly<Record<string, string>>;
  /** Loopback port of the dispatch Worker's socket; 0 picks a free one. */
  readonly port?: number;
  /** How many user Workers run at once; the least recently used beyond it are stopped. */
  readonly maxRunning?: number;
  /** Open workerd's inspector for the dispatch Worker (profiling): see `inspectorUrl()`. */
  readonly inspector?: boolean;
  /**
   * Reads one key of the TENANT_CSP KV namespace (the tenants' allow-lists), which lives with the
   * control Worker that writes it: null when absent; a rejection is a failed read. Unset: the dispatch
   * Worker has no TENANT_CSP binding, as a deployment without the namespace.
   */
  readonly tenantCsp?: (key: string) => Promise<string | null>;
  /** Reads one key of the SITE_FEEDS namespace (monitor feeds and opt-ins), likewise. */
  readonly siteFeeds?: (key: string) => Promise<string | null>;
  readonly log?: Log;
}

export const DEFAULT_MAX_RUNNING = 20;
const DISPATCH_WORKER_NAME = "dispatch";
const CONTROL_ENTRYPOINT = "NamespaceControl";
/**
 * After the router stopped routing to an instance and its requests got their headers, the process
 * lives this long more so that bodies still streaming (up to 25 MiB over loopback) finish.
 */
const STOP_GRACE_MS = 1000;
/** How long a liveness probe of a user Worker the router could not reach may take. */
const PROBE_TIMEOUT_MS = 2000;

interface Started {
  readonly miniflare: Miniflare;
  /** The user Worker's own socket: what the router sends requests to, and what benchmarks compare with. */
  readonly url: URL;
}

/** One run of one user Worker: its own workerd process. */
interface Instance {
  /** Never reused: the router refuses retired ids, so a reused port cannot get this route back. */
  readonly id: number;
  readonly site: SiteWorker;
  readonly startedAt: number;
  readonly ready: Promise<Started>;
}

export class Edge {
  readonly #options: EdgeOptions;
  readonly #gateway: Miniflare;
  readonly #url: URL;
  readonly #control: URL;
  /** Every script the namespace holds, by name. */
  #scripts = new Map<string, SiteWorker>();
  /** The instance serving each name now (starting or running); stopping ones are not here. */
  readonly #instances = new Map<string, Instance>();
  readonly #stopping = new Set<Promise<void>>();
  #nextId = 0;
  #disposed = false;

  private constructor(options: EdgeOptions, gateway: Miniflare, url: URL, control: URL) {
    this.#options = options;
    this.#gateway = gateway;
    this.#url = url;
    this.#control = control;
  }

  static async start(options: EdgeOptions, scripts: readonly SiteWorker[] = []): Promise<Edge> {
    let edge: Edge | undefined;
    const gateway = new Miniflare(
      gatewayOptions(options, async (name, failed) => {
        if (edge === undefined) return new MiniflareResponse(null, { status: 503 });
        return edge.#route(name, failed);
      }),
    );
    try {
      await gateway.ready;
      const url = await gateway.unsafeGetDirectURL(DISPATCH_WORKER_NAME);
      const control = await gateway.unsafeGetDirectURL(DISPATCH_WORKER_NAME, CONTROL_ENTRYPOINT);
      edge = new Edge(options, gateway, url, control);
      edge.#scripts = new Map(scripts.map((script) => [script.name, script]));
      return edge;
    } catch (error) {
      await gateway.dispose();
      throw error;
    }
  }

  /** The dispatch Worker's socket. */
  get url(): URL {
    return this.#url;
  }

  /** Names of the user Workers running (or starting) now. */
  running(): string[] {
    return [...this.#instances.keys()];
  }

  /** The Chrome DevTools protocol endpoint of the dispatch Worker's isolate (needs `inspector: true`). */
  async inspectorUrl(): Promise<URL> {
    return new URL(`/core:user:${DISPATCH_WORKER_NAME}`, await this.#gateway.getInspectorURL());
  }

  /** A running user Worker's own socket (no gateway in front), or undefined when it is not running. */
  async directUrl(name: string): Promise<URL | undefined> {
    try {
      return (await this.#instances.get(name)?.ready)?.url;
    } catch {
      return undefined; // it failed to start
    }
  }

  /**
   * Makes the namespace hold exactly `scripts`. The ones named in `started` (just published: someone
   * is about to open them) run before this resolves; a changed one is served by its new version from
   * then on, and a removed one is no longer routed to.
   */
  async setScripts(scripts: readonly SiteWorker[], started: readonly string[] = []): Promise<void> {
    const next = new Map(scripts.map((script) => [script.name, script]));
    this.#scripts = next;
    const waits: Promise<unknown>[] = [];
    for (const instance of [...this.#instances.values()]) {
      const site = next.get(instance.site.name);
      if (site === undefined) {
        waits.push(this.#stop(instance));
      } else if (!sameSite(site, instance.site)) {
        // The old version serves until the new one answers; then the router switches over.
        const fresh = this.#start(site);
        waits.push(
          fresh.ready.then(
            () => this.#stop(instance),
            async (error: unknown) => {
              await this.#stop(instance);
              throw error;
            },
          ),
        );
      }
    }
    for (const name of started) {
      const site = next.get(name);
      if (site !== undefined) waits.push((this.#instances.get(name) ?? this.#start(site)).ready);
    }
    await Promise.all(waits);
  }

  /** Starts `name` if the namespace holds it and it is stopped; resolves once it serves. */
  async ensureRunning(name: string): Promise<void> {
    const site = this.#scripts.get(name);
    if (site !== undefined) await (this.#instances.get(name) ?? this.#start(site)).ready;
  }

  /** Resolves when every start and stop asked for so far is done. */
  async settled(): Promise<void> {
    await Promise.allSettled([...[...this.#instances.values()].map((i) => i.ready), ...this.#stopping]);
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
    const instances = [...this.#instances.values()];
    this.#instances.clear();
    await Promise.allSettled([
      ...instances.map(async (instance) => (await instance.ready).miniflare.dispose()),
      ...this.#stopping,
    ]);
    await this.#gateway.dispose();
  }

  /** LOADER: where the router should send `name`'s requests; `failed` names an instance it could not reach. */
  async #route(name: string, failed: number | undefined): Promise<MiniflareResponse> {
    if (this.#disposed) return new MiniflareResponse(null, { status: 503 });
    let instance = this.#instances.get(name);
    if (instance !== undefined && instance.id === failed && !(await alive(instance))) {
      // Crashed or killed from outside: replace it.
      void this.#stop(instance, false);
      instance = undefined;
    }
    const site = this.#scripts.get(name);
    if (site === undefined) return new MiniflareResponse(null, { status: 404 });
    instance ??= this.#start(site);
    try {
      const { url } = await instance.ready;
      return MiniflareResponse.json({ origin: url.origin, instance: instance.id });
    } catch (error) {
      this.#options.log?.error(error as Error);
      return new MiniflareResponse(null, { status: 503 });
    }
  }

  #start(site: SiteWorker): Instance {
    const id = ++this.#nextId;
    const ready = (async () => {
      // Room first (the stops run on in the background), so memory stays within maxRunning.
      await this.#makeRoom(id).catch((error: unknown) => this.#options.log?.error(error as Error));
      return this.#launch(site);
    })();
    const instance: Instance = { id, site, startedAt: Date.now(), ready };
    this.#instances.set(site.name, instance);
    instance.ready.catch(() => {
      if (this.#instances.get(site.name) === instance) this.#instances.delete(site.name);
    });
    return instance;
  }

  async #launch(site: SiteWorker): Promise<Started> {
    const miniflare = new Miniflare({
      host: "127.0.0.1",
      port: 0,
      log: this.#options.log ?? new Log(LogLevel.WARN),
      logRequests: false,
      // Never fetch a real `Request.cf` from workers.cloudflare.com: loopback only.
      cf: false,
      enableDevRegistry: false,
      workers: userWorkerOptions(site),
    });
    try {
      await miniflare.ready;
      return { miniflare, url: await miniflare.unsafeGetDirectURL(userWorkerName(site.name)) };
    } catch (error) {
      await miniflare.dispose().catch(() => {});
      throw error;
    }
  }

  /** Stops the least recently used user Workers beyond `maxRunning`, never the one being started. */
  async #makeRoom(starting: number): Promise<void> {
    const max = this.#options.maxRunning ?? DEFAULT_MAX_RUNNING;
    const othersNow = () => [...this.#instances.values()].filter((i) => i.id !== starting);
    if (othersNow().length < max) return;
    const usage = await this.#usage();
    // Without the router's recency every running site looks idle: better over the cap a moment than
    // stopping the one someone is using.
    if (usage === undefined) return;
    const recency = (i: Instance) => Math.max(usage[i.site.name] ?? 0, i.startedAt);
    const others = othersNow();
    const byAge = others.sort((a, b) => recency(a) - recency(b));
    for (const instance of byAge.slice(0, Math.max(0, others.length + 1 - max))) void this.#stop(instance);
  }

  /** When the router last sent each user Worker a request; undefined if it cannot say. */
  async #usage(): Promise<Record<string, number> | undefined> {
    try {
      return (await (await fetch(new URL("/usage", this.#control))).json()) as Record<string, number>;
    } catch {
      return undefined;
    }
  }

  /**
   * Takes `instance` out of service. Resolves once the router no longer sends it anything (so a
   * removed script is unreachable when `setScripts` resolves); the process ends a little later.
   */
  #stop(instance: Instance, graceful = true): Promise<void> {
    if (this.#instances.get(instance.site.name) === instance) this.#instances.delete(instance.site.name);
    const retired = this.#retire(instance.id);
    const done = (async () => {
      await retired;
      if (graceful) await new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS));
      const started = await instance.ready.catch(() => undefined);
      await started?.miniflare.dispose();
    })().catch((error: unknown) => this.#options.log?.error(error as Error));
    this.#stopping.add(done);
    void done.finally(() => this.#stopping.delete(done));
    return retired;
  }

  async #retire(id: number): Promise<void> {
    if (this.#disposed) return;
    const answer = await fetch(new URL(`/retire?instance=${id}`, this.#control), { method: "POST" });
    if (answer.status !== 204)
      throw new Error(`the router refused to retire instance ${id}: ${answer.status}`);
  }
}

function sameSite(a: SiteWorker, b: SiteWorker): boolean {
  return (
    a.directory === b.directory &&
    a.notFoundHandling === b.notFoundHandling &&
    a.htmlHandling === b.htmlHandling
  );
}

async function alive(instance: Instance): Promise<boolean> {
  try {
    const { url } = await instance.ready;
    const answer = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await answer.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

/**
 * The router's TENANT_CSP and SITE_FEEDS (namespace-router.worker.js) ask here for one key: 200 with
 * the value, 404 when there is none, 503 when the read failed — which the router turns back into a KV
 * binding's answers (text, null, a thrown error).
 */
function kvReader(read: (key: string) => Promise<string | null>) {
  return {
    type: "fetcher" as const,
    handler: async (request: { readonly url: string }) => {
      const key = new URL(request.url).searchParams.get("key") ?? "";
      try {
        const value = await read(key);
        return value === null
          ? new MiniflareResponse(null, { status: 404 })
          : new MiniflareResponse(value, { status: 200 });
      } catch {
        return new MiniflareResponse(null, { status: 503 });
      }
    },
  };
}

function gatewayOptions(
  options: EdgeOptions,
  route: (name: string, failed: number | undefined) => Promise<MiniflareResponse>,
): MiniflareOptions {
  const vars = Object.entries(options.dispatchVars).map(([key, value]) => [
    key,
    { type: "text" as const, value },
  ]);
  return {
    host: "127.0.0.1",
    // Miniflare's own entry socket adds its entry Worker in front; the dispatch Worker gets a socket
    // of its own below, as on Cloudflare where nothing stands between the viewer and it.
    port: 0,
    ...(options.inspector ? { inspectorPort: 0 } : {}),
    log: options.log ?? new Log(LogLevel.WARN),
    logRequests: false,
    // Never fetch a real `Request.cf` from workers.cloudflare.com: loopback only.
    cf: false,
    enableDevRegistry: false,
    workers: [
      {
        config: {
          name: DISPATCH_WORKER_NAME,
          compatibilityDate: COMPATIBILITY_DATE,
          manifest: {
            mainModule: "namespace-router.js",
            modules: {
              "namespace-router.js": { type: "esm", contents: ROUTER_SOURCE },
              "dispatch.js": { type: "esm", contents: options.dispatchScript },
            },
          },
          env: {
            ...Object.fromEntries(vars),
            // User Workers listen on loopback; the router may reach nothing else.
            NET: { type: "network", allow: ["local"] },
            LOADER: {
              type: "fetcher",
              handler: (request) => {
                const query = new URL(request.url).searchParams;
                const failed = query.get("failed");
                return route(query.get("name") ?? "", failed === null ? undefined : Number(failed));
              },
            },
            ...(options.tenantCsp === undefined ? {} : { TENANT_CSP_READER: kvReader(options.tenantCsp) }),
            ...(options.siteFeeds === undefined ? {} : { SITE_FEEDS_READER: kvReader(options.siteFeeds) }),
          },
        },
        dev: {
          unsafeDirectSockets: [
            { host: "127.0.0.1", port: options.port ?? 0 },
            { host: "127.0.0.1", port: 0, entrypoint: CONTROL_ENTRYPOINT },
          ],
        },
      },
    ],
  };
}
