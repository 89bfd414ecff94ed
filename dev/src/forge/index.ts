/**
 * The Forge side of the local stand-in (DESIGN §7): a persisted RS256 signing key, its key set on
 * loopback, and FITs shaped like Forge's, which the control Worker verifies exactly as production ones.
 */

export * from "./fit.ts";
export * from "./jwks-server.ts";
export * from "./signer.ts";
