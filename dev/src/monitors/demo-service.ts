/**
 * The dev stack's demo service for monitors: a tiny HTTP service on loopback that can be stopped and
 * started again on the same port, so a monitor pointed at it sees a real outage (connection refused)
 * and a real recovery — not a status code pretending to be one. `GET|HEAD /health` answers 200.
 */

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface DemoService {
  /** `http://127.0.0.1:<port>`; the health URL is `<url>/health`. */
  readonly url: string;
  readonly port: number;
  /** A second socket that stays up: `POST /up`, `POST /down`, `GET /` → `{up}` (scripts, tests). */
  readonly controlUrl: string;
  isUp(): boolean;
  /** Stops listening (connections are refused) or listens again on the same port. */
  setUp(up: boolean): Promise<void>;
  close(): Promise<void>;
}

export async function startDemoService(
  options: { port?: number; controlPort?: number } = {},
): Promise<DemoService> {
  let server: Server | undefined;
  let port = options.port ?? 0;
  const listen = async () => {
    const next = createServer((request, response) => {
      if (request.url === "/health" && (request.method === "GET" || request.method === "HEAD")) {
        response.writeHead(200, { "content-type": "text/plain", "cache-control": "no-store" });
        response.end(request.method === "HEAD" ? undefined : "ok\n");
        return;
      }
      response.writeHead(404, { "content-type": "text/plain" });
      response.end("not found\n");
    });
    await new Promise<void>((resolve, reject) => {
      next.once("error", reject);
      next.listen(port, "127.0.0.1", () => resolve());
    });
    port = (next.address() as AddressInfo).port;
    server = next;
  };
  const stop = async () => {
    const running = server;
    server = undefined;
    if (running === undefined) return;
    running.closeAllConnections();
    await new Promise<void>((resolve) => running.close(() => resolve()));
  };
  await listen();
  const setUp = async (up: boolean) => {
    if (up && server === undefined) await listen();
    if (!up) await stop();
  };
  const control = createServer((request, response) => {
    const answer = () => {
      response.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      response.end(JSON.stringify({ up: server !== undefined, url: `http://127.0.0.1:${port}/health` }));
    };
    if (request.method === "POST" && (request.url === "/up" || request.url === "/down"))
      void setUp(request.url === "/up").then(answer, () => {
        response.writeHead(500);
        response.end();
      });
    else answer();
  });
  await new Promise<void>((resolve, reject) => {
    control.once("error", reject);
    control.listen(options.controlPort ?? 0, "127.0.0.1", () => resolve());
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    controlUrl: `http://127.0.0.1:${(control.address() as AddressInfo).port}`,
    isUp: () => server !== undefined,
    setUp,
    async close() {
      await stop();
      control.closeAllConnections();
      await new Promise<void>((resolve) => control.close(() => resolve()));
    },
  };
}
