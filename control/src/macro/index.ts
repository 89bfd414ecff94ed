/**
 * The Macro API's data side: bindings and editor uploads in D1 (store.ts), upload tickets (ticket.ts),
 * chunk storage in R2 (uploads.ts), their cleanup (cleanup.ts), and the seam to the publish pipeline
 * (publisher.ts). Its HTTP routes are in control/src/routes/macro-*.ts.
 */

export * from "./cleanup.ts";
export * from "./publisher.ts";
export * from "./store.ts";
export * from "./ticket.ts";
export * from "./uploads.ts";
