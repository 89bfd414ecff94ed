/**
 * Findings travel to the CLI, API responses, the Forge UI and the audit log (DESIGN §6.7: no secret
 * is ever logged or returned). A finding shows at most the first 4 characters of what matched and
 * its length, enough for the author to recognise which key it is and not enough to use it.
 */

/** Characters shown: 4, and never more than a quarter of the secret (a 10-char password shows 2). */
export const REDACT_VISIBLE_CHARS = 4;

export function redact(secret: string): string {
  const visible = Math.min(REDACT_VISIBLE_CHARS, Math.floor(secret.length / 4));
  return `${secret.slice(0, visible)}…(${secret.length} chars)`;
}
