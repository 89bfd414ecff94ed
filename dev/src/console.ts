/**
 * The dev console: mints view URLs for provisioned sites, so the serve path can be used and attacked
 * before the control Worker (issue #4) exists to mint them. Loopback only, dev only; it signs with the
 * dev stack's own identity, exactly as the control Worker will with the deployment's.
 *
 *   GET  /sites                      the namespace's user Workers, with the own socket of each running
 *                                    one (`directUrl`: the user Worker without the gateway, to compare)
 *   POST /view-url {"worker": name}  → {url, grant, expiresAt, siteId, version}
 */

import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  KEY_PURPOSE,
  keyringFor,
  mintGrant,
  parseTenantShortId,
  parseWorkerName,
  requireIdentity,
  type TenantShortId,
} from "@mini-sites/core";
import type { NamespaceScript } from "./cloudflare-api/index.ts";

export interface DevConsoleOptions {
  readonly port: number;
  readonly appPid: string;
  readonly appPsk: string;
  readonly grantTtlSeconds: number;
  /** Sites live at `http://s-<siteId>.<sitesDomain>:<sitePort>`. */
  readonly sitesDomain: string;
  readonly sitePort: number;
  readonly scripts: () => readonly NamespaceScript[];
  /** A running user Worker's own socket, if it is running. */
  readonly directUrl?: (worker: string) => Promise<URL | undefined>;
}

export interface DevConsole {
  readonly url: URL;
  close(): Promise<void>;
}

/** Tenant of Workers deployed without a `tenant-…` tag (e.g. by hand with wrangler). */
const DEV_TENANT = "aaaaa" as TenantShortId;
const MAX_BODY_BYTES = 4096;

export async function startDevConsole(options: DevConsoleOptions): Promise<DevConsole> {
  const identity = requireIdentity({ APP_PID: options.appPid, APP_PSK: options.appPsk });
  const keyring = await keyringFor(identity, KEY_PURPOSE.grant);

  const viewUrl = async (worker: unknown) => {
    const parsed = typeof worker === "string" ? parseWorkerName(worker) : undefined;
    if (parsed === undefined) {
      return {
        status: 400,
        body: error("BAD_WORKER", "worker must be a user Worker name: s-<siteId>-v<version>"),
      };
    }
    const script = options.scripts().find((s) => s.name === worker);
    if (script === undefined)
      return { status: 404, body: error("NOT_FOUND", `No user Worker named ${worker}.`) };
    const tag = script.tags.find((t) => t.startsWith("tenant-"));
    const tenantId = (tag && parseTenantShortId(tag.slice("tenant-".length))) || DEV_TENANT;
    const grant = await mintGrant(
      keyring,
      { siteId: parsed.siteId, version: parsed.version, tenantId, ttlSeconds: options.grantTtlSeconds },
      Date.now(),
    );
    const origin = `http://s-${parsed.siteId}.${options.sitesDomain}:${options.sitePort}`;
    return {
      status: 200,
      body: {
        url: `${origin}/__ms/enter/${grant.text}`,
        grant: grant.text,
        expiresAt: new Date(grant.claims.expiresAt * 1000).toISOString(),
        siteId: parsed.siteId,
        version: parsed.version,
      },
    };
  };

  const server = http.createServer(async (request, response) => {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(`${JSON.stringify(body)}\n`);
    };
    try {
      const path = new URL(request.url ?? "/", "http://console").pathname;
      if (request.method === "GET" && path === "/sites") {
        const sites = await Promise.all(
          options.scripts().map(async (s) => ({
            name: s.name,
            tags: s.tags,
            files: Object.keys(s.assets.manifest).length,
            modifiedOn: s.modifiedOn,
            directUrl: (await options.directUrl?.(s.name))?.origin ?? null,
          })),
        );
        return send(200, sites);
      }
      if (request.method === "POST" && path === "/view-url") {
        const body = await readJson(request);
        const { status, body: answer } = await viewUrl((body as { worker?: unknown } | undefined)?.worker);
        return send(status, answer);
      }
      send(404, error("NOT_FOUND", 'GET /sites or POST /view-url {"worker": "s-<siteId>-v<version>"}'));
    } catch (caught) {
      send(400, error("BAD_REQUEST", (caught as Error).message));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/`),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function error(code: string, message: string) {
  return { error: { code, message } };
}

async function readJson(request: http.IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error("request body too large");
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
}
