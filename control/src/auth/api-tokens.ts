/**
 * API tokens for the CLI, MCP and CI (`Authorization: Bearer ms_…`): scoped to one tenant, revocable,
 * stored hashed, shown once (DESIGN §6 invariant 2; issue 4 item 3).
 *
 * Format: `ms_` + 52 lowercase base32 characters (32 random bytes, 256 bits). Base32 rather than
 * base64url: no `-`/`_` inside, so a double-click selects the whole token, and one letter case.
 *
 * At rest: SHA-256 of the token text, hex. Why not HMAC with a server key, or a slow hash: a slow hash
 * (bcrypt, scrypt, argon2) exists to make guessing LOW-entropy passwords expensive; an HMAC key exists
 * to stop an attacker who stole the table from testing guesses. With 256 random bits there is nothing
 * to guess — a stolen table of SHA-256 digests gives no token back — so both would add cost (a key to
 * rotate, and a key rotation would silently revoke every token) without adding security. The digest is
 * deterministic, so the store finds a token by an indexed equality lookup.
 *
 * Timing: the presented token is hashed before the lookup, so the lookup's timing depends only on a
 * digest the caller cannot steer byte by byte; the digest is then compared in constant time against
 * the stored one (or a dummy when none was found) so that found / not-found / revoked run the same
 * code. Every failure answers the same code (AUTH_INVALID_TOKEN); the reason is kept for the audit log.
 */

import {
  base32Decode,
  base32Encode,
  base32Length,
  hexDecode,
  hexEncode,
  sha256,
  timingSafeEqual,
} from "@mini-sites/core";
import { API_TOKEN_DISPLAY_CHARS, API_TOKEN_PREFIX, API_TOKEN_SECRET_BYTES } from "./constants.ts";
import { type AuthFailure, authFailure } from "./errors.ts";
import { isScope, type Scope } from "./principal.ts";

/** A token's scopes are the one scope list (principal.ts). */
export type ApiTokenScope = Scope;

export const API_TOKEN_LENGTH = API_TOKEN_PREFIX.length + base32Length(API_TOKEN_SECRET_BYTES);

/** One stored token. Holds no secret: the digest cannot be turned back into the token. */
export interface ApiTokenRecord {
  /** Public id (`tok_…`): names the token in lists, audit entries and revocation. */
  readonly id: string;
  /** The one tenant this token acts for. */
  readonly tenantId: string;
  /** Lowercase hex SHA-256 of the full token text. Unique. */
  readonly hash: string;
  /** `ms_` + the first characters, for people telling tokens apart. */
  readonly displayPrefix: string;
  readonly scopes: readonly ApiTokenScope[];
  readonly label: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly createdBy?: string;
  readonly expiresAt?: number;
  readonly revokedAt?: number;
}

/** Implemented over D1 by the control Worker's store; `MemoryApiTokenStore` in tests. */
export interface ApiTokenStore {
  findByHash(hash: string): Promise<ApiTokenRecord | undefined>;
  insert(record: ApiTokenRecord): Promise<void>;
  /** Revokes `tokenId` only if it belongs to `tenantId`; false if there is no such token in that tenant. */
  revoke(tenantId: string, tokenId: string, at: number): Promise<boolean>;
}

export type ApiTokenLookup = Pick<ApiTokenStore, "findByHash">;

export interface NewApiToken {
  /** The token itself. Return it to the creator once; it is stored nowhere. */
  readonly token: string;
  readonly record: ApiTokenRecord;
}

export interface NewApiTokenInput {
  readonly tenantId: string;
  readonly scopes: readonly ApiTokenScope[];
  readonly label: string;
  readonly createdBy?: string;
  readonly expiresAt?: number;
  readonly now?: number;
  readonly random?: (length: number) => Uint8Array<ArrayBuffer>;
}

const TOKEN_ID_BYTES = 10;
const defaultRandom = (length: number) => crypto.getRandomValues(new Uint8Array(length));

/** Makes a token and its record without storing anything (see `issueApiToken`). */
export async function createApiToken(input: NewApiTokenInput): Promise<NewApiToken> {
  if (input.tenantId === "") throw new RangeError("an API token needs a tenant");
  if (input.scopes.length === 0) throw new RangeError("an API token needs at least one scope");
  for (const scope of input.scopes) {
    if (!isScope(scope)) throw new RangeError("unknown API token scope");
  }
  const random = input.random ?? defaultRandom;
  const token = API_TOKEN_PREFIX + base32Encode(random(API_TOKEN_SECRET_BYTES));
  const record: ApiTokenRecord = {
    id: `tok_${base32Encode(random(TOKEN_ID_BYTES))}`,
    tenantId: input.tenantId,
    hash: hexEncode(await sha256(token)),
    displayPrefix: token.slice(0, API_TOKEN_PREFIX.length + API_TOKEN_DISPLAY_CHARS),
    scopes: [...new Set(input.scopes)],
    label: input.label,
    createdAt: input.now ?? Date.now(),
    ...(input.createdBy === undefined ? {} : { createdBy: input.createdBy }),
    ...(input.expiresAt === undefined ? {} : { expiresAt: input.expiresAt }),
  };
  return { token, record };
}

/** Creates, stores and returns a token: the only moment its text exists outside the caller's hands. */
export async function issueApiToken(store: ApiTokenStore, input: NewApiTokenInput): Promise<NewApiToken> {
  const created = await createApiToken(input);
  await store.insert(created.record);
  return created;
}

/** Whether `text` has the shape of one of our tokens (no lookup, no secret involved: the format is public). */
export function looksLikeApiToken(text: string): boolean {
  if (text.length !== API_TOKEN_LENGTH || !text.startsWith(API_TOKEN_PREFIX)) return false;
  const secret = base32Decode(text.slice(API_TOKEN_PREFIX.length));
  return secret !== undefined && secret.length === API_TOKEN_SECRET_BYTES;
}

export interface VerifiedApiToken {
  readonly tenantId: string;
  readonly tokenId: string;
  readonly scopes: readonly ApiTokenScope[];
}

/** Why a token was refused — for the audit log only; the caller always sees AUTH_INVALID_TOKEN. */
export type ApiTokenRefusal =
  | "malformed"
  | "unknown"
  | "revoked"
  | "expired"
  /** The token is fine, but its tenant is gone or being erased: it stops working at once. */
  | "tenant-inactive";

export type ApiTokenResult =
  | { readonly ok: true; readonly value: VerifiedApiToken }
  | {
      readonly ok: false;
      readonly failure: AuthFailure;
      readonly reason: ApiTokenRefusal;
      readonly tokenId?: string;
    };

const NO_DIGEST = new Uint8Array(32);

export async function verifyApiToken(
  lookup: ApiTokenLookup,
  token: string,
  now: number = Date.now(),
): Promise<ApiTokenResult> {
  if (typeof token !== "string" || !looksLikeApiToken(token)) {
    return { ok: false, failure: authFailure("AUTH_MALFORMED"), reason: "malformed" };
  }
  const digest = await sha256(token);
  const record = await lookup.findByHash(hexEncode(digest));
  const stored = (record === undefined ? undefined : hexDecode(record.hash)) ?? NO_DIGEST;
  // Always compare, found or not, so both paths do the same work after the lookup.
  const matches = timingSafeEqual(digest, stored) && record !== undefined;
  if (!matches || record === undefined) {
    return { ok: false, failure: authFailure("AUTH_INVALID_TOKEN"), reason: "unknown" };
  }
  if (record.revokedAt !== undefined && record.revokedAt <= now) {
    return { ok: false, failure: authFailure("AUTH_INVALID_TOKEN"), reason: "revoked", tokenId: record.id };
  }
  if (record.expiresAt !== undefined && record.expiresAt <= now) {
    return { ok: false, failure: authFailure("AUTH_INVALID_TOKEN"), reason: "expired", tokenId: record.id };
  }
  return { ok: true, value: { tenantId: record.tenantId, tokenId: record.id, scopes: record.scopes } };
}
