/**
 * The grant keyring of this isolate. Built once per env (HKDF + key import cost more than a request
 * should pay) and kept; a missing or weak secret leaves no keyring at all, so nothing can verify and
 * every site request is refused (fail closed, DESIGN §4).
 */

import {
  type EnvKeyrings,
  type IdentityReport,
  identityReportOf,
  KEY_PURPOSE,
  keyringCache,
} from "@mini-sites/core";
import type { DispatchEnv } from "./env.ts";

export type GatewayIdentity = EnvKeyrings<"keyring">;

const keyrings = keyringCache({ keyring: KEY_PURPOSE.grant });

export function gatewayIdentity(env: DispatchEnv): Promise<GatewayIdentity> {
  return keyrings(env);
}

/** For `/.well-known/mini-sites`: fingerprints and mode, never a secret (core identityReport). */
export function gatewayIdentityReport(env: DispatchEnv): Promise<IdentityReport> {
  return identityReportOf(env);
}
