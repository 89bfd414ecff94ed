/**
 * Audit rows never hold an account id: they are MAC-chained and append-only, so a closed account's id
 * could never be taken out of them again. A Forge user is written as `forge:~<pseudonym>` — random, one
 * per tenant and account, kept in audit_actors — and shown to the tenant's admins as `forge:<accountId>`
 * again when read. Anonymizing a closed account deletes the mapping (accounts.ts), and its rows then
 * read `forge:closed~account`: still verifiable, no longer about anyone.
 */

import { hexEncode } from "@mini-sites/core";
import type { D1Database } from "../db/d1.ts";
import { accountIdOfActor, FORGE_USER_PREFIX } from "./accounts.ts";

export const PSEUDONYM_PREFIX = "forge:~";
/** How an audit row of an anonymized (closed) account reads. */
export const CLOSED_ACCOUNT_ACTOR = "forge:closed~account";

/**
 * The actor to write into an audit row of `tenantId`: a Forge user's pseudonym (made on first use),
 * anything else unchanged. Deployment-wide rows (no tenant) name no Forge user.
 */
export async function auditActorFor(
  db: D1Database,
  tenantId: string | null,
  actor: string,
  now: number,
): Promise<string> {
  const accountId = accountIdOfActor(actor);
  if (accountId === undefined || tenantId === null) return actor;
  const fresh = hexEncode(crypto.getRandomValues(new Uint8Array(12)));
  const [, found] = await db.batch([
    db
      .prepare(
        `INSERT INTO audit_actors (tenant_id, pseudonym, account_id, first_seen_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (tenant_id, account_id) DO NOTHING`,
      )
      .bind(tenantId, fresh, accountId, now),
    db
      .prepare("SELECT pseudonym FROM audit_actors WHERE tenant_id = ? AND account_id = ?")
      .bind(tenantId, accountId),
  ]);
  const pseudonym = (found?.results[0] as { pseudonym?: string } | undefined)?.pseudonym;
  if (pseudonym === undefined) throw new Error("audit_actors: the pseudonym just written is missing");
  return `${PSEUDONYM_PREFIX}${pseudonym}`;
}

/**
 * How the tenant's admins read `actors`: pseudonyms back to `forge:<accountId>`, a pseudonym whose
 * account was anonymized as CLOSED_ACCOUNT_ACTOR, everything else as written.
 */
export async function readableActors(
  db: D1Database,
  tenantId: string,
  actors: readonly string[],
): Promise<Map<string, string>> {
  const pseudonyms = [
    ...new Set(
      actors.filter((a) => a.startsWith(PSEUDONYM_PREFIX)).map((a) => a.slice(PSEUDONYM_PREFIX.length)),
    ),
  ];
  const known = new Map<string, string>();
  // D1 binds at most 100 parameters per statement.
  for (let i = 0; i < pseudonyms.length; i += 90) {
    const slice = pseudonyms.slice(i, i + 90);
    const { results } = await db
      .prepare(
        `SELECT pseudonym, account_id FROM audit_actors WHERE tenant_id = ? AND pseudonym IN (${slice.map(() => "?").join(", ")})`,
      )
      .bind(tenantId, ...slice)
      .all<{ pseudonym: string; account_id: string }>();
    for (const row of results) known.set(row.pseudonym, row.account_id);
  }
  const readable = new Map<string, string>();
  for (const actor of actors) {
    if (!actor.startsWith(PSEUDONYM_PREFIX)) readable.set(actor, actor);
    else {
      const accountId = known.get(actor.slice(PSEUDONYM_PREFIX.length));
      readable.set(
        actor,
        accountId === undefined ? CLOSED_ACCOUNT_ACTOR : `${FORGE_USER_PREFIX}${accountId}`,
      );
    }
  }
  return readable;
}
