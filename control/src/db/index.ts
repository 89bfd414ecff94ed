/** The control plane's state in D1: typed queries, each taking the tenant (see 0001_init.sql for the schema). */

export * from "./api-tokens.ts";
export * from "./cursor.ts";
export * from "./d1.ts";
export * from "./migrations.ts";
export * from "./page-states.ts";
export * from "./sites.ts";
export * from "./tenant-branding.ts";
export * from "./tenant-settings.ts";
export * from "./tenants.ts";
export * from "./versions.ts";
