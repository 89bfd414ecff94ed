/**
 * This isolate's deployment identity and the keys derived from it, built once per env (HKDF and key
 * import cost more than a request should pay). A missing or weak secret yields no keys at all: what
 * needs a key (grants, audit appends) fails closed, and `/.well-known/mini-sites` says which variable
 * is missing (DESIGN §4).
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
import type { ControlEnv } from "./env.ts";

export type ControlKeys =
  | { readonly ready: true; readonly audit: Keyring; readonly state: IdentityState }
  | { readonly ready: false; readonly state: Exclude<IdentityState, { status: "ready" }> };

const keys = new WeakMap<object, Promise<ControlKeys>>();
const reports = new WeakMap<object, Promise<IdentityReport>>();

async function load(env: ControlEnv): Promise<ControlKeys> {
  const state = readIdentity(env);
  if (state.status !== "ready") return { ready: false, state };
  return { ready: true, audit: await keyringFor(state.identity, KEY_PURPOSE.audit), state };
}

export function controlKeys(env: ControlEnv): Promise<ControlKeys> {
  let loading = keys.get(env);
  if (loading === undefined) {
    loading = load(env);
    keys.set(env, loading);
  }
  return loading;
}

/** Fingerprints and mode for `/.well-known/mini-sites`; never a secret (core identityReport). */
export function controlIdentityReport(env: ControlEnv): Promise<IdentityReport> {
  let loading = reports.get(env);
  if (loading === undefined) {
    loading = identityReport(readIdentity(env));
    reports.set(env, loading);
  }
  return loading;
}
