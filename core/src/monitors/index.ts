export * from "./feed.ts";
export * from "./status-range.ts";
export * from "./target.ts";
