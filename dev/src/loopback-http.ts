/**
 * HTTP to a loopback socket with the Host header chosen by the caller, for tests and tools: glibc does
 * not resolve `*.localhost` (DESIGN §7) and Node's fetch replaces Host (and normalizes the path), so
 * a request for `s-<id>.localhost:<port>` connects to 127.0.0.1:<port> and names the site in Host.
 */

import http from "node:http";

export interface LoopbackRequest {
  /** The Host header; default the URL's own host (`s-<id>.localhost:<port>`, `127.0.0.1:<port>`). */
  readonly host?: string;
  /** Default GET. */
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The request target sent exactly as given (as `curl --path-as-is` would), for paths URL parsing
   * would change (dot segments, `%2e`, `\`); default the URL's path and query.
   */
  readonly rawPath?: string;
}

export interface LoopbackReply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** The body as UTF-8 text. */
  readonly body: string;
}

/** Sends one request to 127.0.0.1 on `url`'s port and reads the whole reply. */
export function requestVia(url: string | URL, options: LoopbackRequest = {}): Promise<LoopbackReply> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: "127.0.0.1",
        port: target.port,
        method: options.method ?? "GET",
        path: options.rawPath ?? target.pathname + target.search,
        headers: { host: options.host ?? target.host, ...options.headers },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      },
    );
    request.on("error", reject);
    request.end();
  });
}
