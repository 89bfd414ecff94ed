/**
 * Work that must not delay the answer: `last_used_at` of API tokens, denial counts, the audit record
 * of a refused request. A failure costs only that work (logged by code, never with request data).
 */

import type { AppContext } from "../app/context.ts";
import type { AuditEntry } from "../audit/chain.ts";
import { audit } from "../audit/log.ts";

export function afterResponse(c: AppContext, work: Promise<unknown>): void {
  const guarded = work.catch(() => {});
  try {
    c.executionCtx.waitUntil(guarded);
  } catch {
    // No execution context (in-process requests in tests): the promise still runs to completion.
  }
}

/** Appends to the tenant's audit chain after the response; a refusal never waits for its record. */
export function auditInBackground(c: AppContext, entry: AuditEntry): void {
  afterResponse(
    c,
    audit(c.env, entry).catch(() =>
      console.error(
        JSON.stringify({ level: "error", event: "audit.background_failed", action: entry.action }),
      ),
    ),
  );
}
