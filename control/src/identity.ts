/**
 * This isolate's deployment identity and the keys derived from it, built once per env (HKDF and key
 * import cost more than a request should pay). One place for every key the control Worker holds:
 * grants (grants.ts mints them; the dispatch Worker derives the same key to verify them), the audit
 * chain, and upload tickets (macro/ticket.ts). A missing or weak secret yields no keys at all: what
 * needs a key fails closed, and `/.well-known/mini-sites` says which variable is missing (DESIGN §4).
 */

import {
  type EnvKeyrings,
  type IdentityReport,
  identityReportOf,
  KEY_PURPOSE,
  keyringCache,
} from "@mini-sites/core";
import type { ControlEnv } from "./env.ts";

export type ControlKeys = EnvKeyrings<"grant" | "audit" | "uploadTicket">;

const keys = keyringCache({
  grant: KEY_PURPOSE.grant,
  audit: KEY_PURPOSE.audit,
  uploadTicket: KEY_PURPOSE.uploadTicket,
});

export function controlKeys(env: ControlEnv): Promise<ControlKeys> {
  return keys(env);
}

/** Fingerprints and mode for `/.well-known/mini-sites`; never a secret (core identityReport). */
export function controlIdentityReport(env: ControlEnv): Promise<IdentityReport> {
  return identityReportOf(env);
}
