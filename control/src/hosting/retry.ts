/**
 * Retry policy for Cloudflare API calls: bounded, backed off, jittered, and polite to `Retry-After`,
 * so an outage at Cloudflare is never amplified by us (DESIGN §6, invariant 9).
 */

/**
 * Tries per request, the first included. wrangler retries each asset bucket up to 5 times
 * (MAX_UPLOAD_ATTEMPTS, deploy-helpers/src/deploy/helpers/assets.ts) and other API calls 3 times
 * (MAX_ATTEMPTS, workers-utils/src/retry.ts). 5 rides out a blip of several seconds; anything longer
 * is the provisioning Workflow's business (it retries the step later, durably).
 */
export const MAX_ATTEMPTS = 5;
/** First backoff; doubled each retry (wrangler waits 2^n × 1 s between bucket attempts). */
export const BASE_DELAY_MS = 1_000;
/** Cap on one backoff, so 5 attempts cost at most ~1 + 2 + 4 + 8 s plus jitter before we give up. */
export const MAX_DELAY_MS = 10_000;
/**
 * Longest `Retry-After` we sleep through in-process. Longer (Cloudflare's rate-limit block is 5
 * minutes) fails HOSTING_RATE_LIMITED with the wait attached, for the Workflow to sleep durably.
 * Same ceiling as wrangler's MAX_RETRY_AFTER_MS (workers-utils/src/retry.ts).
 */
export const MAX_RETRY_AFTER_MS = 60_000;
/** A request that has not answered in this long is treated like a network error (and retried). */
export const REQUEST_TIMEOUT_MS = 60_000;

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so concurrent
 * uploads that failed together do not retry together, yet each still waits a predictable minimum.
 * `retry` is 0 for the wait after the first failure.
 */
export function backoffDelayMs(retry: number, random: () => number): number {
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** retry);
  return ceiling / 2 + (ceiling / 2) * random();
}

/**
 * `Retry-After` as milliseconds: either delay-seconds or an HTTP date (RFC 9110 §10.2.3). Cloudflare's
 * API sends seconds, rounded up (developers.cloudflare.com/fundamentals/api/reference/limits);
 * wrangler accepts both forms (parseRetryAfterValue, workers-utils). Undefined when absent or unparsable.
 */
export function parseRetryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1_000;
  // An HTTP date names a weekday and a month; without letters `Date.parse` would take "-1" for a year.
  if (!/[A-Za-z]/.test(text)) return undefined;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
