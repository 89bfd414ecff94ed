/**
 * Every key of a deployment is derived for one purpose and one key version, so a key made for one job
 * can never be replayed in another (a grant MAC key never wraps a tenant key, an audit MAC never
 * verifies a grant). The label is the HKDF `info` (DESIGN §4): `mini-sites/<purpose>/v<version>`.
 */

export const KEY_PURPOSE = {
  /** HMAC key for serve grants (grants/). */
  grant: "grant",
  /** Wraps tenants' Ed25519 private keys at rest (envelope encryption, DESIGN §3 Monitors). */
  tenantKeyWrap: "tenant-key-wrap",
  /** Keys the audit log's HMAC hash chain (DESIGN §6.8). */
  audit: "audit",
  /**
   * MACs the Macro API's upload tickets (control/src/macro/ticket.ts): an editor's update permission,
   * carried to the chunk requests that cannot carry the user's token. Never verifies as a grant.
   */
  uploadTicket: "upload-ticket",
} as const;

export type KeyPurpose = (typeof KEY_PURPOSE)[keyof typeof KEY_PURPOSE];

export const KEY_PURPOSES: readonly KeyPurpose[] = Object.values(KEY_PURPOSE);

/** Key version used until a derived key is rotated on purpose (rotation re-wraps what it protects). */
export const INITIAL_KEY_VERSION = 1;

export function keyLabel(purpose: KeyPurpose, version: number): string {
  if (!KEY_PURPOSES.includes(purpose)) throw new RangeError(`unknown key purpose: ${String(purpose)}`);
  if (!Number.isInteger(version) || version < 1)
    throw new RangeError("key version must be a positive integer");
  return `mini-sites/${purpose}/v${version}`;
}
