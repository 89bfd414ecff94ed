export * from "./cache.ts";
export * from "./config.ts";
export * from "./keyring.ts";
export * from "./purposes.ts";
