/**
 * The audit log: append-only keyed hash chains, one per tenant (chain.ts), heads anchored outside D1
 * (anchor.ts), canonical MAC input, sanitized details.
 */

export * from "./anchor.ts";
export * from "./canonical.ts";
export * from "./chain.ts";
export * from "./detail.ts";
export * from "./log.ts";
