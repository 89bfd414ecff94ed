import { Miniflare } from "miniflare";
import { COMPATIBILITY_DATE } from "./user-workers.ts";

export interface SingleWorkerOptions {
  /** The Worker's bundled ES module source (see bundleWorker). */
  readonly script: string;
  /** Text bindings (`env.NAME` strings). */
  readonly bindings?: Readonly<Record<string, string>>;
  /** The Worker's name; "worker" unless told. */
  readonly name?: string;
  /** Defaults to the dev stack's COMPATIBILITY_DATE. */
  readonly compatibilityDate?: string;
}

export interface SingleWorker {
  /** Where the Worker listens on loopback. */
  readonly url: URL;
  readonly dispatchFetch: Miniflare["dispatchFetch"];
  dispose(): Promise<void>;
}

/**
 * One Worker alone in its own Miniflare, on a free loopback port, with no dev registry and no request
 * log: how the tests and benchmarks run a piece of code inside workerd.
 */
export async function startSingleWorker(options: SingleWorkerOptions): Promise<SingleWorker> {
  const env = Object.fromEntries(
    Object.entries(options.bindings ?? {}).map(([name, value]) => [name, { type: "text" as const, value }]),
  );
  const mf = new Miniflare({
    port: 0,
    logRequests: false,
    cf: false,
    enableDevRegistry: false,
    workers: [
      {
        config: {
          name: options.name ?? "worker",
          compatibilityDate: options.compatibilityDate ?? COMPATIBILITY_DATE,
          ...(Object.keys(env).length === 0 ? {} : { env }),
          manifest: {
            mainModule: "worker.js",
            modules: { "worker.js": { type: "esm", contents: options.script } },
          },
        },
      },
    ],
  });
  let url: URL;
  try {
    url = await mf.ready;
  } catch (error) {
    await mf.dispose();
    throw error;
  }
  return {
    url,
    dispatchFetch: mf.dispatchFetch.bind(mf),
    dispose: () => mf.dispose(),
  };
}
