/**
 * Every failure as one sentence a person can act on: what happened, with the server's typed code
 * (the same code the API, the Forge UI and the audit log use), and what to do next. Stack traces
 * only with `--debug`. The same advice is given to agents through the MCP server (`advice`).
 */

import { ApiFailure, Cancelled, Unreachable } from "./api.ts";
import { ConfigError, NotLoggedIn } from "./config.ts";
import { UsageError } from "./input.ts";
import { BundleRefused, JobFailed } from "./publish.ts";
import { NoSuchSite } from "./sites.ts";

export const EXIT_OK = 0;
/** Refused or failed: the bundle, the server, the network. */
export const EXIT_FAILED = 1;
/** The command line itself is wrong. */
export const EXIT_USAGE = 2;
/** Ctrl-C (128 + SIGINT), as shells report it. */
export const EXIT_CANCELLED = 130;

/** What to do about a typed code from the control API. */
export function advice(
  code: string,
  context: { url?: string; retryAfter?: number | undefined } = {},
): string {
  if (code.startsWith("AUTH_"))
    return `The server${context.url ? ` at ${context.url}` : ""} refused the API token: run \`mini-sites login\` to sign in again.`;
  switch (code) {
    case "INSUFFICIENT_SCOPE":
      return "This API token lacks the scope for that (`mini-sites whoami` lists its scopes): log in with a token that has it.";
    case "PRINCIPAL_NOT_ALLOWED":
    case "NO_ACCESS":
      return "This credential may not do that: log in with a tenant API token (`mini-sites login`).";
    case "NOT_FOUND":
      return "It does not exist in this tenant (`mini-sites sites` lists the sites).";
    case "NAME_TAKEN":
      return "Publish to that site by its name (`--site NAME`), or choose another name.";
    case "FILES_MISSING":
      return "Publish again: the files will be sent in full.";
    case "RATE_LIMITED":
      return `Too many publishes for now: try again in ${context.retryAfter ?? 60} s.`;
    case "QUOTA_SITES":
    case "QUOTA_BYTES":
      return "Delete sites you no longer need (`mini-sites delete SITE`), or ask your admin for a larger quota.";
    case "SITE_DISABLED":
      return "An admin disabled this site: `mini-sites enable SITE` turns it back on (needs sites:write).";
    case "NOT_LIVE":
      return "It has no live version yet: publish one first (`mini-sites publish`).";
    case "VERSION_NOT_SERVABLE":
      return "Only versions that went live can be rolled back to: `mini-sites versions SITE` shows them.";
    case "ACCEPTANCE_WITHDRAWN":
      return "That version holds a finding your admins no longer accept (`mini-sites findings list`): publish a version without it.";
    case "BODY_TOO_LARGE":
    case "BUNDLE_TOO_LARGE":
      return "The bundle is over the deployment's size limit: leave out what the site does not serve.";
    case "BUNDLE_REJECTED":
      return "Fix what is listed, then publish again (`mini-sites validate` checks without publishing).";
    case "INVALID_REQUEST":
      return "The server refused the request as sent: check the values given.";
    case "MONITOR_TARGET_FORBIDDEN":
      return "Monitors check public https services only: use the service's public URL (never loopback, private, link-local or metadata addresses).";
    case "QUOTA_MONITORS":
      return "The tenant has as many monitors as it may: remove some first (`mini-sites monitors rm`).";
    case "LICENSE_INACTIVE":
      return "The app's license for this Confluence site is not active: publishing and previews resume when an admin renews it (listing and management still work).";
    case "TENANT_PURGING":
      return "This tenant is being removed (the app was uninstalled): nothing can be published.";
    case "UNAVAILABLE":
    case "PERMISSION_CHECK_UNAVAILABLE":
      return "A service the server depends on failed; nothing half-done was kept: try again shortly.";
    case "NOT_CONFIGURED":
      return "The deployment is missing configuration (its /.well-known/mini-sites says which): tell its operator.";
    case "INTERNAL":
      return "The server failed: try again, and quote the request id if it keeps happening.";
    default:
      return "See the server's message above.";
  }
}

export interface Described {
  readonly exitCode: number;
  /** The typed code: the server's, or the CLI's own (UNREACHABLE, NOT_LOGGED_IN, USAGE, CANCELLED…). */
  readonly code: string;
  /** One line for stderr. */
  readonly line: string;
  /** More lines after it (a refused bundle's problems), for stdout. */
  readonly details: readonly string[];
  /** With --json: `{"error": …}` on stdout, for scripts. */
  readonly json: { readonly code: string; readonly message: string; readonly [key: string]: unknown };
}

/** `error` as the CLI reports it; `url` is the control API the command talked to, if any. */
export function describe(error: unknown, command: string, url?: string): Described {
  const prefix = `mini-sites ${command}`;
  const plain = (exitCode: number, code: string, message: string, line?: string): Described => ({
    exitCode,
    code,
    line: line ?? `${prefix}: ${code}: ${message}`,
    details: [],
    json: { code, message },
  });
  if (error instanceof BundleRefused) {
    const { errors, findings } = error.report;
    const message = `Nothing was uploaded: ${refusalSummary(errors.length)}; fix ${errors.length === 1 ? "it" : "them"} and publish again.`;
    return {
      exitCode: EXIT_FAILED,
      code: "BUNDLE_REJECTED",
      line: `${prefix}: BUNDLE_REJECTED: ${message}`,
      details: refusalLines(errors, findings),
      json: {
        code: "BUNDLE_REJECTED",
        message,
        errors: errors.map(({ code, path, message }) => ({ code, path, message })),
        findings: findings.map(({ rule, path, line, column, match, severity, fileHash }) => ({
          rule,
          severity,
          path,
          line,
          column,
          match,
          fileHash,
        })),
      },
    };
  }
  if (error instanceof ApiFailure) {
    const requestId = error.body.requestId === undefined ? "" : ` (request id ${error.body.requestId})`;
    const todo = advice(error.code, { url, retryAfter: error.retryAfter });
    return {
      exitCode: EXIT_FAILED,
      code: error.code,
      line: `${prefix}: ${error.code}: ${error.message}${requestId} ${todo}`,
      details:
        error.code === "BUNDLE_REJECTED"
          ? refusalLines(error.body.errors ?? [], (error.body.findings ?? []) as unknown as FindingLike[])
          : [],
      json: { ...error.body, advice: todo },
    };
  }
  if (error instanceof Unreachable)
    return plain(
      EXIT_FAILED,
      "UNREACHABLE",
      `${error.message}. Check the URL (\`mini-sites login --url URL\`, or MINI_SITES_URL), or start the local stack (\`npm run dev\` / \`mini-sites dev\`).`,
    );
  if (error instanceof JobFailed)
    return plain(EXIT_FAILED, error.job.error?.code ?? "JOB_FAILED", error.message);
  if (error instanceof NoSuchSite) return plain(EXIT_FAILED, "NOT_FOUND", error.message);
  if (error instanceof NotLoggedIn) return plain(EXIT_FAILED, "NOT_LOGGED_IN", error.message);
  if (error instanceof ConfigError)
    return plain(EXIT_FAILED, "CONFIG", error.message, `${prefix}: ${error.message}`);
  if (error instanceof UsageError)
    return plain(EXIT_USAGE, "USAGE", error.message, `${prefix}: ${error.message}`);
  if (error instanceof Cancelled)
    return plain(EXIT_CANCELLED, "CANCELLED", error.message === "cancelled" ? "Cancelled." : error.message);
  const message = error instanceof Error ? error.message : String(error);
  return plain(EXIT_FAILED, "FAILED", message, `${prefix}: ${message} (run again with --debug for details).`);
}

function refusalSummary(count: number): string {
  return `${count} problem${count === 1 ? "" : "s"} in the bundle`;
}

interface FindingLike {
  readonly fileHash?: unknown;
  readonly rule?: unknown;
  readonly path?: unknown;
  readonly line?: unknown;
  readonly column?: unknown;
  readonly match?: unknown;
  readonly severity?: unknown;
}

/** Each problem with its file, then each secret with file:line:column, rule and redacted match. */
export function refusalLines(
  errors: readonly { code: string; path: string; message: string }[],
  findings: readonly FindingLike[],
): string[] {
  const lines: string[] = [];
  let secrets = false;
  for (const error of errors) {
    lines.push(`  ${error.code}  ${error.path || "(whole bundle)"}`, `    ${error.message}`);
    if (error.code === "SECRET_DETECTED")
      for (const f of findings)
        if (f.path === error.path && f.severity !== "warn") {
          secrets = true;
          lines.push(
            `      ${String(f.path)}:${String(f.line)}:${String(f.column)}  ${String(f.rule)}  ${String(f.match)}`,
          );
          if (typeof f.fileHash === "string") lines.push(`        file sha256 ${f.fileHash}`);
        }
  }
  if (secrets)
    lines.push(
      "  Not a secret (a documentation example, a test value)? A tenant admin can accept that finding for",
      '  exactly this file: `mini-sites findings accept <rule> <file sha256> --note "why"`.',
    );
  return lines;
}
