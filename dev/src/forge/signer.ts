/**
 * The local Forge stand-in's signing key (DESIGN §7): one RS256 key pair, kept in the data folder so
 * FITs minted before a restart still verify after it, and so a tester can point the control Worker's
 * FORGE_JWKS_URL at this stack and nothing else changes. The control Worker verifies these FITs with
 * exactly the code it uses for Forge's (control/src/auth/fit.ts); only the key set URL differs.
 *
 * The private key never leaves this process except in its file (mode 0600, inside the data folder).
 */

import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  SignJWT,
} from "jose";

export const FIT_ALGORITHM = "RS256";

export interface FitSigner {
  /** Key id in every FIT header and in the key set. */
  readonly kid: string;
  /** The public key set to serve at `/.well-known/jwks.json`. */
  jwks(): JSONWebKeySet;
  /**
   * Signs `payload` as-is with this key (RS256, this `kid` unless `header` overrides it). Shaping a FIT
   * is `signFit`'s job (fit.ts); tests use this to sign deliberately wrong claims with a trusted key.
   */
  signPayload(
    payload: JWTPayload,
    header?: { readonly kid?: string; readonly typ?: string },
  ): Promise<string>;
}

interface StoredKey {
  readonly kid: string;
  readonly privateJwk: JWK;
}

/** Key file inside the data folder. */
export function signingKeyPath(dataDir: string): string {
  return join(dataDir, "forge", "fit-signing-key.json");
}

/** Loads the data folder's key, or makes and keeps one. */
export async function loadOrCreateFitSigner(dataDir: string): Promise<FitSigner> {
  const path = signingKeyPath(dataDir);
  let stored: StoredKey | undefined;
  try {
    stored = JSON.parse(await readFile(path, "utf8")) as StoredKey;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (stored === undefined) {
    stored = await newStoredKey();
    await mkdir(join(dataDir, "forge"), { recursive: true });
    const temporary = `${path}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(stored)}\n`, { mode: 0o600 });
    await rename(temporary, path);
  }
  return signerFromJwk(stored.kid, stored.privateJwk);
}

/** A signer whose key lives only in memory (tests that need a second, untrusted key). */
export async function createEphemeralFitSigner(kid?: string): Promise<FitSigner> {
  const stored = await newStoredKey();
  return signerFromJwk(kid ?? stored.kid, stored.privateJwk);
}

async function newStoredKey(): Promise<StoredKey> {
  const { privateKey } = await generateKeyPair(FIT_ALGORITHM, { extractable: true, modulusLength: 2048 });
  const privateJwk = await exportJWK(privateKey);
  const kid = `dev-forge-${(await calculateJwkThumbprint(privateJwk)).slice(0, 16)}`;
  return { kid, privateJwk };
}

async function signerFromJwk(kid: string, privateJwk: JWK): Promise<FitSigner> {
  const privateKey = await importJWK(privateJwk, FIT_ALGORITHM);
  const { kty, n, e } = privateJwk;
  const publicJwk: JWK = { kty, n, e, kid, alg: FIT_ALGORITHM, use: "sig" };
  return {
    kid,
    jwks: () => ({ keys: [{ ...publicJwk }] }),
    signPayload: (payload, header = {}) =>
      new SignJWT(payload)
        .setProtectedHeader({
          alg: FIT_ALGORITHM,
          kid: header.kid ?? kid,
          ...(header.typ === undefined ? {} : { typ: header.typ }),
        })
        .sign(privateKey),
  };
}
