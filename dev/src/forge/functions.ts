/**
 * The app's own Forge functions, run in Node as Forge runs them (DESIGN §7): forge-app/src bundled to
 * CommonJS with its dependencies (what Forge's bundler does — and why the package must not be
 * `"type": "module"`), loaded once, and called by the handler the manifest names, with the platform
 * reached through the one hook Forge's SDKs use, `globalThis.__forge_fetch__(descriptor, path, init)`:
 *   - `{type:'kvs'}`            → this installation's local KVS (kvs.ts);
 *   - `{type:'frc', remote}`    → `invokeRemote` from a function: the remote's base URL with a FIT that
 *                                 names the installation and carries no user and no context (DESIGN §8),
 *                                 signed by the local JWKS the control Worker trusts;
 *   - `{type:'fpp', remote:'stargate'}` POST `/graphql` `createWebTriggerUrl` → `webTrigger.getUrl`:
 *                                 this host's URL for the installation's web trigger (webTriggerUrl),
 *                                 which the local Confluence serves by running the trigger's function;
 *   - anything else             → 501 with Forge's `forge-proxy-error` header, so the SDK throws a
 *                                 typed error instead of the app silently getting nothing.
 * Each invocation runs inside an AsyncLocalStorage scope that says which installation it serves, so
 * concurrent invocations of different tenants never share a KVS or a token; `__forge_runtime__` (what
 * `@forge/api` reads the app and context ids from) answers for that invocation too.
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { build } from "esbuild";
import { FORGE_APP_DIR, type ForgeManifest, handlerOf, moduleByKey } from "./app.ts";
import { signFit } from "./fit.ts";
import { type ForgeInstallation, fitClaimsFor } from "./installation.ts";
import { LocalKvs } from "./kvs.ts";
import type { FitSigner } from "./signer.ts";

export type { ForgeInstallation } from "./installation.ts";

type ForgeFetch = (
  descriptor: { type: string; remote?: string },
  path: string,
  init?: RequestInit,
) => Promise<Response>;

interface Invocation {
  readonly installation: ForgeInstallation;
  readonly functionKey: string;
}

const invocations = new AsyncLocalStorage<Invocation>();

export interface ForgeFunctionsOptions {
  readonly manifest: ForgeManifest;
  readonly signer: FitSigner;
  /** Where each installation's KVS file is kept. */
  readonly dataDir: string;
  /** Forge gives a trigger function 55 s at most; the stand-in ends a call that runs longer. */
  readonly timeoutMs?: number;
  /** The functions' source (`handler: index.<name>` names its exports); defaults to forge-app/src/index.ts. */
  readonly entry?: string;
}

/** Where an installation's web trigger answers: `<base>/x1/<installationId>/<triggerKey>`. */
export function webTriggerPath(installationId: string, triggerKey: string): string {
  return `/x1/${encodeURIComponent(installationId)}/${encodeURIComponent(triggerKey)}`;
}

export interface InvocationRecord {
  readonly functionKey: string;
  readonly installationId: string;
  readonly ok: boolean;
  readonly error?: string;
  readonly at: number;
}

export class ForgeFunctions {
  private readonly kvsByInstallation = new Map<string, LocalKvs>();
  /** Every invocation and its outcome, newest last (the host page's event log and tests read it). */
  readonly log: InvocationRecord[] = [];

  private readonly options: ForgeFunctionsOptions;
  private readonly exports: Record<string, unknown>;
  /** The host serving web triggers (local Confluence), set once it listens. */
  webTriggerBaseUrl: string | undefined;

  private constructor(options: ForgeFunctionsOptions, exports: Record<string, unknown>) {
    this.options = options;
    this.exports = exports;
  }

  static async load(options: ForgeFunctionsOptions): Promise<ForgeFunctions> {
    const entry = options.entry ?? join(FORGE_APP_DIR, "src/index.ts");
    const bundled = await build({
      entryPoints: [entry],
      bundle: true,
      platform: "node",
      format: "cjs",
      target: "node22",
      write: false,
      logLevel: "silent",
    });
    const code = bundled.outputFiles[0]?.text ?? "";
    const module = { exports: {} as Record<string, unknown> };
    const filename = entry.replace(/\.[cm]?tsx?$/, ".js");
    const require = createRequire(filename);
    // The CommonJS wrapper Node itself uses; the bundle needs nothing but Node's built-ins.
    new Function("exports", "require", "module", "__filename", "__dirname", code)(
      module.exports,
      require,
      module,
      filename,
      dirname(filename),
    );
    installForgeFetch();
    return new ForgeFunctions(options, module.exports);
  }

  kvsOf(installation: ForgeInstallation): LocalKvs {
    let kvs = this.kvsByInstallation.get(installation.installationId);
    if (kvs === undefined) {
      kvs = new LocalKvs(join(this.options.dataDir, "forge", "kvs", `${installation.installationId}.json`));
      this.kvsByInstallation.set(installation.installationId, kvs);
    }
    return kvs;
  }

  /** Calls the function module `functionKey` the way Forge does: `handler(payload, context)`. */
  async invoke(
    installation: ForgeInstallation,
    functionKey: string,
    payload: unknown,
    context: unknown = {},
  ) {
    const at = Date.now();
    const timeoutMs = this.options.timeoutMs ?? 55_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      const name = handlerOf(this.options.manifest, functionKey);
      const handler = name === undefined ? undefined : this.exports[name];
      if (typeof handler !== "function")
        throw new Error(`manifest.yml names no function "${functionKey}" with an exported handler`);
      const invocation: Invocation = { installation, functionKey };
      owners.set(invocation, this);
      const result = await invocations.run(invocation, () =>
        Promise.race([
          Promise.resolve(handler(payload, context)),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`${functionKey} ran past ${timeoutMs} ms`)), timeoutMs);
          }),
        ]),
      );
      this.log.push({ functionKey, installationId: installation.installationId, ok: true, at });
      return result;
    } catch (error) {
      this.log.push({
        functionKey,
        installationId: installation.installationId,
        ok: false,
        error: (error as Error).message,
        at,
      });
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The platform side of `__forge_fetch__` for the invocation in progress. */
  async platformFetch(
    invocation: Invocation,
    descriptor: { type: string; remote?: string },
    path: string,
    init: RequestInit = {},
  ) {
    if (descriptor.type === "kvs") {
      const body = typeof init.body === "string" ? JSON.parse(init.body) : undefined;
      return this.kvsOf(invocation.installation).handle(path, body);
    }
    if (descriptor.type === "frc" && descriptor.remote !== undefined) {
      const remote = this.options.manifest.remotes?.find((r) => r.key === descriptor.remote);
      if (remote === undefined || !(remote.operations ?? []).includes("compute"))
        return proxyError(400, "INVALID_REMOTE");
      // A function's invokeRemote: the installation, no user, no page (DESIGN §8).
      const fit = await signFit(
        this.options.signer,
        fitClaimsFor(invocation.installation, { context: null }),
      );
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${fit}`);
      return fetch(remote.baseUrl.replace(/\/+$/, "") + path, { ...init, headers, redirect: "manual" });
    }
    if (descriptor.type === "fpp" && descriptor.remote === "stargate" && path === "/graphql")
      return this.graphql(invocation, typeof init.body === "string" ? init.body : "");
    return proxyError(501, "NOT_AVAILABLE_LOCALLY");
  }

  /** The one GraphQL operation the app uses: `webTrigger.getUrl` (createWebTriggerUrl). */
  private graphql(invocation: Invocation, body: string): Response {
    const request = JSON.parse(body || "{}") as {
      query?: string;
      variables?: { input?: { triggerKey?: string } };
    };
    const triggerKey = request.variables?.input?.triggerKey;
    if (!String(request.query).includes("createWebTriggerUrl") || triggerKey === undefined)
      return proxyError(501, "NOT_AVAILABLE_LOCALLY");
    if (moduleByKey(this.options.manifest, "webtrigger", triggerKey) === undefined)
      return Response.json({ errors: [{ message: `no webtrigger module ${triggerKey}` }] }, { status: 200 });
    if (this.webTriggerBaseUrl === undefined) return proxyError(503, "WEBTRIGGER_HOST_NOT_RUNNING");
    const url = this.webTriggerBaseUrl + webTriggerPath(invocation.installation.installationId, triggerKey);
    return Response.json({ data: { createWebTriggerUrl: { url } } });
  }
}

function proxyError(status: number, reason: string): Response {
  return new Response(JSON.stringify({ message: reason }), {
    status,
    headers: { "content-type": "application/json", "forge-proxy-error": reason },
  });
}

const NO_METRICS = {
  counter: () => ({ incr: () => undefined }),
  timing: () => ({ measure: () => ({ stop: () => undefined }) }),
};

/** Which ForgeFunctions owns the invocation in progress (several stacks may run in one test process). */
const owners = new WeakMap<Invocation, ForgeFunctions>();
let installed = false;

function installForgeFetch(): void {
  if (installed) return;
  installed = true;
  const forgeFetch: ForgeFetch = async (descriptor, path, init) => {
    const invocation = invocations.getStore();
    const owner = invocation === undefined ? undefined : owners.get(invocation);
    if (invocation === undefined || owner === undefined)
      throw new Error("__forge_fetch__ called outside a Forge function invocation");
    return owner.platformFetch(invocation, descriptor, path, init);
  };
  (globalThis as { __forge_fetch__?: ForgeFetch }).__forge_fetch__ = forgeFetch;
  // What @forge/api reads the app, environment and context ids from, for the invocation in progress.
  Object.defineProperty(globalThis, "__forge_runtime__", {
    configurable: true,
    get() {
      const invocation = invocations.getStore();
      if (invocation === undefined) return undefined;
      const { installation } = invocation;
      return {
        appContext: {
          appId: installation.appId,
          environmentId: "local",
          environmentType: "DEVELOPMENT",
          installationId: installation.installationId,
          moduleKey: invocation.functionKey,
        },
        contextAri: `ari:cloud:confluence::site/${installation.cloudId}`,
        lambdaContext: {},
        // @forge/api counts and times its calls; nothing here reads the figures.
        metrics: NO_METRICS,
      };
    },
  });
}
