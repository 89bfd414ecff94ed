/**
 * The grant keyring of this isolate. Built once per env (HKDF + key import cost more than a request
 * should pay) and kept; a missing or weak secret leaves no keyring at all, so nothing can verify and
 * every site request is refused (fail closed, DESIGN §4).
 */

import {
  type IdentityReport,
  type IdentityState,
  identityReport,
  KEY_PURPOSE,
  type Keyring,
  keyringFor,
  readIdentity,
} from "@mini-sites/core";
import type { DispatchEnv } from "./env.ts";

export type GatewayIdentity =
  | { readonly ready: true; readonly keyring: Keyring; readonly state: IdentityState }
  | { readonly ready: false; readonly state: Exclude<IdentityState, { status: "ready" }> };

const keyrings = new WeakMap<object, Promise<GatewayIdentity>>();
const reports = new WeakMap<object, Promise<IdentityReport>>();

async function load(env: DispatchEnv): Promise<GatewayIdentity> {
  const state = readIdentity(env);
  if (state.status !== "ready") return { ready: false, state };
  return { ready: true, keyring: await keyringFor(state.identity, KEY_PURPOSE.grant), state };
}

export function gatewayIdentity(env: DispatchEnv): Promise<GatewayIdentity> {
  let loading = keyrings.get(env);
  if (loading === undefined) {
    loading = load(env);
    keyrings.set(env, loading);
  }
  return loading;
}

/** For `/.well-known/mini-sites`: fingerprints and mode, never a secret (core identityReport). */
export function gatewayIdentityReport(env: DispatchEnv): Promise<IdentityReport> {
  let loading = reports.get(env);
  if (loading === undefined) {
    loading = identityReport(readIdentity(env));
    reports.set(env, loading);
  }
  return loading;
}
