/**
 * The stand-in's key set on loopback: `GET /.well-known/jwks.json`, the path Forge serves its own at.
 * A fault switch makes it answer 503 or drop connections, and it counts requests, so tests can show
 * that a key-set outage denies and that the control Worker does not refetch in a storm.
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { FitSigner } from "./signer.ts";

export const JWKS_PATH = "/.well-known/jwks.json";

export type JwksFault = "none" | "unavailable" | "reset";

export interface ForgeJwksServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The value for the control Worker's FORGE_JWKS_URL. */
  readonly jwksUrl: string;
  /** Key-set requests received so far (every method and outcome). */
  readonly requests: number;
  setFault(fault: JwksFault): void;
  close(): Promise<void>;
}

export async function startForgeJwksServer(
  signer: FitSigner,
  options: { port?: number } = {},
): Promise<ForgeJwksServer> {
  let requests = 0;
  let fault: JwksFault = "none";
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
    if (path !== JWKS_PATH) {
      response.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
      return;
    }
    requests++;
    if (fault === "reset") {
      request.socket.destroy();
      return;
    }
    if (fault === "unavailable") {
      response.writeHead(503, { "content-type": "application/json" }).end('{"error":"unavailable"}');
      return;
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    response
      .writeHead(200, { "content-type": "application/json", "cache-control": "public, max-age=300" })
      .end(JSON.stringify(signer.jwks()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    jwksUrl: url + JWKS_PATH,
    get requests() {
      return requests;
    },
    setFault(next) {
      fault = next;
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
