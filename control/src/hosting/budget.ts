/**
 * The account-wide budget for Cloudflare API calls (DESIGN §6, invariant 9).
 *
 * Cloudflare allows 1,200 requests per 5 minutes per API token, and a token that exceeds it gets 429
 * on every call for the next 5 minutes (developers.cloudflare.com/fundamentals/api/reference/limits).
 * One publish costs a handful of calls, a tenant purge or a reconcile pass many: without a shared
 * budget a burst of publishes would lock every provisioning job out for 5 minutes. So each HTTP
 * request (retries included) first reserves a slot here, and waits for it, instead of finding out from
 * a 429.
 *
 * The interface is one round trip per request, with no lock held while waiting: `reserve` books the
 * earliest free slot and answers how long to wait before using it; the caller sleeps. In production
 * the state lives in ONE Durable Object per API token (budget-object.ts), so every isolate, request
 * and Workflow step of the control Worker spends from the same window.
 */

import { sha256Hex } from "@mini-sites/core";

export const CLOUDFLARE_REQUESTS_PER_WINDOW = 1_200;
export const CLOUDFLARE_WINDOW_MS = 5 * 60 * 1_000;
/**
 * Longest wait for a slot before we answer HOSTING_RATE_LIMITED instead. A provisioning Workflow step
 * should not sit in a timer for minutes: it fails retryably and the Workflow sleeps durably. 60 s is
 * also wrangler's ceiling on honouring a `Retry-After` (MAX_RETRY_AFTER_MS, workers-utils/src/retry.ts).
 */
export const DEFAULT_MAX_BUDGET_WAIT_MS = 60_000;

export type BudgetReservation =
  /** The slot is booked: send the request after `waitMs`. */
  | { readonly granted: true; readonly waitMs: number }
  /** No slot within the wait bound; nothing was booked. Try again after `retryAfterMs`. */
  | { readonly granted: false; readonly retryAfterMs: number };

export interface RequestBudget {
  reserve(): Promise<BudgetReservation>;
  /**
   * Cloudflare answered 429 with `Retry-After`: the token is blocked for everyone, so no slot is
   * granted before `ms` from now, whichever provider asks.
   */
  pause(ms: number): Promise<void>;
}

export interface SlidingWindowBudgetOptions {
  readonly limit?: number;
  readonly windowMs?: number;
  readonly maxWaitMs?: number;
  readonly now?: () => number;
  /** State saved by `snapshot()` (the Durable Object's storage). */
  readonly restore?: BudgetSnapshot;
}

/** What a budget must remember across restarts: its booked slots and any pause. */
export interface BudgetSnapshot {
  readonly slots: readonly number[];
  readonly pausedUntil: number;
}

/**
 * An exact sliding window held in memory: at most `limit` booked slots in any `windowMs`. Shared by
 * every provider that uses one token in one isolate (and by tests); the Durable Object version will
 * hold the same log.
 */
export class SlidingWindowBudget implements RequestBudget {
  readonly limit: number;
  readonly windowMs: number;
  readonly maxWaitMs: number;
  readonly #now: () => number;
  /** Booked slot times, non-decreasing; only those that can still matter are kept (at most `limit`). */
  readonly #slots: number[] = [];
  #pausedUntil = 0;

  constructor(options: SlidingWindowBudgetOptions = {}) {
    this.limit = options.limit ?? CLOUDFLARE_REQUESTS_PER_WINDOW;
    this.windowMs = options.windowMs ?? CLOUDFLARE_WINDOW_MS;
    this.maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_BUDGET_WAIT_MS;
    this.#now = options.now ?? Date.now;
    if (!(this.limit >= 1) || !(this.windowMs > 0))
      throw new RangeError("budget limit and window must be positive");
    if (options.restore !== undefined) {
      this.#slots.push(...options.restore.slots.filter(Number.isFinite).slice(-this.limit));
      this.#pausedUntil = Number.isFinite(options.restore.pausedUntil) ? options.restore.pausedUntil : 0;
    }
  }

  snapshot(): BudgetSnapshot {
    const since = this.#now() - this.windowMs;
    return { slots: this.#slots.filter((at) => at > since), pausedUntil: this.#pausedUntil };
  }

  async reserve(): Promise<BudgetReservation> {
    const now = this.#now();
    // The new slot must come `windowMs` after the `limit`-th most recent one, so no window holds more.
    const oldest =
      this.#slots.length >= this.limit ? this.#slots[this.#slots.length - this.limit] : undefined;
    const at = Math.max(now, this.#pausedUntil, oldest === undefined ? now : oldest + this.windowMs);
    if (at - now > this.maxWaitMs) return { granted: false, retryAfterMs: at - now };
    this.#slots.push(at);
    if (this.#slots.length > this.limit) this.#slots.splice(0, this.#slots.length - this.limit);
    return { granted: true, waitMs: at - now };
  }

  async pause(ms: number): Promise<void> {
    this.#pausedUntil = Math.max(this.#pausedUntil, this.#now() + ms);
  }

  /** Slots booked in the window ending now (for tests and health output). */
  used(): number {
    const since = this.#now() - this.windowMs;
    return this.#slots.filter((at) => at > since).length;
  }
}

/** No budget: for the in-memory provider and tests that are not about the budget. */
export const UNLIMITED_BUDGET: RequestBudget = {
  reserve: async () => ({ granted: true, waitMs: 0 }),
  pause: async () => {},
};

/** The `CLOUDFLARE_API_BUDGET` binding (a subset of workers-types `DurableObjectNamespace`). */
export interface BudgetNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): { reserve(): Promise<BudgetReservation>; pause(ms: number): Promise<void> };
}

/** The shared budget of `apiToken`, as the provider's RequestBudget (one RPC per call). */
export function durableBudget(namespace: BudgetNamespace, apiToken: string): RequestBudget {
  const stub = sha256Hex(apiToken).then((fingerprint) =>
    namespace.get(namespace.idFromName(`cloudflare-api:${fingerprint.slice(0, 32)}`)),
  );
  return {
    reserve: async () => (await stub).reserve(),
    pause: async (ms) => (await stub).pause(ms),
  };
}
