/**
 * One load run with autocannon, plus the CPU each named workerd process spent per request meanwhile.
 * Throughput and latency move with whatever else runs on the machine; CPU per request barely does.
 */

import autocannon from "autocannon";
import { cpuMicros } from "../../dev/src/processes.ts";

export const CONNECTIONS = 10;

export interface Target {
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Called before every request: e.g. a fresh grant cookie each time. */
  readonly cookie?: () => string;
  /** Called before every request: the path (and query) to ask for. */
  readonly path?: () => string;
}

export interface Run {
  readonly requests: number;
  /** Requests per second. */
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  /** Every response's latency in ms, for percentiles over several runs (`percentile`). */
  readonly latencies: readonly number[];
  /** Non-2xx answers, socket errors and timeouts. */
  readonly errors: number;
  /** CPU µs per request of each process asked for. */
  readonly cpu: Readonly<Record<string, number>>;
}

export async function load(
  target: Target,
  seconds: number,
  processes: Readonly<Record<string, number>> = {},
): Promise<Run> {
  const before = Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuMicros(pid)]));
  const { cookie, path } = target;
  const options: autocannon.Options = {
    url: target.url,
    headers: { ...target.headers },
    connections: CONNECTIONS,
    duration: seconds,
    ...(cookie === undefined && path === undefined
      ? {}
      : {
          requests: [
            {
              setupRequest: (request) => ({
                ...request,
                ...(path === undefined ? {} : { path: path() }),
                headers: { ...request.headers, ...(cookie === undefined ? {} : { cookie: cookie() }) },
              }),
            },
          ],
        }),
  };
  const latencies: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (error, done) => (error ? reject(error) : resolve(done)));
    instance.on("response", (_client: unknown, _status: number, _bytes: number, ms: number) =>
      latencies.push(ms),
    );
  });
  const requests = result.requests.total;
  const cpu = Object.fromEntries(
    Object.entries(processes).map(([name, pid]) => [
      name,
      requests === 0 ? 0 : (cpuMicros(pid) - (before[name] as number)) / requests,
    ]),
  );
  return {
    requests,
    rate: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    latencies,
    errors: result.non2xx + result.errors + result.timeouts,
    cpu,
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The `p`-th percentile (0–100) of every latency of `runs` together. */
export function percentile(runs: readonly Run[], p: number): number {
  const all = runs.flatMap((run) => run.latencies).sort((a, b) => a - b);
  if (all.length === 0) return Number.NaN;
  return all[Math.min(all.length - 1, Math.ceil((p / 100) * all.length) - 1)] as number;
}
