/**
 * Signed reports: how the control Worker speaks to a tenant's Forge web trigger (DESIGN §3 "Monitors
 * and tenant keys"). A web trigger URL is unauthenticated by design — anyone who learns it can POST
 * to it — so this signature IS the authentication. Threats, and what answers each:
 *
 *   - a forged or altered report           Ed25519 over the canonical string, which covers the body's
 *                                           SHA-256: any changed byte of body or header fails
 *   - another tenant's report (or key)      the tenant is in the signed string AND must equal the
 *                                           tenant the receiver registered; keys are per tenant
 *   - a captured report sent again          a nonce the receiver remembers for the whole window
 *   - a captured report kept for later      timestamp within ±REPORT_WINDOW_SECONDS of the receiver's clock
 *   - header smuggling                      every header exactly once, in one canonical spelling only
 *   - a retired key                         the previous key verifies only until its overlap ends
 *
 * The nonce is remembered only AFTER the signature verified, so unsigned junk cannot fill the store.
 * Pure functions over bytes and values (WebCrypto Ed25519: workerd, Node ≥ 22 and Forge's Node 22
 * runtime have it), shared by the signer (control Worker) and the verifier (the Forge function).
 */

import { base64urlDecode, base64urlEncode, hexEncode, sha256, sha256Hex } from "../crypto.ts";

/** Header names, lowercase (Forge hands a web trigger its headers lowercased). */
export const REPORT_HEADERS = {
  timestamp: "x-mini-sites-timestamp",
  nonce: "x-mini-sites-nonce",
  tenant: "x-mini-sites-tenant",
  keyId: "x-mini-sites-key-id",
  signature: "x-mini-sites-signature",
} as const;

/**
 * ±5 minutes (DESIGN §3): wide enough for clock skew between Cloudflare and Forge plus a retried
 * delivery's queueing, narrow enough that the nonce store only needs to hold one window of nonces.
 */
export const REPORT_WINDOW_SECONDS = 300;

/** The first line of the signed string: a version, so a later format can never verify as this one. */
export const REPORT_SIGNATURE_CONTEXT = "mini-sites-report/v1";

/** 16 random bytes: a repeat by chance is never expected within a window. */
export const REPORT_NONCE_BYTES = 16;
/** 8 bytes of SHA-256 over the raw public key: tells a tenant's current and previous key apart. */
export const REPORT_KEY_ID_BYTES = 8;
const ED25519_PUBLIC_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;

const TIMESTAMP = /^[1-9][0-9]{0,11}$/;
const NONCE = /^[A-Za-z0-9_-]{22}$/;
const TENANT = /^[a-z2-7]{1,64}$/;
const KEY_ID = /^[0-9a-f]{16}$/;
const SIGNATURE = /^[A-Za-z0-9_-]{86}$/;

export const REPORT_REFUSALS = [
  /** A required header is absent. */
  "REPORT_HEADER_MISSING",
  /** A header was sent more than once (a proxy or an attacker may pick another copy than we did). */
  "REPORT_HEADER_DUPLICATED",
  /** A header is not in its one canonical spelling. */
  "REPORT_HEADER_MALFORMED",
  /** The report names another tenant than the one this receiver registered. */
  "REPORT_WRONG_TENANT",
  /** The timestamp is outside ±REPORT_WINDOW_SECONDS of the receiver's clock (stale or future). */
  "REPORT_STALE",
  /** The key id is not one the receiver holds for this tenant. */
  "REPORT_KEY_UNKNOWN",
  /** The key id is the previous key, and its overlap window has ended. */
  "REPORT_KEY_RETIRED",
  /** The signature does not verify over the canonical string. */
  "REPORT_BAD_SIGNATURE",
  /** The nonce was already used within the window. */
  "REPORT_REPLAYED",
] as const;

export type ReportRefusal = (typeof REPORT_REFUSALS)[number];

/** The signed string: context, timestamp, nonce, tenant and the body's SHA-256, one per line. */
export async function canonicalReportString(parts: {
  readonly timestamp: string;
  readonly nonce: string;
  readonly tenant: string;
  readonly body: Uint8Array | string;
}): Promise<string> {
  return [
    REPORT_SIGNATURE_CONTEXT,
    parts.timestamp,
    parts.nonce,
    parts.tenant,
    await sha256Hex(parts.body),
  ].join("\n");
}

/** The CryptoKey type of this platform (Node's types have no global `CryptoKey`). */
type PlatformKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

const ED25519 = { name: "Ed25519" } as const;

export interface TenantKeyPair {
  /** Raw Ed25519 public key, 32 bytes: what the Forge side stores. */
  readonly publicKey: Uint8Array<ArrayBuffer>;
  /** PKCS #8 private key: what the control Worker wraps and stores. */
  readonly privateKeyPkcs8: Uint8Array<ArrayBuffer>;
  readonly keyId: string;
}

/** A new Ed25519 key pair for one tenant. */
export async function generateTenantKeyPair(): Promise<TenantKeyPair> {
  const pair = (await crypto.subtle.generateKey(ED25519, true, ["sign", "verify"])) as {
    publicKey: PlatformKey;
    privateKey: PlatformKey;
  };
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const privateKeyPkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  return { publicKey, privateKeyPkcs8, keyId: await reportKeyIdOf(publicKey) };
}

/** The key id of a raw public key: 16 hex characters of its SHA-256. */
export async function reportKeyIdOf(publicKey: Uint8Array): Promise<string> {
  return hexEncode((await sha256(publicKey)).slice(0, REPORT_KEY_ID_BYTES));
}

export function importReportSigningKey(pkcs8: Uint8Array<ArrayBuffer>): Promise<PlatformKey> {
  return crypto.subtle.importKey("pkcs8", pkcs8, ED25519, false, ["sign"]);
}

/** A public key as the Forge side stores it: base64url of the 32 raw bytes. */
export function encodeReportPublicKey(publicKey: Uint8Array): string {
  return base64urlEncode(publicKey);
}

export function decodeReportPublicKey(text: string): Uint8Array<ArrayBuffer> | undefined {
  const bytes = base64urlDecode(text);
  return bytes?.length === ED25519_PUBLIC_KEY_BYTES ? (bytes as Uint8Array<ArrayBuffer>) : undefined;
}

/** The headers that make `body` a signed report of `tenant`, at `nowMs`. */
export async function signReport(args: {
  readonly signingKey: PlatformKey;
  readonly keyId: string;
  readonly tenant: string;
  readonly body: Uint8Array | string;
  readonly nowMs: number;
  /** Tests only: a fixed nonce. */
  readonly nonce?: string;
}): Promise<Record<string, string>> {
  const timestamp = String(Math.floor(args.nowMs / 1000));
  const nonce = args.nonce ?? base64urlEncode(crypto.getRandomValues(new Uint8Array(REPORT_NONCE_BYTES)));
  const signed = await canonicalReportString({ timestamp, nonce, tenant: args.tenant, body: args.body });
  const signature = new Uint8Array(
    await crypto.subtle.sign(ED25519, args.signingKey, new TextEncoder().encode(signed)),
  );
  return {
    [REPORT_HEADERS.timestamp]: timestamp,
    [REPORT_HEADERS.nonce]: nonce,
    [REPORT_HEADERS.tenant]: args.tenant,
    [REPORT_HEADERS.keyId]: args.keyId,
    [REPORT_HEADERS.signature]: base64urlEncode(signature),
  };
}

/** A public key the receiver holds for its tenant. */
export interface ReportVerifyKey {
  readonly keyId: string;
  /** base64url of the raw 32 bytes, as stored. */
  readonly publicKey: string;
  /** The previous key of a rotation verifies only until then (ms since the epoch); unset = current. */
  readonly acceptUntil?: number;
}

/**
 * Headers as they arrive: a fetch `Headers`, or a record whose values may be arrays (Forge's web
 * trigger request: `Record<string, string[]>`).
 */
export type ReportHeaderSource =
  | { get(name: string): string | null; forEach(fn: (value: string, name: string) => void): void }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

export type ReportVerdict =
  | { readonly ok: true; readonly keyId: string; readonly timestamp: number; readonly nonce: string }
  | { readonly ok: false; readonly code: ReportRefusal; readonly header?: string };

/** Every value of one header, whatever its case in the source. */
function valuesOf(source: ReportHeaderSource, name: string): string[] {
  const values: string[] = [];
  if (typeof (source as { forEach?: unknown }).forEach === "function" && "get" in source) {
    (source as { forEach(fn: (value: string, name: string) => void): void }).forEach((value, key) => {
      if (key.toLowerCase() === name) values.push(value);
    });
    return values;
  }
  for (const [key, value] of Object.entries(source as Record<string, unknown>)) {
    if (key.toLowerCase() !== name || value === undefined) continue;
    if (Array.isArray(value)) values.push(...value.map(String));
    else values.push(String(value));
  }
  return values;
}

export interface VerifyReportArgs {
  readonly headers: ReportHeaderSource;
  readonly body: Uint8Array | string;
  /** The tenant this receiver registered (from its own storage, never from the request). */
  readonly tenant: string;
  readonly keys: readonly ReportVerifyKey[];
  readonly nowMs: number;
  /**
   * Remembers `nonce` until `expiresAtMs`; answers false if it was already remembered. Called only
   * once everything else verified.
   */
  readonly rememberNonce: (nonce: string, expiresAtMs: number) => Promise<boolean>;
}

export async function verifyReport(args: VerifyReportArgs): Promise<ReportVerdict> {
  const read: Record<keyof typeof REPORT_HEADERS, string> = {
    timestamp: "",
    nonce: "",
    tenant: "",
    keyId: "",
    signature: "",
  };
  for (const [field, name] of Object.entries(REPORT_HEADERS) as [keyof typeof REPORT_HEADERS, string][]) {
    const values = valuesOf(args.headers, name);
    if (values.length === 0) return { ok: false, code: "REPORT_HEADER_MISSING", header: name };
    if (values.length > 1) return { ok: false, code: "REPORT_HEADER_DUPLICATED", header: name };
    read[field] = values[0] as string;
  }
  const formats: [keyof typeof REPORT_HEADERS, RegExp][] = [
    ["timestamp", TIMESTAMP],
    ["nonce", NONCE],
    ["tenant", TENANT],
    ["keyId", KEY_ID],
    ["signature", SIGNATURE],
  ];
  for (const [field, pattern] of formats)
    if (!pattern.test(read[field]))
      return { ok: false, code: "REPORT_HEADER_MALFORMED", header: REPORT_HEADERS[field] };

  if (read.tenant !== args.tenant) return { ok: false, code: "REPORT_WRONG_TENANT" };
  const timestamp = Number(read.timestamp);
  if (Math.abs(args.nowMs / 1000 - timestamp) > REPORT_WINDOW_SECONDS)
    return { ok: false, code: "REPORT_STALE" };

  const key = args.keys.find((k) => k.keyId === read.keyId);
  if (key === undefined) return { ok: false, code: "REPORT_KEY_UNKNOWN" };
  if (key.acceptUntil !== undefined && args.nowMs > key.acceptUntil)
    return { ok: false, code: "REPORT_KEY_RETIRED" };
  const raw = decodeReportPublicKey(key.publicKey);
  const signature = base64urlDecode(read.signature);
  if (raw === undefined || signature?.length !== ED25519_SIGNATURE_BYTES)
    return { ok: false, code: "REPORT_BAD_SIGNATURE" };
  // The stored key must be the key its id names: a receiver's store mix-up never verifies.
  if ((await reportKeyIdOf(raw)) !== key.keyId) return { ok: false, code: "REPORT_KEY_UNKNOWN" };
  const publicKey = await crypto.subtle.importKey("raw", raw, ED25519, false, ["verify"]);
  const signed = await canonicalReportString({
    timestamp: read.timestamp,
    nonce: read.nonce,
    tenant: read.tenant,
    body: args.body,
  });
  const valid = await crypto.subtle.verify(
    ED25519,
    publicKey,
    signature as Uint8Array<ArrayBuffer>,
    new TextEncoder().encode(signed),
  );
  if (!valid) return { ok: false, code: "REPORT_BAD_SIGNATURE" };

  // Remembered past the far edge of the window, so the same report can never be accepted twice.
  const expiresAt = (timestamp + REPORT_WINDOW_SECONDS) * 1000 + 1000;
  if (!(await args.rememberNonce(read.nonce, expiresAt))) return { ok: false, code: "REPORT_REPLAYED" };
  return { ok: true, keyId: key.keyId, timestamp, nonce: read.nonce };
}

/**
 * A nonce ledger that fits one stored value (Forge KVS): nonce → expiry. Returns the ledger to store
 * and whether the nonce was fresh. Expired nonces are dropped; past `cap` live entries the report is
 * refused as a replay (fail closed) rather than forgetting a nonce still inside its window.
 */
export function rememberInLedger(
  ledger: Readonly<Record<string, number>>,
  nonce: string,
  expiresAtMs: number,
  nowMs: number,
  cap: number,
): { readonly fresh: boolean; readonly ledger: Record<string, number> } {
  const live: Record<string, number> = {};
  for (const [seen, expiry] of Object.entries(ledger)) if (expiry > nowMs) live[seen] = expiry;
  if (nonce in live || Object.keys(live).length >= cap) return { fresh: false, ledger: live };
  live[nonce] = expiresAtMs;
  return { fresh: true, ledger: live };
}
