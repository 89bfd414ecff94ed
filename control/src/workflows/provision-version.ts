/** Kept for the import in control/src/index.ts; the Workflow lives in provision.ts. */
export { ProvisionVersion } from "./provision.ts";
