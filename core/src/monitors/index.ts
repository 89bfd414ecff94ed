export * from "./feed.ts";
export * from "./target.ts";
