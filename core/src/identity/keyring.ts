/**
 * Keyrings and key ids. A keyring is what a Worker keeps per purpose: the current key (signs and
 * verifies) and, during a rotation's overlap window, the previous key (verifies only). Keys are
 * imported as non-extractable CryptoKeys once per keyring, never per request, so verification costs
 * one HMAC.
 *
 * A key id is a fingerprint, never the key: the first KEY_ID_BYTES of HMAC-SHA256(key, KEY_ID_LABEL).
 * It tells operators (and `doctor`, and GRANT_KEY_UNKNOWN) which key signed what, and reveals nothing
 * usable about a key of ≥ 32 bytes.
 */

import { hexEncode } from "../crypto.ts";
import type { DeploymentIdentity, IdentityMode, IdentityState } from "./config.ts";
import { INITIAL_KEY_VERSION, KEY_PURPOSES, type KeyPurpose } from "./purposes.ts";

/**
 * 3 bytes (6 hex characters): enough to tell a handful of live keys and a foreign deployment's key
 * apart (a chance collision is 1 in 16.7 M and only weakens a diagnosis, never verification, which
 * tries every key with that id); small because every grant carries it (grants/layout.ts).
 */
export const KEY_ID_BYTES = 3;
const KEY_ID_LABEL = new TextEncoder().encode("mini-sites key id");

/**
 * The platform's CryptoKey, named through `crypto.subtle` because the core also typechecks under Node's
 * types (tests, bench), which have no global `CryptoKey` type.
 */
export type PlatformCryptoKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

/** Lowercase hex of the key id bytes. */
export type KeyId = string;

export interface KeyringKey {
  readonly id: KeyId;
  readonly idBytes: Uint8Array;
  /** HMAC-SHA256, non-extractable, usage `sign` (MACs are compared with timingSafeEqual). */
  readonly hmac: PlatformCryptoKey;
}

export interface Keyring {
  readonly purpose: KeyPurpose;
  readonly current: KeyringKey;
  readonly previous: KeyringKey | undefined;
}

async function importKey(raw: Uint8Array<ArrayBuffer>): Promise<KeyringKey> {
  const hmac = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const idBytes = new Uint8Array(await crypto.subtle.sign("HMAC", hmac, KEY_ID_LABEL)).slice(0, KEY_ID_BYTES);
  return { id: hexEncode(idBytes), idBytes, hmac };
}

/** The key id of raw key bytes. */
export async function keyIdOf(raw: Uint8Array<ArrayBuffer>): Promise<KeyId> {
  return (await importKey(raw)).id;
}

/** A keyring from raw key bytes. A previous key equal to the current one is dropped. */
export async function createKeyring(
  purpose: KeyPurpose,
  current: Uint8Array<ArrayBuffer>,
  previous?: Uint8Array<ArrayBuffer>,
): Promise<Keyring> {
  const currentKey = await importKey(current);
  const previousKey = previous === undefined ? undefined : await importKey(previous);
  const same =
    previous !== undefined &&
    previous.length === current.length &&
    previous.every((b, i) => b === current[i]);
  return { purpose, current: currentKey, previous: same ? undefined : previousKey };
}

/** The keyring for one purpose of a deployment: build it once per Worker isolate and keep it. */
export async function keyringFor(
  identity: DeploymentIdentity,
  purpose: KeyPurpose,
  version: number = INITIAL_KEY_VERSION,
): Promise<Keyring> {
  const current = await identity.deriveKey(purpose, { version, generation: "current" });
  const previous = await identity.deriveKey(purpose, { version, generation: "previous" });
  return createKeyring(purpose, current as Uint8Array<ArrayBuffer>, previous);
}

/** The key ids a keyring accepts, current first. */
export function keyringIds(keyring: Keyring): KeyId[] {
  return keyring.previous ? [keyring.current.id, keyring.previous.id] : [keyring.current.id];
}

export interface KeyIds {
  readonly current: KeyId;
  readonly previous: KeyId | null;
}

/**
 * What `GET /.well-known/mini-sites` and `doctor` show about a Worker's identity: the mode, the public
 * id and every purpose's key ids. Safe to publish: no secret, no key, no derivable material.
 */
export type IdentityReport =
  | {
      readonly status: "ready";
      readonly mode: IdentityMode;
      readonly appPid: string | null;
      readonly keyIds: Readonly<Record<KeyPurpose, KeyIds>>;
      readonly ignored: readonly string[];
    }
  | {
      readonly status: "missing" | "invalid";
      readonly code: string;
      readonly variables: readonly string[];
      readonly message: string;
    };

export async function identityReport(
  state: IdentityState,
  version: number = INITIAL_KEY_VERSION,
): Promise<IdentityReport> {
  if (state.status !== "ready") {
    return { status: state.status, code: state.code, variables: state.variables, message: state.message };
  }
  const { identity } = state;
  const keyIds = {} as Record<KeyPurpose, KeyIds>;
  for (const purpose of KEY_PURPOSES) {
    const keyring = await keyringFor(identity, purpose, version);
    keyIds[purpose] = { current: keyring.current.id, previous: keyring.previous?.id ?? null };
  }
  return {
    status: "ready",
    mode: identity.mode,
    appPid: identity.appPid ?? null,
    keyIds,
    ignored: identity.ignored,
  };
}
