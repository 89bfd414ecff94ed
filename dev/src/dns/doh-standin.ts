/**
 * A local DNS-over-HTTPS resolver speaking Cloudflare's JSON API (`GET /dns-query?name=…&type=A|AAAA`,
 * `accept: application/dns-json`), so the control Worker's monitor checks ask DNS exactly as in
 * production (control/src/monitors/resolve.ts, MONITOR_DNS_URL) while no query leaves the machine.
 *
 * It answers from a zone the dev stack and tests set: names they add answer their addresses (a test
 * can change them between two checks, which is what DNS rebinding looks like); `localhost` and
 * `*.localhost` answer loopback as real resolvers do; names set to fail answer SERVFAIL; every other
 * name is NXDOMAIN. Every query is recorded, so tests can see what was asked.
 */

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { isIP } from "node:net";

const TYPE_A = 1;
const TYPE_AAAA = 28;
const TYPES: Readonly<Record<string, number>> = { A: TYPE_A, AAAA: TYPE_AAAA, "1": TYPE_A, "28": TYPE_AAAA };

export interface DohStandIn {
  /** The resolver's endpoint, `http://127.0.0.1:<port>/dns-query`: the control Worker's MONITOR_DNS_URL. */
  readonly url: string;
  /** Sets what `name` answers (IPv4 and IPv6 addresses mixed); an empty list is "no records". */
  setRecords(name: string, addresses: readonly string[]): void;
  /** Makes `name` answer SERVFAIL (a resolver that cannot answer). */
  setFailing(name: string): void;
  /** Forgets `name`: NXDOMAIN again. */
  remove(name: string): void;
  /** Names asked so far, in order (lowercase, no trailing dot). */
  queries(): readonly string[];
  close(): Promise<void>;
}

const normalize = (name: string) => name.toLowerCase().replace(/\.$/, "");

export async function startDohStandIn(options: { port?: number } = {}): Promise<DohStandIn> {
  const zone = new Map<string, readonly string[]>();
  const failing = new Set<string>();
  const asked: string[] = [];
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://resolver");
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/dns-json", "cache-control": "no-store" });
      response.end(JSON.stringify(body));
    };
    const name = url.searchParams.get("name");
    const type = TYPES[(url.searchParams.get("type") ?? "A").toUpperCase()];
    if (request.method !== "GET" || url.pathname !== "/dns-query" || name === null || name === "")
      return reply(400, { error: "Invalid query" });
    if (type === undefined) return reply(400, { error: "Only A and AAAA are served here" });
    const key = normalize(name);
    asked.push(key);
    const question = [{ name: `${key}.`, type }];
    if (failing.has(key)) return reply(200, { Status: 2, Question: question });
    const loopback = key === "localhost" || key.endsWith(".localhost") ? ["127.0.0.1", "::1"] : undefined;
    const addresses = loopback ?? zone.get(key);
    if (addresses === undefined) return reply(200, { Status: 3, Question: question });
    const family = type === TYPE_A ? 4 : 6;
    const answer = addresses
      .filter((address) => isIP(address) === family)
      .map((data) => ({ name: `${key}.`, type, TTL: 30, data }));
    return reply(200, { Status: 0, Question: question, Answer: answer });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/dns-query`,
    setRecords(name, addresses) {
      failing.delete(normalize(name));
      zone.set(normalize(name), [...addresses]);
    },
    setFailing(name) {
      failing.add(normalize(name));
    },
    remove(name) {
      failing.delete(normalize(name));
      zone.delete(normalize(name));
    },
    queries: () => [...asked],
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
