/**
 * The whole system on one machine (DESIGN §7). Ports, from the base port P:
 *   P     the dispatch Worker's own workerd socket (every `s-<site>.localhost:P`, `g-<grant>.localhost:P`,
 *         and the gateway's own host `localhost:P`); also `edgeUrl`
 *   P+1   Cloudflare API stand-in (`cloudflareApiUrl`): provisioning lands here, exactly as on Cloudflare
 *   P+2   not used (each user Worker listens on a free loopback port of its own)
 *   P+3   dev console: mints view URLs for any user Worker (e.g. one deployed by hand with wrangler)
 *   P+4   the control Worker (`controlUrl`): the API, publish pipeline and Workflows
 *   P+5   Confluence stand-in (`confluenceUrl`): the REST endpoints the control Worker calls
 *   P+6   Forge JWKS stand-in: the key set FITs are verified against
 *   P+7   local Confluence (`localConfluence.url`): pages hosting the app's real Custom UI, the
 *         Forge host side of the bridge, `acme.localhost:P+7` and `globex.localhost:P+7` (two tenants)
 *   P+8   the app's Custom UI "CDN": the built resources on an origin of their own
 *   P+9   the monitors' demo service (`demoService.url`, GET /health), which can be stopped and started
 *   P+10  its switch (`demoService.controlUrl`: POST /up, POST /down)
 *   P+11  the local DNS-over-HTTPS resolver the control Worker asks about every monitor host name
 *         (`dnsResolverUrl`; MONITOR_DNS_URL): loopback for `*.localhost`, NXDOMAIN for the rest
 * With base port 0 every service takes a free port (tests).
 *
 * Everything is kept under the data folder: uploaded assets and scripts (so sites published before a
 * restart are served after it), and the dev identity and tokens (so grants and `dev.json` stay valid).
 */

import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Log, LogLevel } from "miniflare";
import { bundleWorker, DISPATCH_ENTRY } from "./bundle-worker.ts";
import type { CloudflareApi, NamespaceScript } from "./cloudflare-api/index.ts";
import { startCloudflareApi } from "./cloudflare-api/index.ts";
import type { LocalConfluence } from "./confluence/host.ts";
import {
  SAMPLE_ACCOUNT_IDS,
  SAMPLE_ADMINS,
  type SampleUser,
  startConfluenceStandIn,
} from "./confluence/index.ts";
import { LOCAL_CONFLUENCE_INCLUDED, startLocalConfluenceStack } from "./confluence/start.ts";
import { type DevConsole, startDevConsole } from "./console.ts";
import { type Control, startControl } from "./control.ts";
import { type DohStandIn, startDohStandIn } from "./dns/doh-standin.ts";
import { Edge } from "./edge.ts";
import { DEV_FORGE_INSTALLATION, loadOrCreateFitSigner, startForgeJwksServer } from "./forge/index.ts";
import { type DemoService, startDemoService } from "./monitors/demo-service.ts";
import type { SiteWorker } from "./user-workers.ts";

export interface DevStackOptions {
  /** Folder for everything the stack keeps. */
  readonly dataDir: string;
  /** Base port; the services use the next few (see above). 0: free ports everywhere. */
  readonly port?: number;
  /** Lifetime of the grants the dev console mints. */
  readonly grantTtlSeconds?: number;
  /** User Workers running at once (the least recently used beyond it are stopped). */
  readonly maxRunning?: number;
  readonly log?: Log;
  /** How often the control Worker's monitor cron runs (ms; default every 5 s, Cloudflare: every minute). */
  readonly monitorCronMs?: number;
  /**
   * Seconds the gateway keeps a tenant's CSP allow-lists (TENANT_CSP_CACHE_SECONDS; default 30). 0
   * reads them on every site request, so a test sees a saved change on the next request.
   */
  readonly tenantCspCacheSeconds?: number;
  /**
   * Start the local Confluence and the Forge host with the app's Custom UI (default: when this build
   * has them — a checkout of the repository does, the packed CLI does not).
   */
  readonly localConfluence?: boolean;
}

/** `dev.json`: the stable contract between the dev stack and the tools and tests that use it. */
export interface DevInfo {
  readonly dispatchUrl: string;
  readonly sitesDomain: string;
  readonly cloudflareApiUrl: string;
  readonly accountId: string;
  readonly namespace: string;
  readonly cloudflareApiToken: string;
  readonly consoleUrl: string;
  readonly edgeUrl: string;
  readonly controlUrl: string;
  /** An API token (all scopes) for the dev Forge installation's tenant. */
  readonly apiToken: string;
  /** CONTROL_SHARED_SECRET of the dev control Worker (CI / smoke only). */
  readonly sharedSecret: string;
  readonly confluenceUrl: string;
  readonly forgeJwksUrl: string;
  readonly forgeAppId: string;
  /**
   * The dev Forge installation — a FIT for it (signed by the stand-in's key, or by a tester's own key
   * set given in FORGE_JWKS_URL / ALLOWED_FORGE_APP_IDS) acts for the dev tenant.
   */
  readonly forgeInstallation: {
    readonly appId: string;
    readonly cloudId: string;
    readonly installationId: string;
  };
  /**
   * The Confluence stand-in's sample users: their account id (a FIT's `principal`), their Confluence
   * token (what Forge sends as `x-forge-oauth-user`), and whether Confluence calls them an administrator.
   */
  readonly users: Readonly<
    Record<string, { readonly accountId: string; readonly confluenceToken: string; readonly admin: boolean }>
  >;
  readonly grantTtlSeconds: number;
  readonly dataDir: string;
  /**
   * The monitors' demo service on loopback, watched by the demo monitor "Demo service" of the dev
   * tenant: `healthUrl` is what it checks; POST `<controlUrl>/down` stops it, `/up` starts it again.
   */
  readonly demoService: { readonly healthUrl: string; readonly controlUrl: string };
  /** The DNS-over-HTTPS endpoint monitor host names are resolved through (the control Worker's MONITOR_DNS_URL). */
  readonly dnsResolverUrl: string;
  /** The local Confluence hosting the app (absent when started without it). */
  readonly localConfluence?: {
    /** Landing page; each site is at `sites[key]` (`http://<key>.localhost:<port>`). */
    readonly url: string;
    readonly sites: Readonly<
      Record<string, { readonly url: string; readonly cloudId: string; readonly installationId: string }>
    >;
    /** The Custom UI's own origin (the gateway's EMBED_ORIGIN). */
    readonly customUiOrigin: string;
    /**
     * Dev only: POST {site, user?, pageId?, localId?, moduleKey?, license?, environment?} → a FIT with
     * those claims (and the user's Confluence token). docs/local-confluence.md describes it.
     */
    readonly fitEndpoint: string;
  };
}

export interface DevStack {
  readonly info: DevInfo;
  readonly edge: Edge;
  readonly cloudflareApi: CloudflareApi;
  readonly control: Control;
  readonly demoService: DemoService;
  /** The local resolver's zone: tests make names answer private addresses (and change them: rebinding). */
  readonly dns: DohStandIn;
  /** The local Confluence and Forge host (absent when started without it). */
  readonly localConfluence?: LocalConfluence;
  close(): Promise<void>;
}

interface DevSecrets {
  readonly appPsk: string;
  readonly cloudflareApiToken: string;
  readonly accountId: string;
  readonly sharedSecret: string;
  readonly apiTokenSeed: string;
}

/** The dev tenant's demo monitor (demo data): it watches the demo service. */
export const DEMO_MONITOR_NAME = "Demo service";

/**
 * Adds the demo monitor through the control API as any client would (so it passes the SSRF guard,
 * with loopback allowed in dev), or points the existing one at this run's demo service.
 */
async function ensureDemoMonitor(control: Control, healthUrl: string): Promise<void> {
  const api = (path: string, init: RequestInit = {}) =>
    fetch(new URL(path, control.url), {
      ...init,
      headers: { authorization: `Bearer ${control.apiToken}`, "content-type": "application/json" },
    });
  const listed = (await (await api("/v1/monitors")).json()) as {
    monitors: { id: string; name: string; url: string }[];
  };
  const existing = listed.monitors.find((m) => m.name === DEMO_MONITOR_NAME);
  if (existing?.url === healthUrl) return;
  if (existing !== undefined) await api(`/v1/monitors/${existing.id}`, { method: "DELETE" });
  const created = await api("/v1/monitors", {
    method: "POST",
    body: JSON.stringify({ name: DEMO_MONITOR_NAME, url: healthUrl, intervalSeconds: 60, timeoutSeconds: 5 }),
  });
  if (created.status !== 201) throw new Error(`demo monitor: ${created.status} ${await created.text()}`);
}

export const DEFAULT_PORT = 8787;
export const DEV_APP_PID = "mini-sites-dev";
export const DEV_NAMESPACE = "mini-sites-dev";
const SITES_DOMAIN = "localhost";

export async function startDevStack(options: DevStackOptions): Promise<DevStack> {
  const base = options.port ?? DEFAULT_PORT;
  const portAt = (offset: number) => (base === 0 ? 0 : base + offset);
  const log = options.log ?? new Log(LogLevel.WARN);
  await mkdir(options.dataDir, { recursive: true });
  const secrets = await loadSecrets(options.dataDir);
  const grantTtlSeconds = options.grantTtlSeconds ?? 600;

  const opened: { close(): Promise<void> }[] = [];
  const closeAll = async () => {
    for (const service of opened.reverse()) await service.close().catch(() => {});
  };
  try {
    // The stand-in reports the namespace's scripts once at start and after every change; the edge
    // only exists once the stand-in has told us what to run, so early reports wait here.
    let edge: Edge | undefined;
    let known = new Map<string, string>();
    let initial: readonly NamespaceScript[] = [];
    const cloudflareApi = await startCloudflareApi({
      dataDir: join(options.dataDir, "cloudflare"),
      accountId: secrets.accountId,
      namespace: DEV_NAMESPACE,
      apiToken: secrets.cloudflareApiToken,
      port: portAt(1),
      log: (line) => log.warn(line),
      onScriptsChanged: async (scripts) => {
        const changed = scripts.filter((s) => known.get(s.name) !== s.versionId).map((s) => s.name);
        known = new Map(scripts.map((s) => [s.name, s.versionId]));
        if (edge === undefined) initial = scripts;
        else await edge.setScripts(scripts.map(siteWorkerOf), changed);
      },
    });
    opened.push(cloudflareApi);

    const gatewayPort = portAt(0);
    const dispatchVars = {
      SITES_DOMAIN,
      // Filled in below once the gateway's port is known (it is the gateway's own host).
      DISPATCH_BASE_URL: "",
      APP_PID: DEV_APP_PID,
      APP_PSK: secrets.appPsk,
      // Local embedders: the Confluence/Forge stand-in (`<site>.localhost`) and test pages on loopback.
      EMBED_ANCESTORS: "http://localhost:* http://127.0.0.1:* http://*.localhost:*",
      // The Custom UI's origin (the local CDN, port reserved below): the view that takes heights,
      // links and renewals from the gateway's script.
      EMBED_ORIGIN: "",
      ...(options.tenantCspCacheSeconds === undefined
        ? {}
        : { TENANT_CSP_CACHE_SECONDS: String(options.tenantCspCacheSeconds) }),
    };
    const withConfluence = options.localConfluence ?? LOCAL_CONFLUENCE_INCLUDED;
    const cdnPort = withConfluence ? await reservePort(portAt(8)) : undefined;
    if (cdnPort !== undefined) dispatchVars.EMBED_ORIGIN = `http://127.0.0.1:${cdnPort.port}`;
    const gateway = await reservePort(gatewayPort);
    // The gateway's own host is plain `localhost`: every client resolves it (Node and curl do not
    // resolve `*.localhost` subdomains), and it can never be mistaken for a site's `s-`/`g-` host.
    dispatchVars.DISPATCH_BASE_URL = `http://${SITES_DOMAIN}:${gateway.port}`;
    const dispatchScript = await bundleWorker(DISPATCH_ENTRY);
    await gateway.release();
    // TENANT_CSP and SITE_FEEDS live with the control Worker, which starts after the gateway: until
    // then a read fails, and the gateway serves its fail-safe policy and a 503 for a status feed (as on
    // Cloudflare when KV fails).
    let control: Control | undefined;
    const started = () => {
      if (control === undefined) throw new Error("the control Worker has not started yet");
      return control;
    };
    const tenantCsp = async (key: string) => started().readTenantCsp(key);
    const siteFeeds = async (key: string) => started().readSiteFeeds(key);
    edge = await Edge.start(
      {
        dispatchScript,
        dispatchVars,
        port: gateway.port,
        maxRunning: options.maxRunning,
        log,
        tenantCsp,
        siteFeeds,
      },
      initial.map(siteWorkerOf),
    );
    const running = edge;
    opened.push({ close: () => running.dispose() });

    const devConsole: DevConsole = await startDevConsole({
      port: portAt(3),
      appPid: DEV_APP_PID,
      appPsk: secrets.appPsk,
      grantTtlSeconds,
      sitesDomain: SITES_DOMAIN,
      sitePort: gateway.port,
      scripts: () => cloudflareApi.scripts(),
      directUrl: (worker) => running.directUrl(worker),
    });
    opened.push(devConsole);

    const confluence = await startConfluenceStandIn({ port: portAt(5) });
    opened.push(confluence);
    const signer = await loadOrCreateFitSigner(options.dataDir);
    const forgeJwks = await startForgeJwksServer(signer, {
      port: portAt(6),
    });
    opened.push(forgeJwks);
    // A tester may bring their own signing keys and app ids (DESIGN §7: FITs "crafted outside").
    const forgeJwksUrl = process.env.FORGE_JWKS_URL ?? forgeJwks.jwksUrl;
    const allowedForgeAppIds = process.env.ALLOWED_FORGE_APP_IDS ?? DEV_FORGE_INSTALLATION.appId;
    const dns = await startDohStandIn({ port: portAt(11) });
    opened.push(dns);
    control = await startControl({
      dataDir: options.dataDir,
      port: portAt(4),
      gateway: running.url,
      apiTokenSeed: secrets.apiTokenSeed,
      log,
      vars: {
        APP_PID: DEV_APP_PID,
        APP_PSK: secrets.appPsk,
        SITES_DOMAIN,
        DISPATCH_BASE_URL: dispatchVars.DISPATCH_BASE_URL,
        CLOUDFLARE_API_BASE_URL: cloudflareApi.url,
        WFP_ACCOUNT_ID: secrets.accountId,
        WFP_NAMESPACE: DEV_NAMESPACE,
        WFP_API_TOKEN_PROVISIONING: secrets.cloudflareApiToken,
        FORGE_JWKS_URL: forgeJwksUrl,
        // The Atlassian stand-in answers the personal data reporting API too.
        ATLASSIAN_API_BASE_URL: confluence.url,
        ALLOWED_FORGE_APP_IDS: allowedForgeAppIds,
        CONTROL_SHARED_SECRET: secrets.sharedSecret,
        GRANT_TTL_SECONDS: String(grantTtlSeconds),
        // Dev only: the Confluence stand-in and `*.localhost` site origins are plain http.
        DEV_ALLOW_LOOPBACK_HTTP: "true",
        // Dev only: monitors may watch the demo service on loopback (nothing else private).
        MONITOR_ALLOW_LOOPBACK: "true",
        // Monitor host names are resolved as in production, by a resolver that never leaves the machine.
        MONITOR_DNS_URL: dns.url,
      },
      ...(options.monitorCronMs === undefined ? {} : { monitorCronMs: options.monitorCronMs }),
    });
    opened.push(control);

    const demoService = await startDemoService({ port: portAt(9), controlPort: portAt(10) });
    opened.push(demoService);
    await ensureDemoMonitor(control, `${demoService.url}/health`);

    let localConfluence: DevInfo["localConfluence"];
    let localHost: LocalConfluence | undefined;
    if (cdnPort !== undefined) {
      await cdnPort.release();
      const started = await startLocalConfluenceStack({
        dataDir: options.dataDir,
        signer,
        appId: allowedForgeAppIds.split(",")[0]?.trim() ?? DEV_FORGE_INSTALLATION.appId,
        confluence,
        controlUrl: control.url.href.replace(/\/$/, ""),
        sitesFrameOrigin: `http://*.${SITES_DOMAIN}:${gateway.port}`,
        cdnPort: cdnPort.port,
        port: portAt(7),
        log: (line) => log.warn(line),
      });
      opened.push(started);
      const { host } = started;
      localHost = host;
      localConfluence = {
        url: host.url,
        sites: Object.fromEntries(
          host.sites.map((site) => [
            site.key,
            { url: host.siteUrl(site.key), cloudId: site.cloudId, installationId: site.installationId },
          ]),
        ),
        customUiOrigin: started.cdn.origin,
        fitEndpoint: `${host.url}/__dev/fit`,
      };
    }

    const info: DevInfo = {
      dispatchUrl: dispatchVars.DISPATCH_BASE_URL,
      sitesDomain: `${SITES_DOMAIN}:${gateway.port}`,
      cloudflareApiUrl: cloudflareApi.url,
      accountId: secrets.accountId,
      namespace: DEV_NAMESPACE,
      cloudflareApiToken: secrets.cloudflareApiToken,
      consoleUrl: devConsole.url.href.replace(/\/$/, ""),
      edgeUrl: running.url.href.replace(/\/$/, ""),
      controlUrl: control.url.href.replace(/\/$/, ""),
      apiToken: control.apiToken,
      sharedSecret: secrets.sharedSecret,
      confluenceUrl: confluence.url.replace(/\/$/, ""),
      forgeJwksUrl,
      forgeAppId: allowedForgeAppIds,
      forgeInstallation: { ...DEV_FORGE_INSTALLATION },
      users: Object.fromEntries(
        (Object.keys(SAMPLE_ACCOUNT_IDS) as SampleUser[]).map((user) => [
          user,
          {
            accountId: SAMPLE_ACCOUNT_IDS[user],
            confluenceToken: confluence.tokenFor(user),
            admin: SAMPLE_ADMINS.includes(user),
          },
        ]),
      ),
      grantTtlSeconds,
      dataDir: options.dataDir,
      demoService: { healthUrl: `${demoService.url}/health`, controlUrl: demoService.controlUrl },
      dnsResolverUrl: dns.url,
      ...(localConfluence === undefined ? {} : { localConfluence }),
    };
    await writeJsonAtomically(join(options.dataDir, "dev.json"), info);
    return {
      info,
      edge: running,
      cloudflareApi,
      control,
      demoService,
      dns,
      ...(localHost === undefined ? {} : { localConfluence: localHost }),
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

function siteWorkerOf(script: NamespaceScript): SiteWorker {
  return {
    name: script.name,
    directory: script.directory,
    notFoundHandling: script.assets.config.not_found_handling,
    htmlHandling: script.assets.config.html_handling,
  };
}

/** The dev identity and tokens, made once per data folder and kept, so restarts change nothing. */
async function loadSecrets(dataDir: string): Promise<DevSecrets> {
  const file = join(dataDir, "dev-secrets.json");
  const existing = await readFile(file, "utf8").then(
    (text) => JSON.parse(text) as Partial<DevSecrets>,
    () => ({}) as Partial<DevSecrets>,
  );
  const secret = () => randomBytes(32).toString("base64url");
  const secrets: DevSecrets = {
    appPsk: existing.appPsk ?? secret(),
    cloudflareApiToken: existing.cloudflareApiToken ?? `dev-${randomBytes(24).toString("base64url")}`,
    accountId: existing.accountId ?? randomBytes(16).toString("hex"),
    sharedSecret: existing.sharedSecret ?? secret(),
    apiTokenSeed: existing.apiTokenSeed ?? secret(),
  };
  // Data folders from before a secret existed get it added; the ones they had are kept.
  if (Object.keys(existing).length !== Object.keys(secrets).length) {
    await writeJsonAtomically(file, secrets, 0o600);
  }
  return secrets;
}

async function writeJsonAtomically(file: string, value: unknown, mode = 0o644): Promise<void> {
  const partial = `${file}.${process.pid}.tmp`;
  await writeFile(partial, `${JSON.stringify(value, null, 2)}\n`, { mode });
  await rename(partial, file);
}

/**
 * Picks the gateway's port before the edge starts (the dispatch Worker must know its own host),
 * holding it with a listening socket so nothing else takes it meanwhile.
 */
async function reservePort(port: number): Promise<{ port: number; release(): Promise<void> }> {
  const { createServer } = await import("node:net");
  const holder = createServer();
  await new Promise<void>((resolve, reject) => {
    holder.once("error", reject);
    holder.listen(port, "127.0.0.1", resolve);
  });
  const address = holder.address();
  const bound = typeof address === "object" && address !== null ? address.port : port;
  return { port: bound, release: () => new Promise((resolve) => holder.close(() => resolve())) };
}
