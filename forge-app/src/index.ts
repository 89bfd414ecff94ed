/**
 * The Forge functions named in manifest.yml (`handler: index.<name>`). Forge bundles this file as
 * CommonJS: the package has no `"type": "module"` on purpose (Forge's bundler breaks under it).
 *
 * Only one: the lifecycle and page events go straight to the control Worker through `endpoint`
 * triggers (manifest.yml), and every UI call goes there through `invokeRemote`.
 */

export { exportMacro } from "./export.ts";
