/**
 * This isolate's deployment identity and the keys derived from it, built once per env (HKDF and key
 * import cost more than a request should pay). One place for every key the control Worker holds:
 * grants (grants.ts mints them; the dispatch Worker derives the same key to verify them), the audit
 * chain, and upload tickets (macro/ticket.ts). A missing or weak secret yields no keys at all: what
 * needs a key fails closed, and `/.well-known/mini-sites` says which variable is missing (DESIGN §4).
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
  | {
      readonly ready: true;
      readonly grant: Keyring;
      readonly audit: Keyring;
      readonly uploadTicket: Keyring;
      readonly state: IdentityState;
    }
  | { readonly ready: false; readonly state: Exclude<IdentityState, { status: "ready" }> };

const keys = new WeakMap<object, Promise<ControlKeys>>();
const reports = new WeakMap<object, Promise<IdentityReport>>();

async function load(env: ControlEnv): Promise<ControlKeys> {
  const state = readIdentity(env);
  if (state.status !== "ready") return { ready: false, state };
  const [grant, audit, uploadTicket] = await Promise.all([
    keyringFor(state.identity, KEY_PURPOSE.grant),
    keyringFor(state.identity, KEY_PURPOSE.audit),
    keyringFor(state.identity, KEY_PURPOSE.uploadTicket),
  ]);
  return { ready: true, grant, audit, uploadTicket, state };
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
