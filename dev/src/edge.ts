/**
 * The local edge: ONE Miniflare instance holding the production dispatch Worker (unchanged), the
 * dispatch-namespace stand-in, and the user Workers that are running. One workerd process, as on
 * Cloudflare's edge, so the gateway-vs-direct benchmark compares like with like.
 *
 * A hundred published sites would be a hundred Workers (~12 MiB each) and every `setOptions` rebuilds
 * the whole workerd config, so only the `maxRunning` most recently used user Workers run. A request for
 * a stopped one reaches the stand-in's loader, which starts it (a rebuild) and answers 503 with
 * `COLD_HEADER`; the front door (front.ts) waits for the rebuild and replays the request, so a browser
 * only sees a slower first load.
 */

import { Log, LogLevel, Miniflare, type MiniflareOptions, type WorkerOptions } from "miniflare";
import {
  COMPATIBILITY_DATE,
  dispatchNamespaceBinding,
  NAMESPACE_SHIM_NAME,
  namespaceWorkers,
  type SiteWorker,
} from "./user-workers.ts";

export interface EdgeOptions {
  /** The dispatch Worker as one ES module (see bundle-worker.ts). */
  readonly dispatchScript: string;
  /** Its vars and secrets: SITES_DOMAIN, DISPATCH_BASE_URL, APP_PID, APP_PSK, EMBED_ANCESTORS, … */
  readonly dispatchVars: Readonly<Record<string, string>>;
  /** Loopback port of the dispatch Worker's socket; 0 picks a free one. */
  readonly port?: number;
  /** How many user Workers run at once; the least recently used beyond it are stopped. */
  readonly maxRunning?: number;
  /** Give every running user Worker its own socket too (benchmarks compare against it). */
  readonly directAccess?: boolean;
  readonly log?: Log;
}

export const DEFAULT_MAX_RUNNING = 20;
const DISPATCH_WORKER_NAME = "dispatch";

export class Edge {
  readonly #options: EdgeOptions;
  readonly #miniflare: Miniflare;
  /** Every script the namespace holds, by name. */
  #scripts = new Map<string, SiteWorker>();
  /** Running user Workers, with when each was last used (ms). */
  #running = new Map<string, number>();
  /** Rebuilds run one at a time, in order. */
  #queue: Promise<void> = Promise.resolve();
  /**
   * The wanted state changed since the last rebuild began. State changes apply at once and only ask
   * for a rebuild; queued rebuilds that find nothing new skip, so a burst of publishes (or of cold
   * starts) costs one or two workerd restarts, not one each.
   */
  #dirty = false;
  #url: URL;

  private constructor(options: EdgeOptions, miniflare: Miniflare, url: URL) {
    this.#options = options;
    this.#miniflare = miniflare;
    this.#url = url;
  }

  static async start(options: EdgeOptions, scripts: readonly SiteWorker[] = []): Promise<Edge> {
    const max = options.maxRunning ?? DEFAULT_MAX_RUNNING;
    const running = scripts.slice(-max);
    let edge: Edge | undefined;
    const miniflare = new Miniflare(
      buildOptions(options, running, (name) => (edge ? edge.#startStopped(name) : Promise.resolve(false))),
    );
    try {
      const url = await miniflare.ready;
      edge = new Edge(options, miniflare, url);
      for (const script of scripts) edge.#scripts.set(script.name, script);
      for (const script of running) edge.#running.set(script.name, 0);
      return edge;
    } catch (error) {
      await miniflare.dispose();
      throw error;
    }
  }

  /** The dispatch Worker's socket. Stable across rebuilds. */
  get url(): URL {
    return this.#url;
  }

  get miniflare(): Miniflare {
    return this.#miniflare;
  }

  /** Names of the user Workers running now. */
  running(): string[] {
    return [...this.#running.keys()];
  }

  /**
   * Makes the namespace hold exactly `scripts`. The ones named in `started` (just published: someone
   * is about to open them) run at once; removed ones stop.
   */
  setScripts(scripts: readonly SiteWorker[], started: readonly string[] = []): Promise<void> {
    this.#scripts = new Map(scripts.map((s) => [s.name, s]));
    for (const name of this.#running.keys()) if (!this.#scripts.has(name)) this.#running.delete(name);
    for (const name of started) if (this.#scripts.has(name)) this.#running.set(name, Date.now());
    return this.#requestRebuild();
  }

  /** Starts `name` if the namespace holds it and it is stopped; resolves once it serves. */
  ensureRunning(name: string): Promise<void> {
    if (this.#scripts.has(name) && !this.#running.has(name)) {
      this.#running.set(name, Date.now());
      return this.#requestRebuild();
    }
    return this.settled();
  }

  /** Resolves when every rebuild asked for so far is done. */
  settled(): Promise<void> {
    return this.#enqueue(async () => {});
  }

  async dispose(): Promise<void> {
    await this.settled();
    await this.#miniflare.dispose();
  }

  #startStopped(name: string): Promise<boolean> {
    if (!this.#scripts.has(name)) return Promise.resolve(false);
    // Not awaited: the rebuild restarts the workerd that is waiting for this answer.
    void this.ensureRunning(name).catch((error: unknown) => this.#options.log?.error(error as Error));
    return Promise.resolve(true);
  }

  #requestRebuild(): Promise<void> {
    this.#dirty = true;
    return this.#enqueue(async () => {
      if (!this.#dirty) return;
      this.#dirty = false;
      await this.#rebuild();
    });
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(task);
    this.#queue = next.catch(() => {});
    return next;
  }

  async #rebuild(): Promise<void> {
    await this.#recordUsage();
    const max = this.#options.maxRunning ?? DEFAULT_MAX_RUNNING;
    const byRecency = [...this.#running].sort((a, b) => b[1] - a[1]);
    this.#running = new Map(byRecency.slice(0, max));
    const sites = [...this.#running.keys()].flatMap((name) => this.#scripts.get(name) ?? []);
    await this.#miniflare.setOptions(
      buildOptions(this.#options, sites, (name) => this.#startStopped(name), this.#url.port),
    );
  }

  /** Asks the stand-in which user Workers were used since the last rebuild (it forgets on restart). */
  async #recordUsage(): Promise<void> {
    try {
      const shim = await this.#miniflare.getWorker(NAMESPACE_SHIM_NAME);
      const usage = (await (await shim.fetch("http://stand-in/usage")).json()) as Record<string, number>;
      for (const [name, at] of Object.entries(usage)) {
        if (this.#running.has(name)) this.#running.set(name, Math.max(at, this.#running.get(name) ?? 0));
      }
    } catch {
      // A stand-in that cannot answer costs only recency information.
    }
  }
}

function buildOptions(
  options: EdgeOptions,
  sites: readonly SiteWorker[],
  startStopped: (name: string) => Promise<boolean>,
  port: string | number | undefined = options.port,
): MiniflareOptions {
  const dispatch: WorkerOptions = {
    config: {
      name: DISPATCH_WORKER_NAME,
      compatibilityDate: COMPATIBILITY_DATE,
      manifest: {
        mainModule: "dispatch.js",
        modules: { "dispatch.js": { type: "esm", contents: options.dispatchScript } },
      },
      env: {
        ...Object.fromEntries(
          Object.entries(options.dispatchVars).map(([key, value]) => [key, { type: "text", value }]),
        ),
        DISPATCHER: dispatchNamespaceBinding(),
      },
    },
  };
  return {
    host: "127.0.0.1",
    port: Number(port ?? 0),
    log: options.log ?? new Log(LogLevel.WARN),
    logRequests: false,
    // Never fetch a real `Request.cf` from workers.cloudflare.com: loopback only.
    cf: false,
    enableDevRegistry: false,
    workers: [dispatch, ...namespaceWorkers(sites, { directAccess: options.directAccess, startStopped })],
  };
}
