/**
 * Where the Cloudflare API budget's state lives in production: one Durable Object per provisioning
 * token (DESIGN §6.9: 1,200 requests per 5 minutes per token, and a 429 blocks the token for every
 * caller). A Durable Object is single-threaded and unique per name, so every isolate of the control
 * Worker — HTTP requests, Workflow steps, cron passes — books slots from the SAME window, and a
 * `Retry-After` seen by one caller pauses them all. The window is saved to the object's storage after
 * every change, so an evicted object comes back knowing what it booked.
 *
 * The object is named by a fingerprint of the token (never the token), so rotating the token starts a
 * fresh window, exactly as Cloudflare counts.
 */

import { DurableObject } from "cloudflare:workers";
import { type BudgetReservation, type BudgetSnapshot, SlidingWindowBudget } from "./budget.ts";

const STATE_KEY = "window";

export class CloudflareApiBudget extends DurableObject {
  #budget: SlidingWindowBudget | undefined;

  async #window(): Promise<SlidingWindowBudget> {
    if (this.#budget === undefined) {
      const restore = await this.ctx.storage.get<BudgetSnapshot>(STATE_KEY);
      this.#budget = new SlidingWindowBudget(restore === undefined ? {} : { restore });
    }
    return this.#budget;
  }

  async reserve(): Promise<BudgetReservation> {
    const budget = await this.#window();
    const reservation = await budget.reserve();
    if (reservation.granted) await this.ctx.storage.put(STATE_KEY, budget.snapshot());
    return reservation;
  }

  async pause(ms: number): Promise<void> {
    const budget = await this.#window();
    await budget.pause(ms);
    await this.ctx.storage.put(STATE_KEY, budget.snapshot());
  }
}
