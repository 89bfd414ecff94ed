/**
 * The namespace router's source (namespace-router.worker.js, plain JavaScript that runs in the dispatch
 * Worker's isolate), read once. Its own module so that the packed CLI can embed the text at build time
 * (cli/build.ts) instead of reading a file next to a bundle that no longer has it.
 */

import { readFileSync } from "node:fs";

export const ROUTER_SOURCE: string = readFileSync(
  new URL("./namespace-router.worker.js", import.meta.url),
  "utf8",
);
