/**
 * Upload tickets: the editor's bundle cannot ride invokeRemote (JSON bodies only, 25 s,
 * developer.atlassian.com/platform/forge/forge-remote-invocation-contract), so the browser sends it in
 * chunks with `requestRemote`, which carries a FIT but no user token
 * (developer.atlassian.com/platform/forge/apis-reference/ui-api-bridge/requestRemote). The update
 * permission is therefore checked once, with the user's token, when the ticket is issued; the ticket
 * then carries that decision for a short time, bound to (tenant, site, content, user, R2 upload).
 *
 * Threats: forging or altering a ticket (HMAC-SHA256 over the exact payload bytes, full 256-bit tag,
 * constant-time compare); replaying it from another tenant, page or user (every chunk request's FIT
 * must name the same tenant, content and account as the ticket); using it late (expiry). A ticket is
 * not a secret to the user who got it, only unforgeable, so its payload holds ids, never a credential.
 */

import { base64urlDecode, base64urlEncode, timingSafeEqual } from "@mini-sites/core";

/**
 * How long a ticket is good for. Long enough to push the largest bundle (100 MiB, DESIGN §5) over a
 * slow 1 Mbit/s link (~14 min), short enough that a ticket copied out of a browser is soon useless —
 * and it is useless anyway without a fresh FIT of the same user, page and tenant.
 */
export const UPLOAD_TICKET_TTL_SECONDS = 30 * 60;

/** Format tag in the payload; a future layout gets a new one instead of being misread. */
const TICKET_FORMAT = 2;

export interface UploadTicketClaims {
  /** The upload's id (its row in upload_tickets, and the nonce of its R2 prefix). */
  readonly id: string;
  /** Tenant short id. */
  readonly tenant: string;
  readonly site: string;
  readonly contentId: string;
  /** Atlassian account id of the user the update permission was checked for. */
  readonly account: string;
  /** R2 key the assembled bundle is written to (under the tenant's prefix). */
  readonly key: string;
  /** R2 multipart upload id. */
  readonly uploadId: string;
  /** Declared total size in bytes; chunk sizes are derived from it. */
  readonly size: number;
  readonly chunkBytes: number;
  /** Unix seconds. */
  readonly expiresAt: number;
}

type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

async function tag(key: HmacKey, payload: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, payload));
}

export async function signUploadTicket(key: HmacKey, claims: UploadTicketClaims): Promise<string> {
  const payload = new TextEncoder().encode(JSON.stringify({ f: TICKET_FORMAT, ...claims }));
  return `${base64urlEncode(payload)}.${base64urlEncode(await tag(key, payload))}`;
}

export type TicketVerdict =
  | { readonly ok: true; readonly claims: UploadTicketClaims }
  | { readonly ok: false; readonly code: "UPLOAD_TICKET_INVALID" | "UPLOAD_TICKET_EXPIRED" };

/** Tickets are a few hundred characters; refuse anything far larger before decoding it. */
export const MAX_TICKET_LENGTH = 4096;

function isClaims(value: unknown): value is UploadTicketClaims & { f: number } {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    v.f === TICKET_FORMAT &&
    typeof v.id === "string" &&
    typeof v.tenant === "string" &&
    typeof v.site === "string" &&
    typeof v.contentId === "string" &&
    typeof v.account === "string" &&
    typeof v.key === "string" &&
    typeof v.uploadId === "string" &&
    Number.isSafeInteger(v.size) &&
    Number.isSafeInteger(v.chunkBytes) &&
    Number.isSafeInteger(v.expiresAt)
  );
}

/** Checks order: shape → MAC → expiry, so an altered ticket is never reported as merely expired. */
export async function verifyUploadTicket(key: HmacKey, text: string, nowMs: number): Promise<TicketVerdict> {
  const invalid: TicketVerdict = { ok: false, code: "UPLOAD_TICKET_INVALID" };
  if (text.length > MAX_TICKET_LENGTH) return invalid;
  const parts = text.split(".");
  if (parts.length !== 2) return invalid;
  const payload = base64urlDecode(parts[0] as string);
  const mac = base64urlDecode(parts[1] as string);
  if (payload === undefined || mac === undefined) return invalid;
  if (!timingSafeEqual(mac, await tag(key, payload))) return invalid;
  let claims: unknown;
  try {
    claims = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return invalid;
  }
  if (!isClaims(claims)) return invalid;
  if (Math.floor(nowMs / 1000) >= claims.expiresAt) return { ok: false, code: "UPLOAD_TICKET_EXPIRED" };
  const { f: _format, ...rest } = claims;
  return { ok: true, claims: rest };
}
