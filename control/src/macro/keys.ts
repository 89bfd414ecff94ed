/**
 * The keys the Macro API uses, derived once per isolate from the deployment identity (DESIGN §4):
 * the grant keyring (the dispatch Worker verifies what this mints, so both derive it the same way)
 * and the upload-ticket key.
 *
 * The upload-ticket key needs a purpose of its own (a ticket MAC must never verify as anything else).
 * core/src/identity/purposes.ts has no such purpose yet, and the core is not ours to edit, so until
 * the lead adds `KEY_PURPOSE.uploadTicket` the key is HMAC(grant key, UPLOAD_TICKET_KEY_LABEL): HMAC is
 * a PRF, the label is text that no grant input (22 bytes starting 0x01) and no key-id input ("mini-sites
 * key id") can equal, so the subkey is independent of every grant MAC. Swap `uploadTicketKeyBytes` for
 * `identity.deriveKey(KEY_PURPOSE.uploadTicket)` when the purpose exists; tickets live minutes, so the
 * switch invalidates nothing that matters.
 */

import { type IdentityEnv, KEY_PURPOSE, type Keyring, keyringFor, readIdentity } from "@mini-sites/core";

export type MacroKeys =
  | { readonly ready: true; readonly grant: Keyring; readonly uploadTicket: PlatformHmacKey }
  | { readonly ready: false; readonly variables: readonly string[]; readonly message: string };

type PlatformHmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

/** The label under which the interim upload-ticket key is derived from the grant key. */
export const UPLOAD_TICKET_KEY_LABEL = "mini-sites/upload-ticket/v1";

const cache = new WeakMap<object, Promise<MacroKeys>>();

async function load(env: IdentityEnv): Promise<MacroKeys> {
  const state = readIdentity(env);
  if (state.status !== "ready") return { ready: false, variables: state.variables, message: state.message };
  const grant = await keyringFor(state.identity, KEY_PURPOSE.grant);
  const raw = await crypto.subtle.sign(
    "HMAC",
    grant.current.hmac,
    new TextEncoder().encode(UPLOAD_TICKET_KEY_LABEL),
  );
  const uploadTicket = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return { ready: true, grant, uploadTicket };
}

/** This env's macro keys (built once per env object, as control/src/identity.ts does for the audit key). */
export function macroKeys(env: IdentityEnv): Promise<MacroKeys> {
  let loading = cache.get(env);
  if (loading === undefined) {
    loading = load(env);
    cache.set(env, loading);
  }
  return loading;
}
