/**
 * The Forge functions named in manifest.yml (`handler: index.<name>`). Forge bundles this file as
 * CommonJS: the package has no `"type": "module"` on purpose (Forge's bundler breaks under it).
 *
 * Few: the lifecycle and page events go straight to the control Worker through `endpoint` triggers
 * (manifest.yml), and every UI call goes there through `invokeRemote`. What needs the app's own
 * platform (Forge KVS, its web trigger URL) runs here: PDF export, and the signed monitor reports'
 * registration, key rotation and web trigger (monitors.ts).
 */

export { exportMacro } from "./export.ts";
export { receiveMonitorReport, registerTenant, rotateTenantKey } from "./monitors.ts";
