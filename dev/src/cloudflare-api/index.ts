/**
 * The local Cloudflare API stand-in (DESIGN §7): the Workers-for-Platforms REST endpoints the control
 * Worker and wrangler use, on loopback, materializing uploads as folders of static assets.
 */

export { ErrorCode } from "./envelope.ts";
export { startCloudflareApi } from "./server.ts";
export type * from "./types.ts";
