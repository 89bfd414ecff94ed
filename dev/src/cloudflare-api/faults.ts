/**
 * Test-only fault injection and call counting.
 *
 * Faults make the provider's retry, `Retry-After` and no-half-state paths testable: the next N calls
 * of an endpoint answer 429/5xx (optionally after a delay) or are only delayed. Stats count every call
 * per endpoint, which is what the 1,200-requests-per-5-minutes budget tests and the "a one-file change
 * uploads one file" assertions read.
 */

import { ApiError, ErrorCode } from "./envelope.ts";
import { RECENT_CALLS_KEPT } from "./limits.ts";
import {
  type CloudflareApiStats,
  ENDPOINT_NAMES,
  type EndpointName,
  type FaultSpec,
  type FaultStatus,
  type FaultSwitch,
  type RecentCall,
} from "./types.ts";

const FAULT_STATUSES: readonly FaultStatus[] = [429, 500, 502, 503];

interface Armed {
  spec: FaultSpec;
  remaining: number;
}

export interface FaultOutcome {
  readonly delayMs: number;
  /** Set when the call must fail instead of being handled. */
  readonly error?: ApiError;
}

export class Faults implements FaultSwitch {
  private armed: Armed[] = [];

  failNext(spec: FaultSpec): void {
    this.armed.push({ spec, remaining: checkFault(spec).count ?? 1 });
  }

  clear(): void {
    this.armed = [];
  }

  pending(): FaultSpec[] {
    return this.armed.map(({ spec, remaining }) => ({ ...spec, count: remaining }));
  }

  /** Consume one armed fault for this endpoint, first armed first. */
  take(endpoint: EndpointName): FaultOutcome | undefined {
    const index = this.armed.findIndex((a) => a.spec.endpoint === endpoint);
    if (index === -1) return undefined;
    const armed = this.armed[index] as Armed;
    armed.remaining -= 1;
    if (armed.remaining <= 0) this.armed.splice(index, 1);
    const { status, retryAfter, delayMs = 0 } = armed.spec;
    if (status === undefined) return { delayMs };
    const headers: Record<string, string> =
      retryAfter === undefined ? {} : { "retry-after": String(retryAfter) };
    const error =
      status === 429
        ? new ApiError(
            429,
            ErrorCode.RATE_LIMITED,
            "Please wait and consider throttling your request speed",
            { headers },
          )
        : new ApiError(
            status,
            ErrorCode.INTERNAL,
            `Injected failure (${status}) from the stand-in fault switch`,
            { headers },
          );
    return { delayMs, error };
  }
}

/** Validate a fault received as JSON (HTTP control) or from code. */
export function checkFault(value: unknown): FaultSpec {
  if (typeof value !== "object" || value === null) throw new TypeError("a fault must be an object");
  const v = value as Record<string, unknown>;
  if (
    typeof v.endpoint !== "string" ||
    !ENDPOINT_NAMES.includes(v.endpoint as EndpointName) ||
    v.endpoint === "unknown"
  ) {
    throw new TypeError(
      `fault.endpoint must be one of ${ENDPOINT_NAMES.filter((e) => e !== "unknown").join(", ")}`,
    );
  }
  const positiveInt = (x: unknown) => typeof x === "number" && Number.isInteger(x) && x >= 0;
  if (v.count !== undefined && (!positiveInt(v.count) || v.count === 0))
    throw new TypeError("fault.count must be an integer ≥ 1");
  if (v.status !== undefined && !FAULT_STATUSES.includes(v.status as FaultStatus)) {
    throw new TypeError(`fault.status must be one of ${FAULT_STATUSES.join(", ")}`);
  }
  if (v.retryAfter !== undefined && !positiveInt(v.retryAfter))
    throw new TypeError("fault.retryAfter must be whole seconds ≥ 0");
  if (v.delayMs !== undefined && !positiveInt(v.delayMs))
    throw new TypeError("fault.delayMs must be an integer ≥ 0");
  if (v.status === undefined && v.delayMs === undefined)
    throw new TypeError("a fault needs a status, a delayMs or both");
  return value as FaultSpec;
}

export class Stats {
  private requests = emptyCounts();
  private total = 0;
  private assets = 0;
  private bytes = 0;
  private calls: RecentCall[] = [];

  countRequest(endpoint: EndpointName): void {
    this.requests[endpoint] += 1;
    this.total += 1;
  }

  countAssets(files: number, bytes: number): void {
    this.assets += files;
    this.bytes += bytes;
  }

  record(call: RecentCall): void {
    this.calls.push(call);
    if (this.calls.length > RECENT_CALLS_KEPT) this.calls.splice(0, this.calls.length - RECENT_CALLS_KEPT);
  }

  snapshot(): CloudflareApiStats {
    return {
      requests: { ...this.requests },
      totalRequests: this.total,
      assetsUploaded: this.assets,
      assetBytesUploaded: this.bytes,
      recent: [...this.calls],
    };
  }

  reset(): void {
    this.requests = emptyCounts();
    this.total = 0;
    this.assets = 0;
    this.bytes = 0;
    this.calls = [];
  }
}

function emptyCounts(): Record<EndpointName, number> {
  return Object.fromEntries(ENDPOINT_NAMES.map((e) => [e, 0])) as Record<EndpointName, number>;
}
