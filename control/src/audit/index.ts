/** The audit log: append-only keyed hash chain (chain.ts), canonical MAC input, sanitized details. */

export * from "./canonical.ts";
export * from "./chain.ts";
export * from "./detail.ts";
