/** Hosting: where site versions live as user Workers (see provider.ts for the contract). */

export * from "./budget.ts";
export * from "./cloudflare.ts";
export * from "./memory.ts";
export * from "./provider.ts";
