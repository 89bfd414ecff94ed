/**
 * The Macro API for the Forge app (issue 4 item 6): serve URLs for viewers, binding and uploads for
 * editors. routes.ts is where a macro request enters; store.ts its D1 queries; ticket.ts and
 * uploads.ts the editor's chunked upload; publisher.ts the seam to the publish pipeline.
 */

export * from "./publisher.ts";
export * from "./routes.ts";
export * from "./store.ts";
export * from "./ticket.ts";
export * from "./uploads.ts";
