/**
 * Audit chain heads anchored OUTSIDE D1 (DESIGN §6.8): after every append the chain's (seq, mac) is
 * written to an R2 object, signed with the audit key. A chain whose end was cut off in D1 then no
 * longer reaches its anchor, and `verifyChain` reports TRUNCATED; an anchor altered by someone without
 * the deployment secret fails its signature (ANCHOR_INVALID).
 *
 * Why R2 and not a second D1 table: the threat is someone who can write the database; the anchor must
 * live where that write access does not reach. Why not a Durable Object: R2 is already bound, one
 * small PUT per append is cheap, and the object survives a tenant's erasure because it sits outside
 * every tenant prefix (`audit/anchors/…`, not `t/<tenant>/…`).
 *
 * Limits, stated plainly: an attacker who can write BOTH D1 and R2 could roll the anchor back to an
 * older signed copy they kept, together with the matching rows; the anchor raises the bar from one
 * store to two. Anchors may lag the chain by the appends in flight (a crash between the two writes),
 * which verification reports as `anchoredSeq < headSeq`, not as tampering.
 */

import { hexDecode, hexEncode, type Keyring, type KeyringKey, timingSafeEqual } from "@mini-sites/core";
import type { R2Bucket } from "../env.ts";
import type { AnchorReading, AuditAnchors } from "./chain.ts";

export const ANCHOR_PREFIX = "audit/anchors/";

/** Domain separation: an anchor signature can never be mistaken for a row MAC or anything else. */
const ANCHOR_LABEL = "mini-sites audit anchor v1";

interface StoredAnchor {
  readonly chain: string;
  readonly seq: number;
  readonly mac: string;
  readonly at: number;
  readonly keyId: string;
  readonly sig: string;
}

async function signature(key: KeyringKey, anchor: Omit<StoredAnchor, "sig" | "keyId">): Promise<Uint8Array> {
  const text = `${ANCHOR_LABEL}\n${anchor.chain}\n${anchor.seq}\n${anchor.mac}\n${anchor.at}`;
  return new Uint8Array(await crypto.subtle.sign("HMAC", key.hmac, new TextEncoder().encode(text)));
}

export function anchorKey(chain: string): string {
  return `${ANCHOR_PREFIX}${encodeURIComponent(chain)}.json`;
}

export function r2AuditAnchors(bucket: R2Bucket, now: () => number = Date.now): AuditAnchors {
  const anchors: AuditAnchors = {
    async write(keyring, chain, head) {
      // Racing appenders may finish out of order: never move an anchor backwards.
      const current = await anchors.read(keyring, chain);
      if (current.state === "valid" && current.seq >= head.seq) return;
      const body = { chain, seq: head.seq, mac: head.mac, at: now() };
      const key = keyring.current;
      const stored: StoredAnchor = { ...body, keyId: key.id, sig: hexEncode(await signature(key, body)) };
      await bucket.put(anchorKey(chain), JSON.stringify(stored), {
        httpMetadata: { contentType: "application/json" },
      });
    },
    async read(keyring, chain): Promise<AnchorReading> {
      const object = await bucket.get(anchorKey(chain));
      if (object === null) return { state: "none" };
      let stored: StoredAnchor;
      try {
        stored = JSON.parse(await object.text()) as StoredAnchor;
      } catch {
        return { state: "invalid" };
      }
      const key = [keyring.current, keyring.previous].find((k) => k !== undefined && k.id === stored.keyId);
      const sig = typeof stored.sig === "string" ? hexDecode(stored.sig) : undefined;
      if (
        key === undefined ||
        sig === undefined ||
        stored.chain !== chain ||
        !Number.isSafeInteger(stored.seq) ||
        typeof stored.mac !== "string" ||
        !Number.isSafeInteger(stored.at)
      )
        return { state: "invalid" };
      const expected = await signature(key, stored);
      if (!timingSafeEqual(expected, sig)) return { state: "invalid" };
      return { state: "valid", seq: stored.seq, mac: stored.mac, at: stored.at };
    },
  };
  return anchors;
}

export type { Keyring };
