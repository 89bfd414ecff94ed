export * from "./grant.ts";
export * from "./layout.ts";
