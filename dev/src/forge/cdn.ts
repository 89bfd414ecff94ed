/**
 * The Custom UI "CDN": serves the app's BUILT resources (forge-app/static/<resource>/, what `forge
 * deploy` uploads) unchanged, on an origin of their own, the way Forge's CDN does:
 *   - the bridge script is added as the first element of `<head>` of each resource's index.html (Forge
 *     injects its own there), so `@forge/bridge` finds `globalThis.__bridge.callBridge` when it loads;
 *   - every response carries the Content-Security-Policy Forge itself computes, from `@forge/csp` (the
 *     package Forge's CDN and tunnel use) with the manifest's permissions: `style-src` without
 *     'unsafe-inline', `frame-src` with `permissions.external.frames`, `frame-ancestors` naming the
 *     Confluence site — so an inline style, a frame of an undeclared origin or a script from elsewhere
 *     fails here as it would in Confluence;
 *   - `/__forge/tokens.css` is the design-token theme the host "loads" when the app enables theming
 *     (from @atlaskit/tokens, the package the bridge depends on).
 *
 *   GET /<resource>/…                   a built file; index.html with the bridge script
 *   GET /__forge/bridge.js?frame&host   the frame side of the bridge (bridge-frame.js)
 *   GET /__forge/tokens.css             light + dark token themes
 */

import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";
import { FORGE_APP_DIR, type ForgeManifest } from "./app.ts";

export const BRIDGE_SCRIPT_PATH = "/__forge/bridge.js";
export const TOKENS_CSS_PATH = "/__forge/tokens.css";

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json",
  ".woff2": "font/woff2",
};

export interface CustomUiCdnOptions {
  readonly manifest: ForgeManifest;
  /** Origins of the Confluence sites allowed to frame the resources (`frame-ancestors`). */
  readonly embedders: () => readonly string[];
  readonly port?: number;
  readonly staticDir?: string;
}

export interface CustomUiCdn {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** The URL of a resource's entry page for one frame of one host page. */
  resourceUrl(resource: string, frameId: string, hostOrigin: string): string;
  close(): Promise<void>;
}

/** The manifest's permissions as Forge hands them to its CSP code: `{remote}` egress resolved to URLs. */
function cspPermissions(manifest: ForgeManifest) {
  const permissions = (manifest.permissions ?? {}) as {
    content?: unknown;
    external?: Record<string, unknown>;
  };
  const resolve = (list: unknown) =>
    Array.isArray(list)
      ? list.map((egress) => {
          if (typeof egress === "string") return egress;
          const e = egress as { address?: string; remote?: string };
          if (e.remote !== undefined) return manifest.remotes?.find((r) => r.key === e.remote)?.baseUrl ?? "";
          return e.address ?? "";
        })
      : undefined;
  const external = { ...(permissions.external ?? {}) } as Record<string, unknown>;
  for (const key of ["frames", "images", "media", "scripts", "styles", "fonts"]) {
    if (external[key] !== undefined) external[key] = resolve(external[key]);
  }
  const fetch = external.fetch as { client?: unknown; backend?: unknown } | undefined;
  if (fetch !== undefined)
    external.fetch = { ...fetch, client: resolve(fetch.client), backend: resolve(fetch.backend) };
  return { ...(permissions.content === undefined ? {} : { content: permissions.content }), external };
}

/** @forge/csp's classes, loaded untyped: their typings pull the DOM library into the dev stack's check. */
interface ForgeCsp {
  CSPProcessingService: new (
    logger: { info(line: string): void },
    loader: unknown,
  ) => { getCspDetails(html: string, permissions: unknown): unknown };
  CSPInjectionService: new () => { getInjectableCSP(options: Record<string, unknown>): string[] };
}

async function tokensCss(): Promise<string> {
  const require = createRequire(import.meta.url);
  const themes = ["light", "dark", "spacing", "typography-adg3", "shape"];
  const parts: string[] = [];
  for (const theme of themes) {
    const module = require(`@atlaskit/tokens/dist/cjs/artifacts/themes/atlassian-${theme}.js`) as {
      default: string;
    };
    parts.push(module.default);
  }
  return parts.join("\n");
}

export async function startCustomUiCdn(options: CustomUiCdnOptions): Promise<CustomUiCdn> {
  const staticDir = options.staticDir ?? join(FORGE_APP_DIR, "static");
  const resources = new Map(options.manifest.resources.map((r) => [r.key, join(FORGE_APP_DIR, r.path)]));
  const bridgeSource = await readFile(new URL("./bridge-frame.js", import.meta.url), "utf8");
  const tokens = await tokensCss();
  const permissions = cspPermissions(options.manifest);
  const require = createRequire(import.meta.url);
  const forgeCsp = require("@forge/csp") as ForgeCsp;
  const { load } = require("cheerio/slim") as { load: unknown };
  const processing = new forgeCsp.CSPProcessingService({ info: () => {} }, load);
  const injection = new forgeCsp.CSPInjectionService();
  let origin = "";

  const csp = (html: string, hostOrigin: string | undefined) => {
    const details = processing.getCspDetails(html, permissions);
    return injection
      .getInjectableCSP({
        existingCSPDetails: details,
        microsEnv: "prod",
        hostname: origin,
        ...(hostOrigin === undefined ? {} : { parentEmbeddingDomain: hostOrigin }),
      })
      .filter((directive) => !directive.startsWith("report-uri"))
      .join("; ");
  };

  const send = (
    response: ServerResponse,
    status: number,
    type: string,
    body: string | Buffer,
    policy?: string,
  ) => {
    response.writeHead(status, {
      "content-type": type,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      ...(policy === undefined ? {} : { "content-security-policy": policy }),
    });
    response.end(body);
  };

  async function handle(request: IncomingMessage, response: ServerResponse) {
    const url = new URL(request.url ?? "/", origin);
    const host = url.searchParams.get("host") ?? undefined;
    const hostOrigin = host !== undefined && options.embedders().includes(host) ? host : undefined;
    if (url.pathname === BRIDGE_SCRIPT_PATH) return send(response, 200, TYPES[".js"] as string, bridgeSource);
    if (url.pathname === TOKENS_CSS_PATH) return send(response, 200, TYPES[".css"] as string, tokens);
    const [, resource, ...rest] = url.pathname.split("/");
    const root = resource === undefined ? undefined : resources.get(resource);
    if (root === undefined || !root.startsWith(staticDir))
      return send(response, 404, "text/plain", "No such resource.");
    const relative = rest.join("/") || "index.html";
    const file = normalize(join(root, relative));
    if (!file.startsWith(root + sep)) return send(response, 404, "text/plain", "No such file.");
    const bytes = await readFile(file).catch(() => undefined);
    if (bytes === undefined) return send(response, 404, "text/plain", "No such file.");
    const type = TYPES[extname(file)] ?? "application/octet-stream";
    if (extname(file) !== ".html") return send(response, 200, type, bytes, csp("", hostOrigin));
    const html = bytes.toString("utf8");
    const frame = url.searchParams.get("frame") ?? "";
    const query = new URLSearchParams({ frame, host: hostOrigin ?? "" });
    const script = `<script src="${BRIDGE_SCRIPT_PATH}?${query.toString().replace(/&/g, "&amp;")}"></script>`;
    const injected = html.replace(/<head([^>]*)>/i, (head) => `${head}${script}`);
    return send(response, 200, type, injected, csp(html, hostOrigin));
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, "text/plain", String(error));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    resourceUrl(resource, frameId, hostOrigin) {
      const query = new URLSearchParams({ frame: frameId, host: hostOrigin });
      return `${origin}/${resource}/index.html?${query}`;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
