/**
 * The shared secret for CI and smoke checks: header `x-mini-sites-secret` must equal
 * `CONTROL_SHARED_SECRET` (DESIGN §6 invariant 2).
 *
 * Threats: an unset secret must not mean "open" — unset ⇒ every call 401; a short secret is refused at
 * start-up, as core/identity refuses short grant secrets (≥ 32 bytes, the same `secretToBytes` reading
 * so `wrangler secret put` with or without a trailing newline agrees); comparison timing must reveal
 * neither where a guess differs nor how long the secret is, so both sides are hashed to 32 bytes and
 * the digests compared in constant time; the secret lives in a private field, so logging the config
 * object cannot print it.
 */

import { MIN_SECRET_BYTES, secretToBytes, sha256, timingSafeEqual } from "@mini-sites/core";
import { MAX_SHARED_SECRET_HEADER_BYTES } from "./constants.ts";
import { type AuthResult, denied } from "./errors.ts";

export interface SharedSecretEnv {
  readonly CONTROL_SHARED_SECRET?: unknown;
}

export class SharedSecret {
  readonly #digest: Promise<Uint8Array<ArrayBuffer>>;
  constructor(secret: Uint8Array<ArrayBuffer>) {
    this.#digest = sha256(secret);
  }

  /** `presented` is the header value, or null when the header is absent. */
  async verify(presented: string | null): Promise<AuthResult<true>> {
    if (presented === null || presented === "") return denied("AUTH_MISSING");
    const bytes = secretToBytes(presented);
    if (bytes.length > MAX_SHARED_SECRET_HEADER_BYTES) return denied("AUTH_TOO_LARGE");
    const [expected, actual] = await Promise.all([this.#digest, sha256(bytes)]);
    return timingSafeEqual(expected, actual) ? { ok: true, value: true } : denied("AUTH_INVALID_TOKEN");
  }

  toJSON(): string {
    return "[SharedSecret]";
  }
}

export type SharedSecretState =
  | { readonly status: "ready"; readonly secret: SharedSecret }
  /** Not configured: the shared-secret method is off and every call presenting it answers 401. */
  | { readonly status: "unset" }
  | { readonly status: "weak"; readonly bytes: number; readonly message: string };

/** Reads CONTROL_SHARED_SECRET. Never throws, never returns the secret's text. */
export function readSharedSecret(env: SharedSecretEnv): SharedSecretState {
  const raw = env.CONTROL_SHARED_SECRET;
  if (typeof raw !== "string" || raw.trim() === "") return { status: "unset" };
  const bytes = secretToBytes(raw);
  if (bytes.length < MIN_SECRET_BYTES) {
    return {
      status: "weak",
      bytes: bytes.length,
      message:
        `CONTROL_SHARED_SECRET is ${bytes.length} bytes; at least ${MIN_SECRET_BYTES} are required. ` +
        "Generate one with `openssl rand -base64 32`.",
    };
  }
  return { status: "ready", secret: new SharedSecret(bytes) };
}

export class SharedSecretConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SharedSecretConfigError";
  }
}

/** Start-up check: a set-but-short secret refuses to start; unset is allowed (the method is then off). */
export function requireSharedSecretConfig(env: SharedSecretEnv): SharedSecretState {
  const state = readSharedSecret(env);
  if (state.status === "weak") throw new SharedSecretConfigError(state.message);
  return state;
}

/** Verifies a presented header against the env's state; unset or weak ⇒ denied, whatever was sent. */
export async function verifySharedSecret(
  state: SharedSecretState,
  presented: string | null,
): Promise<AuthResult<true>> {
  if (state.status !== "ready") return denied(presented === null ? "AUTH_MISSING" : "AUTH_NOT_CONFIGURED");
  return state.secret.verify(presented);
}
