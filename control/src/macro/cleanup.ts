/**
 * Editor uploads that were never completed (the browser closed, the ticket expired) would otherwise
 * keep their chunks in R2 for ever — storage anyone with edit rights could fill. The 5-minute cron
 * deletes the bytes of every upload whose ticket expired more than a grace period ago, then its row,
 * a bounded number per pass.
 */

import type { ControlEnv } from "../env.ts";
import { deletePrefix } from "../publish/r2.ts";
import { abandonedUploadTickets, deleteUploadTicket } from "./store.ts";
import { uploadPrefix } from "./uploads.ts";

/** After its ticket expired, an upload is left alone this long (a `complete` may still be arriving). */
export const ABANDONED_UPLOAD_GRACE_MS = 60 * 60 * 1000;
/** Uploads cleaned per pass; the rest wait for the next one. */
export const ABANDONED_UPLOADS_PER_PASS = 100;

export async function cleanAbandonedUploads(env: ControlEnv, now: number): Promise<number> {
  const tickets = await abandonedUploadTickets(
    env.DB,
    now - ABANDONED_UPLOAD_GRACE_MS,
    ABANDONED_UPLOADS_PER_PASS,
  );
  let cleaned = 0;
  for (const ticket of tickets) {
    try {
      // R2 drops an incomplete multipart upload's parts by its own lifecycle; the objects we wrote
      // (chunk markers, an assembled bundle) are ours to delete.
      await deletePrefix(env.BUNDLES, `${uploadPrefix(ticket.tenantId, ticket.siteId, ticket.id)}/`);
      await deleteUploadTicket(env.DB, ticket.tenantId, ticket.id);
      cleaned++;
    } catch {
      // Left for the next pass: fail-safe retain.
    }
  }
  return cleaned;
}
