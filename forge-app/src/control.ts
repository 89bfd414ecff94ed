/**
 * The Forge functions' one way to the control Worker: `invokeRemote` through the manifest's `control`
 * remote. Forge signs each call with a FIT that names the installation and carries no user and no
 * page (DESIGN §8), so the control Worker lets these calls reach its lifecycle and event routes only
 * (docs/security.md §4, "Forge function").
 */

import { invokeRemote } from "@forge/api";

/** The `remotes` key in manifest.yml. */
export const CONTROL_REMOTE = "control";

export interface ControlAnswer {
  readonly status: number;
  /** The parsed JSON body, or undefined when the body was empty or not JSON. */
  readonly body: unknown;
}

export async function postToControl(path: string, body: unknown): Promise<ControlAnswer> {
  const response = await invokeRemote(CONTROL_REMOTE, {
    path,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed };
}

/** The control Worker's typed error code, when its answer has one (`{"error":{"code",…}}`). */
export function errorCodeOf(answer: ControlAnswer): string | undefined {
  const error = (answer.body as { error?: { code?: unknown } } | undefined)?.error;
  return typeof error?.code === "string" ? error.code : undefined;
}
