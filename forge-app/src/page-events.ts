/**
 * Page trashed / restored / deleted (DESIGN §3 Lifecycle): trashed → no new grants (open views lapse
 * within the grant TTL), restored → served again, deleted → purged after a grace period. The event is
 * forwarded with only what the control Worker needs; it decides from its own bindings which sites
 * are affected, so a forged or replayed event can at most repeat a state the page already has.
 */

import { postToControl } from "./control.ts";

/** The events manifest.yml subscribes to (forge-app/test/manifest.test.ts compares them with DESIGN §8). */
export const PAGE_EVENTS = [
  "avi:confluence:trashed:page",
  "avi:confluence:restored:page",
  "avi:confluence:deleted:page",
] as const;

export type PageEventType = (typeof PAGE_EVENTS)[number];

/** What Forge delivers for a Confluence content event (the fields this app reads). */
export interface ConfluenceContentEvent {
  readonly eventType: string;
  readonly content?: { readonly id?: unknown; readonly type?: unknown };
}

export function isPageEventType(value: unknown): value is PageEventType {
  return typeof value === "string" && (PAGE_EVENTS as readonly string[]).includes(value);
}

/** The body of `POST /v1/lifecycle/page-events`, or undefined for an event this app does not handle. */
export function pageEventBody(
  event: ConfluenceContentEvent,
): { eventType: PageEventType; content: { id: string; type: "page" | "blogpost" } } | undefined {
  if (!isPageEventType(event.eventType)) return undefined;
  const id = event.content?.id;
  const type = event.content?.type;
  if ((typeof id !== "string" && typeof id !== "number") || !/^[0-9]{1,20}$/.test(String(id)))
    return undefined;
  if (type !== "page" && type !== "blogpost") return undefined;
  return { eventType: event.eventType, content: { id: String(id), type } };
}

/** Trigger `on-page-event`. */
export async function pageEvents(event: ConfluenceContentEvent): Promise<void> {
  const body = pageEventBody(event);
  if (body === undefined) return;
  const answer = await postToControl("/v1/lifecycle/page-events", body);
  // 5xx: fail the invocation so Forge retries; a 4xx will not get better by retrying.
  if (answer.status >= 500) throw new Error(`control Worker answered ${answer.status} to ${body.eventType}`);
}
