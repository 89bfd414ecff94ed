/**
 * The dev stack's front door on the base port: forwards every request, byte for byte and with its Host
 * header, to the dispatch Worker's socket in the edge. It exists for one dev-only reason: the edge
 * rebuilds workerd to start a stopped user Worker (edge.ts), so a request can meet a 503 with
 * `COLD_HEADER` or a connection cut by the restart. Then the front door waits for the edge to settle
 * and replays the request (only GET and HEAD: the gateway serves nothing else, and they are safe to
 * repeat). Production has no such layer; the benchmark measures the edge socket directly.
 */

import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Edge } from "./edge.ts";
import { COLD_HEADER } from "./user-workers.ts";

export interface FrontDoor {
  readonly url: URL;
  close(): Promise<void>;
}

/** A cold start rebuilds workerd (~1–2 s); a request waits for at most this many of them. */
const MAX_REPLAYS = 3;

export async function startFrontDoor(edge: Edge, port = 0): Promise<FrontDoor> {
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((request, response) => {
    forward(edge, agent, request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        response.writeHead(502, { "content-type": "text/plain; charset=utf-8" });
        response.end(`The local edge did not answer: ${(error as Error).message}\n`);
      } else {
        response.destroy();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${bound}/`),
    close: () =>
      new Promise((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function forward(
  edge: Edge,
  agent: http.Agent,
  request: http.IncomingMessage,
  response: http.ServerResponse,
): Promise<void> {
  const replayable = request.method === "GET" || request.method === "HEAD";
  for (let attempt = 0; ; attempt++) {
    const last = !replayable || attempt >= MAX_REPLAYS;
    let upstream: http.IncomingMessage;
    try {
      upstream = await send(edge.url, agent, request, replayable);
    } catch (error) {
      if (last) throw error;
      await edge.settled(); // the edge was restarting: wait for it, then try again
      continue;
    }
    const cold = upstream.headers[COLD_HEADER];
    if (upstream.statusCode === 503 && typeof cold === "string" && !last) {
      upstream.resume();
      await edge.ensureRunning(cold);
      continue;
    }
    const headers = { ...upstream.headers };
    delete headers[COLD_HEADER];
    response.writeHead(upstream.statusCode ?? 502, upstream.statusMessage, headers);
    upstream.pipe(response);
    return;
  }
}

function send(
  target: URL,
  agent: http.Agent,
  request: http.IncomingMessage,
  replayable: boolean,
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: request.method,
        path: request.url,
        headers: request.headers,
        agent,
      },
      resolve,
    );
    upstream.once("error", reject);
    // GET/HEAD carry no body worth keeping; anything else streams once and is never replayed.
    if (replayable) upstream.end();
    else request.pipe(upstream);
  });
}
