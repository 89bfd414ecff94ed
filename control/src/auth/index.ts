/**
 * Authentication for the control Worker: Forge Invocation Tokens (fit.ts), API tokens
 * (api-tokens.ts), the CI shared secret (shared-secret.ts), and `authenticate` (authenticate.ts), which
 * turns the one credential a request presents into a Principal (principal.ts). Limits and their reasons: constants.ts.
 */

export * from "./api-tokens.ts";
export * from "./authenticate.ts";
export * from "./constants.ts";
export * from "./errors.ts";
export * from "./fit.ts";
export {
  createForgeKeySet,
  type ForgeKeySet,
  type ForgeKeySetOptions,
  JwksUnavailableError,
} from "./jwks.ts";
export * from "./principal.ts";
export * from "./shared-secret.ts";
