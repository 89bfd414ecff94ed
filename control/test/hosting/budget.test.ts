import { describe, expect, it } from "vitest";
import {
  CLOUDFLARE_REQUESTS_PER_WINDOW,
  CLOUDFLARE_WINDOW_MS,
  SlidingWindowBudget,
} from "../../src/hosting/budget.ts";
import { fakeTime } from "./helpers.ts";

describe("SlidingWindowBudget (Cloudflare's 1,200 requests per 5 minutes per token)", () => {
  it("grants 1,200 requests at once, then makes the 1,201st wait until the first leaves the window", async () => {
    const time = fakeTime();
    const budget = new SlidingWindowBudget({ now: time.now, maxWaitMs: Number.POSITIVE_INFINITY });
    for (let i = 0; i < CLOUDFLARE_REQUESTS_PER_WINDOW; i++)
      expect(await budget.reserve()).toEqual({ granted: true, waitMs: 0 });
    expect(budget.used()).toBe(1_200);
    time.advance(299_000);
    expect(await budget.reserve()).toEqual({ granted: true, waitMs: 1_000 });
  });

  it("never books more than the limit in any window, however requests arrive", async () => {
    const time = fakeTime();
    const budget = new SlidingWindowBudget({
      limit: 50,
      windowMs: 10_000,
      maxWaitMs: Number.POSITIVE_INFINITY,
      now: time.now,
    });
    const slots: number[] = [];
    for (let i = 0; i < 400; i++) {
      const r = await budget.reserve();
      if (!r.granted) throw new Error("refused");
      slots.push(time.now() + r.waitMs);
      time.advance(i % 7 === 0 ? 900 : 3);
    }
    for (const start of slots)
      expect(slots.filter((at) => at > start - 10_000 && at <= start).length).toBeLessThanOrEqual(50);
  });

  it("refuses, booking nothing, when the wait would exceed its bound", async () => {
    const time = fakeTime();
    const budget = new SlidingWindowBudget({ limit: 2, now: time.now, maxWaitMs: 60_000 });
    await budget.reserve();
    await budget.reserve();
    expect(await budget.reserve()).toEqual({ granted: false, retryAfterMs: CLOUDFLARE_WINDOW_MS });
    expect(await budget.reserve()).toEqual({ granted: false, retryAfterMs: CLOUDFLARE_WINDOW_MS });
    time.advance(CLOUDFLARE_WINDOW_MS - 30_000);
    expect(await budget.reserve()).toEqual({ granted: true, waitMs: 30_000 });
  });

  it("holds every caller back while Cloudflare has the token paused", async () => {
    const time = fakeTime();
    const budget = new SlidingWindowBudget({ now: time.now });
    await budget.pause(20_000);
    expect(await budget.reserve()).toEqual({ granted: true, waitMs: 20_000 });
    await budget.pause(300_000);
    expect(await budget.reserve()).toEqual({ granted: false, retryAfterMs: 300_000 });
  });
});
