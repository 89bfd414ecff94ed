/**
 * Per-env caches of what a Worker isolate derives from its identity. HKDF and key import cost more
 * than a request should pay, so each is built once per env object and kept: a WeakMap keyed by the env
 * (a test's fresh env gets its own; a dropped env lets its keys go). Runtime-agnostic: no I/O.
 */

import { type IdentityEnv, type IdentityState, readIdentity } from "./config.ts";
import { type IdentityReport, identityReport, type Keyring, keyringFor } from "./keyring.ts";
import type { KeyPurpose } from "./purposes.ts";

/**
 * An env's keyrings by name, or — when a secret is missing or weak — none at all, so whatever needs a
 * key fails closed and the state says which variable is at fault (DESIGN §4).
 */
export type EnvKeyrings<Name extends string> =
  | ({ readonly ready: true; readonly state: IdentityState } & { readonly [K in Name]: Keyring })
  | { readonly ready: false; readonly state: Exclude<IdentityState, { status: "ready" }> };

/**
 * `keyringsFor(env)` for the named purposes (`{ grant: KEY_PURPOSE.grant, … }`): on the first call for an
 * env it reads the identity and derives every keyring; later calls for that env share the same promise.
 */
export function keyringCache<Name extends string>(
  purposes: Readonly<Record<Name, KeyPurpose>>,
): (env: IdentityEnv & object) => Promise<EnvKeyrings<Name>> {
  const cache = new WeakMap<object, Promise<EnvKeyrings<Name>>>();
  const names = Object.keys(purposes) as Name[];
  const load = async (env: IdentityEnv): Promise<EnvKeyrings<Name>> => {
    const state = readIdentity(env);
    if (state.status !== "ready") return { ready: false, state };
    const keyrings = await Promise.all(names.map((name) => keyringFor(state.identity, purposes[name])));
    const named = Object.fromEntries(names.map((name, i) => [name, keyrings[i]]));
    return { ready: true, state, ...named } as EnvKeyrings<Name>;
  };
  return (env) => {
    let loading = cache.get(env);
    if (loading === undefined) {
      loading = load(env);
      cache.set(env, loading);
    }
    return loading;
  };
}

const reports = new WeakMap<object, Promise<IdentityReport>>();

/** Fingerprints and mode of env's identity for `/.well-known/mini-sites`, never a secret; once per env. */
export function identityReportOf(env: IdentityEnv & object): Promise<IdentityReport> {
  let loading = reports.get(env);
  if (loading === undefined) {
    loading = identityReport(readIdentity(env));
    reports.set(env, loading);
  }
  return loading;
}
