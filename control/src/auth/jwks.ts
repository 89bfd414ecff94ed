/**
 * Forge's signing keys, fetched from the key set URL through jose's remote key set (cache with a
 * maximum age, refetch cooldown for unknown `kid`s) plus a guard of our own around the fetch.
 *
 * Threats: a key-set outage must deny, never allow (nothing here has a fallback key); an attacker
 * spraying tokens with random `kid`s or hitting us during an outage must not turn each request into a
 * fetch (cooldowns, constants.ts); a key-set response that is huge, not JSON, or carries symmetric
 * keys must not become a verification key (only RSA signature keys survive the guard, so even a
 * poisoned key set cannot supply an HMAC secret for an HS/RS confusion).
 */

import { createRemoteJWKSet, customFetch, type FetchImplementation, type JWTVerifyGetKey } from "jose";
import { readCapped } from "../http.ts";
import {
  JWKS_CACHE_MAX_AGE_MS,
  JWKS_FAILURE_COOLDOWN_MS,
  JWKS_FETCH_TIMEOUT_MS,
  JWKS_REFETCH_COOLDOWN_MS,
  MAX_JWKS_BYTES,
} from "./constants.ts";

/** Thrown (inside jose's key lookup) whenever the key set cannot be had; mapped to AUTH_JWKS_UNAVAILABLE. */
export class JwksUnavailableError extends Error {
  override readonly name = "JwksUnavailableError";
}

export interface ForgeKeySetOptions {
  /** Platform fetch by default; tests and the dev stack may inject one. */
  readonly fetch?: typeof fetch;
  /** Clock for the failure cooldown (jose's own cache reads `Date.now()`). */
  readonly now?: () => number;
}

export type ForgeKeySet = JWTVerifyGetKey;

export function createForgeKeySet(url: string, options: ForgeKeySetOptions = {}): ForgeKeySet {
  const fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  const now = options.now ?? Date.now;
  let failedAt: number | undefined;

  const guardedFetch: FetchImplementation = async (href, init) => {
    if (failedAt !== undefined && now() - failedAt < JWKS_FAILURE_COOLDOWN_MS) {
      throw new JwksUnavailableError("the key set failed recently; not refetching yet");
    }
    try {
      const response = await fetchImpl(href, init);
      if (response.status !== 200) {
        await response.body?.cancel();
        throw new JwksUnavailableError(`the key set answered HTTP ${response.status}`);
      }
      const keys = rsaSignatureKeys(await readJson(response, MAX_JWKS_BYTES));
      failedAt = undefined;
      return new Response(JSON.stringify({ keys }), { headers: { "content-type": "application/json" } });
    } catch (error) {
      failedAt = now();
      if (error instanceof JwksUnavailableError) throw error;
      // Network errors and aborts carry no secret, but their text is not ours to pass on.
      throw new JwksUnavailableError("the key set could not be fetched");
    }
  };

  return createRemoteJWKSet(new URL(url), {
    cacheMaxAge: JWKS_CACHE_MAX_AGE_MS,
    cooldownDuration: JWKS_REFETCH_COOLDOWN_MS,
    timeoutDuration: JWKS_FETCH_TIMEOUT_MS,
    [customFetch]: guardedFetch,
  });
}

async function readJson(response: Response, limit: number): Promise<unknown> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > limit) {
    await response.body?.cancel();
    throw new JwksUnavailableError("the key set is larger than accepted");
  }
  if (response.body === null) throw new JwksUnavailableError("the key set response has no body");
  const bytes = await readCapped(response.body, limit);
  if (bytes === undefined) throw new JwksUnavailableError("the key set is larger than accepted");
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new JwksUnavailableError("the key set is not JSON");
  }
}

/** Keeps only keys that can verify RS256: `kty` RSA, not marked for encryption, not marked for another alg. */
function rsaSignatureKeys(body: unknown): Record<string, unknown>[] {
  if (typeof body !== "object" || body === null || !Array.isArray((body as { keys?: unknown }).keys)) {
    throw new JwksUnavailableError("the key set has no keys array");
  }
  const keys: Record<string, unknown>[] = [];
  for (const key of (body as { keys: unknown[] }).keys) {
    if (typeof key !== "object" || key === null) continue;
    const jwk = key as Record<string, unknown>;
    if (jwk.kty !== "RSA") continue;
    if (jwk.use !== undefined && jwk.use !== "sig") continue;
    if (jwk.alg !== undefined && jwk.alg !== "RS256") continue;
    if (typeof jwk.n !== "string" || typeof jwk.e !== "string") continue;
    // Public members only: a private exponent in a published key set is a misconfiguration, never needed.
    const { kty, kid, n, e, alg, use } = jwk;
    keys.push({
      kty,
      n,
      e,
      ...(kid === undefined ? {} : { kid }),
      ...(alg === undefined ? {} : { alg }),
      ...(use === undefined ? {} : { use }),
    });
  }
  return keys;
}
