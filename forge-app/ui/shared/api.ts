/**
 * The Custom UI's one way to the control Worker: `invokeRemote` through the module's `control`
 * endpoint (manifest.yml), so Forge attaches a FIT with the page context and the user, and the user's
 * own token for the permission checks (DESIGN §3 Serve, §8). Errors come back as the control
 * Worker's typed `{"error":{"code","message",…}}` (app/errors.ts); they are surfaced as ControlError
 * so every view can say in plain words what went wrong, never "something went wrong".
 */

import { invokeRemote } from "@forge/bridge";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface BundleErrorItem {
  readonly code: string;
  readonly path: string;
  readonly message: string;
}

export interface SecretFindingItem {
  readonly rule?: string;
  readonly path?: string;
  readonly file?: string;
  readonly line?: number;
  readonly redacted?: string;
  readonly [key: string]: unknown;
}

/** A field the control Worker refused: `json.cdnAllowList.1` names the list and the entry. */
export interface IssueItem {
  readonly path: string;
  readonly message: string;
}

export class ControlError extends Error {
  readonly status: number;
  readonly code: string;
  readonly errors: readonly BundleErrorItem[];
  readonly findings: readonly SecretFindingItem[];
  readonly issues: readonly IssueItem[];
  constructor(
    status: number,
    code: string,
    message: string,
    extra: { errors?: BundleErrorItem[]; findings?: SecretFindingItem[]; issues?: IssueItem[] } = {},
  ) {
    super(message);
    this.name = "ControlError";
    this.status = status;
    this.code = code;
    this.errors = extra.errors ?? [];
    this.findings = extra.findings ?? [];
    this.issues = extra.issues ?? [];
  }
}

/** Forge answers with the remote's JSON already parsed; a string is parsed here in case it is not. */
function bodyOf(raw: unknown): unknown {
  if (typeof raw !== "string") return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

export function errorFrom(status: number, raw: unknown): ControlError {
  const body = bodyOf(raw) as { error?: Record<string, unknown> } | undefined;
  const error = body?.error;
  if (error !== undefined && typeof error.code === "string") {
    return new ControlError(status, error.code, String(error.message ?? error.code), {
      errors: Array.isArray(error.errors) ? (error.errors as BundleErrorItem[]) : [],
      findings: Array.isArray(error.findings) ? (error.findings as SecretFindingItem[]) : [],
      issues: Array.isArray(error.issues)
        ? (error.issues as unknown[]).filter(
            (i): i is IssueItem =>
              typeof (i as IssueItem)?.path === "string" && typeof (i as IssueItem).message === "string",
          )
        : [],
    });
  }
  // Not the control Worker's shape: Forge itself refused (a FIT failure is Forge's 401) or the
  // remote is unreachable.
  if (status === 0) return new ControlError(0, "UNREACHABLE", "The Mini-Sites service could not be reached.");
  return new ControlError(status, `HTTP_${status}`, `The Mini-Sites service answered ${status}.`);
}

export async function callControl<T>(method: Method, path: string, body?: unknown): Promise<T> {
  let response: { status: number; body?: unknown };
  try {
    response = await invokeRemote({
      path,
      method,
      headers: { "content-type": "application/json", accept: "application/json" },
      ...(body === undefined ? {} : { body }),
    });
  } catch (error) {
    throw new ControlError(
      0,
      "UNREACHABLE",
      `The Mini-Sites service could not be reached: ${(error as Error).message}`,
    );
  }
  const status = response?.status ?? 0;
  if (status >= 200 && status < 300) return bodyOf(response.body) as T;
  throw errorFrom(status, response?.body);
}

/** Plain words for the codes a person may meet in the macro and the admin page. */
export function describeError(error: unknown): string {
  if (!(error instanceof ControlError)) return (error as Error)?.message ?? String(error);
  switch (error.code) {
    case "NO_ACCESS":
      return "You don't have permission to see this. Ask the page's owner for access.";
    case "PERMISSION_CHECK_UNAVAILABLE":
      return "Confluence could not confirm your permissions just now. Try again in a minute.";
    case "RATE_LIMITED":
      return "Too many publishes in a short time. Wait a minute and try again.";
    case "SITE_DISABLED":
      return "An administrator has disabled this mini-site.";
    case "PRINCIPAL_NOT_ALLOWED":
      return "Only a Confluence administrator can use this page.";
    case "LICENSE_INACTIVE":
      return "The Mini-Sites license for this Confluence site is not active. A Confluence administrator can renew it in the Marketplace; nothing was deleted.";
    case "PAGE_TRASHED":
      return "This page is in the trash. Its mini-site comes back if the page is restored.";
    case "TENANT_PURGING":
      return "Mini-Sites is being removed from this Confluence site.";
    default:
      if (error.code.startsWith("QUOTA_")) return `Your organisation's limit was reached: ${error.message}`;
      return error.message;
  }
}
