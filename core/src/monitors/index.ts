export * from "./status-range.ts";
export * from "./target.ts";
