/**
 * HS256 JSON Web Tokens for the stand-in's upload and completion tokens.
 *
 * Hand-written on node:crypto rather than with jose (the project's choice for JWTs) because the dev
 * workspace does not depend on jose and this is test infrastructure signing only its own tokens: one
 * algorithm, fixed header, constant-time MAC check, expiry. Real Cloudflare tokens are opaque to
 * clients except that wrangler base64-decodes the payload to read `exp` (deploy-helpers `jwt.ts`), so
 * the payload must be plain JSON with a numeric `exp` in seconds.
 */

import { createHmac, timingSafeEqual } from "node:crypto";

const HEADER = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");

export type TokenKind = "upload" | "completion";

export interface TokenClaims {
  readonly kind: TokenKind;
  /** Upload session id. */
  readonly sid: string;
  readonly iat: number;
  readonly exp: number;
}

export type VerifyResult =
  | { readonly ok: true; readonly claims: TokenClaims }
  | { readonly ok: false; readonly reason: "malformed" | "bad-signature" | "expired" };

function mac(secret: Buffer, input: string): Buffer {
  return createHmac("sha256", secret).update(input).digest();
}

export function signToken(secret: Buffer, claims: TokenClaims): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
  const input = `${HEADER}.${payload}`;
  return `${input}.${mac(secret, input).toString("base64url")}`;
}

export function verifyToken(secret: Buffer, token: string, nowSeconds: number): VerifyResult {
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, reason: "malformed" };
  const [header, payload, signature] = parts as [string, string, string];
  // Only our fixed header is accepted: no `alg` negotiation, so no `none` or key-confusion tricks.
  if (header !== HEADER) return { ok: false, reason: "malformed" };
  const expected = mac(secret, `${header}.${payload}`);
  const given = Buffer.from(signature, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: "bad-signature" };
  }
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    return { ok: false, reason: "malformed" };
  }
  if (!isClaims(claims)) return { ok: false, reason: "malformed" };
  if (claims.exp <= nowSeconds) return { ok: false, reason: "expired" };
  return { ok: true, claims };
}

function isClaims(value: unknown): value is TokenClaims {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    (v.kind === "upload" || v.kind === "completion") &&
    typeof v.sid === "string" &&
    typeof v.iat === "number" &&
    typeof v.exp === "number"
  );
}
