/**
 * The Forge functions named in manifest.yml (`handler: index.<name>`). Forge bundles this file as
 * CommonJS: the package has no `"type": "module"` on purpose (Forge's bundler breaks under it).
 */

export { exportMacro } from "./export.ts";
export { installed, uninstalling } from "./lifecycle.ts";
export { pageEvents } from "./page-events.ts";
