/**
 * Installation lifecycle (DESIGN §3 Lifecycle, §8): Forge tells the app it was installed with the
 * `avi:forge:installed:app` event and, having no "uninstalled" event, calls the `preUninstall` module
 * (55 s, its outcome not awaited by the uninstall). Both are forwarded to the control Worker, which
 * registers the tenant or schedules its purge. What happened is kept in the installation's KVS so the
 * next invocation (and a support engineer reading it) can tell a lost call from one never made.
 */

import { kvs } from "@forge/kvs";
import { type ControlAnswer, errorCodeOf, postToControl } from "./control.ts";

/** KVS key of the last lifecycle outcome. */
export const LIFECYCLE_KEY = "lifecycle";

export interface LifecycleRecord {
  readonly event: "installed" | "uninstalling";
  readonly at: string;
  readonly status: number;
  readonly code?: string;
}

async function forward(event: LifecycleRecord["event"], path: string): Promise<ControlAnswer> {
  const answer = await postToControl(path, {});
  const code = errorCodeOf(answer);
  const record: LifecycleRecord = {
    event,
    at: new Date().toISOString(),
    status: answer.status,
    ...(code === undefined ? {} : { code }),
  };
  await kvs.set(LIFECYCLE_KEY, record);
  return answer;
}

/** `avi:forge:installed:app` (trigger `on-installed`). */
export async function installed(_event: unknown): Promise<void> {
  const answer = await forward("installed", "/v1/lifecycle/installed");
  // A failed registration is retried by Forge when the function fails; the control Worker also
  // registers a tenant on its first verified call, so this is never the only way in.
  if (answer.status >= 500) throw new Error(`control Worker answered ${answer.status} to installed`);
}

/** `preUninstall` (module `on-uninstalling`): schedule the purge; the bytes go, the audit trail stays. */
export async function uninstalling(_event: unknown): Promise<void> {
  await forward("uninstalling", "/v1/lifecycle/uninstalling");
}
