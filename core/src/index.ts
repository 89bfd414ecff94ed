/**
 * @mini-sites/core — the runtime-agnostic heart of Mini-Sites. Pure functions over bytes and values:
 * no I/O of its own, so the control Worker, the dispatch Worker, the CLI and the browser share it.
 */

export * from "./branding.ts";
export * from "./bundle/index.ts";
export * from "./crypto.ts";
export * from "./csp.ts";
export * from "./errors.ts";
export * from "./forge.ts";
export * from "./grants/index.ts";
export * from "./identity/index.ts";
export * from "./ids.ts";
export * from "./isolate-cache.ts";
export * from "./limits.ts";
export * from "./monitors/index.ts";
export * from "./pipeline.ts";
export * from "./reports/index.ts";
export * from "./secrets/index.ts";
