/**
 * What may go into an audit row's detail (DESIGN §6.7: no secret or full token is ever logged). The
 * audit log outlives everything and is read by operators, so details are cleaned on the way in:
 * values under a secret-sounding key are replaced by their redaction, and any string the core's secret
 * scanner flags — or that looks like one of our own API tokens — is redacted wherever it appears.
 */

import { redact, scanText } from "@mini-sites/core";
import type { JsonValue } from "./canonical.ts";

/** Keys whose values are never stored: credentials by name, whatever their content. */
const SECRET_KEY =
  /(secret|token|password|passwd|authorization|cookie|credential|psk|private|api[-_]?key|^key$|grant)/i;

/** Our API tokens (`ms_…`, issue 4 item 3): recognisable by prefix, so no scanner heuristics needed. */
const API_TOKEN = /\bms_[A-Za-z0-9_-]{16,}/g;

/** Longest string kept in a detail value; longer text is cut (details describe, they do not archive). */
export const MAX_DETAIL_STRING = 500;

function cleanString(text: string): string {
  const out = text.replace(API_TOKEN, (token) => redact(token));
  // The scanner reports where a secret is, not the secret; a detail string is short, so the whole
  // string goes rather than a guess at the secret's extent.
  const findings = scanText("audit", out);
  if (findings.length > 0) return `[redacted: ${findings.map((f) => f.rule).join(", ")}]`;
  return out.length > MAX_DETAIL_STRING ? `${out.slice(0, MAX_DETAIL_STRING)}…` : out;
}

function clean(value: unknown, depth: number): JsonValue {
  if (depth > 8) return "[nested too deep]";
  if (value === null || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "string") return cleanString(value);
  if (Array.isArray(value)) return value.slice(0, 50).map((item) => clean(item, depth + 1));
  if (typeof value === "object") {
    const out: { [key: string]: JsonValue } = {};
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      if (item === undefined) continue;
      out[key] = SECRET_KEY.test(key)
        ? typeof item === "string"
          ? redact(item)
          : "[redacted]"
        : clean(item, depth + 1);
    }
    return out;
  }
  return String(value);
}

/** A copy of `detail` that is safe to keep forever. */
export function sanitizeDetail(detail: Readonly<Record<string, unknown>>): { [key: string]: JsonValue } {
  return clean(detail, 0) as { [key: string]: JsonValue };
}
