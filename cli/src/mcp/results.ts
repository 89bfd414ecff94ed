/**
 * What an MCP tool answers, in one shape for every tool: `{ok: true, …data}` or, with `isError`,
 * `{ok: false, error: {code, message, advice, problems?, secrets?}}` — the typed code (the control
 * API's, BUNDLE_REJECTED from the local check, or the CLI's own: UNREACHABLE, NOT_LOGGED_IN…), what
 * to do about it, and for a refused bundle each problem with its file (and line, for a secret) and
 * what to change.
 */

import type { CheckReport } from "@mini-sites/core";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { ApiFailure } from "../api.ts";
import { advice, describe } from "../errors.ts";
import { BundleRefused } from "../publish.ts";

/** What to change, per core rule (DESIGN §5), in words an agent can act on. */
export const FIXES: Record<string, string> = {
  MISSING_INDEX_HTML: "Add an index.html at the bundle's root (or publish one self-contained .html file).",
  PATH_TRAVERSAL: "Use paths inside the bundle: no `..` segments.",
  ABSOLUTE_PATH: "Use relative paths with forward slashes: no leading `/`, drive letter or `\\`.",
  INVALID_PATH: "Rename the file: no control characters, and within the length limit.",
  SYMLINK: "Replace the symbolic link with the file it points to.",
  DUPLICATE_PATH: "Rename one of the files: two paths differ only in letter case.",
  TOO_MANY_FILES: "Leave out files the site does not serve (source maps, sources, raw assets).",
  FILE_TOO_LARGE: "Shrink or split the file (Cloudflare serves at most 25 MiB per file).",
  BUNDLE_TOO_LARGE: "Leave out what the site does not serve, or compress media.",
  ZIP_BOMB: "Re-create the zip with a standard tool from the real files.",
  INVALID_ZIP: "Re-create the zip with a standard tool, or publish the folder instead.",
  UNSUPPORTED_FILE_TYPE: "Remove server-side code (e.g. _worker.js, .php): only static files are hosted.",
  RESERVED_PATH: "Move the files out of __ms/: that path is reserved for the gateway.",
  SECRET_DETECTED:
    "Remove the secret from the file and rotate it (anyone who can view the page could read it); if the page needs data, have it fetch from a server the viewer signs in to instead of embedding a key.",
};

export const ProblemSchema = z.object({
  code: z.string(),
  path: z.string(),
  message: z.string(),
  fix: z.string(),
});
export const SecretSchema = z.object({
  rule: z.string(),
  path: z.string(),
  line: z.number(),
  column: z.number(),
  match: z.string().describe("Redacted: never the secret itself"),
  fileHash: z
    .string()
    .optional()
    .describe("SHA-256 of the file: with `rule`, what a tenant admin accepts if it is not a secret"),
  fix: z.string(),
});

const ToolErrorSchema = z.object({
  code: z
    .string()
    .describe(
      "A typed code: the control API's (NAME_TAKEN, RATE_LIMITED…), BUNDLE_REJECTED, UNREACHABLE, NOT_LOGGED_IN…",
    ),
  message: z.string(),
  advice: z.string().describe("What to do about it"),
  problems: z.array(ProblemSchema).optional(),
  secrets: z.array(SecretSchema).optional(),
});

/** `{ok: true, …fields}` or `{ok: false, error}`: the output schema of every tool. */
export function envelope<Shape extends Record<string, z.ZodType>>(shape: Shape) {
  const optional = Object.fromEntries(Object.entries(shape).map(([key, schema]) => [key, schema.optional()]));
  return {
    ok: z.boolean().describe("false when the tool refused or failed: see `error`"),
    ...(optional as { [K in keyof Shape]: z.ZodOptional<Shape[K]> }),
    error: ToolErrorSchema.optional(),
  };
}

/** A tool body whose every failure becomes a typed tool error rather than a protocol error. */
export async function guard(run: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof BundleRefused) {
      const { problems, secrets } = validationOf(error.report);
      return failure(
        "BUNDLE_REJECTED",
        `The bundle was refused here, before anything was uploaded: ${problemsText(error.report)}`,
        {
          problems,
          secrets,
          advice: "Change what each problem's `fix` says, then publish again.",
        },
      );
    }
    if (error instanceof ApiFailure && error.code === "BUNDLE_REJECTED") {
      const problems = (error.body.errors ?? []).map(problemOf);
      const secrets = ((error.body.findings ?? []) as unknown as Finding[]).map(secretOf);
      return failure(error.code, error.message, {
        problems,
        secrets,
        advice: "Change what each problem's `fix` says, then publish again.",
      });
    }
    const described = describe(error, "mcp");
    const code = described.code;
    return failure(code, described.json.message, {
      advice: error instanceof ApiFailure ? advice(code, { retryAfter: error.retryAfter }) : adviceFor(code),
    });
  }
}

function adviceFor(code: string): string {
  switch (code) {
    case "NOT_LOGGED_IN":
      return "Run `mini-sites login` (or `mini-sites login --dev`) in a terminal, or set MINI_SITES_URL and MINI_SITES_TOKEN in this server's environment.";
    case "UNREACHABLE":
      return "The control API did not answer: check MINI_SITES_URL or the saved login, or start the local stack (`mini-sites dev`).";
    case "NOT_FOUND":
      return "Call list_sites for the sites that exist.";
    case "USAGE":
      return "Check the arguments: give `path` or `files`, and a path that exists.";
    default:
      return "See the message.";
  }
}

export function ok(structured: Record<string, unknown>, text: string): CallToolResult {
  return { structuredContent: { ok: true, ...structured }, content: [{ type: "text", text }] };
}

export function failure(
  code: string,
  message: string,
  extra: { advice: string; problems?: unknown[]; secrets?: unknown[] },
): CallToolResult {
  return {
    isError: true,
    structuredContent: { ok: false, error: { code, message, ...extra } },
    content: [{ type: "text", text: `${code}: ${message} ${extra.advice}` }],
  };
}

interface Finding {
  readonly rule: string;
  readonly path: string;
  readonly line: number;
  readonly column: number;
  readonly match: string;
  readonly severity?: string;
  readonly fileHash?: string;
}

function problemOf(error: { readonly code: string; readonly path: string; readonly message: string }) {
  return {
    code: error.code,
    path: error.path,
    message: error.message,
    fix: FIXES[error.code] ?? "See the message.",
  };
}

function secretOf(finding: Finding) {
  return {
    rule: finding.rule,
    path: finding.path,
    line: finding.line,
    column: finding.column,
    match: finding.match,
    fileHash: finding.fileHash,
    fix: `Remove the ${finding.rule} value at ${finding.path}:${finding.line}:${finding.column} and rotate it; load data from a server at run time instead of embedding a credential. If it is not a secret (a documentation example), a tenant admin can accept this finding for exactly this file (rule ${finding.rule}, file sha256 ${finding.fileHash ?? "unknown"}).`,
  };
}

export function validationOf(report: CheckReport) {
  return {
    publishable: report.ok,
    files: report.files.length,
    bytes: report.bytes,
    bundleHash: report.bundleHash,
    problems: report.errors.map(problemOf),
    // Only findings that refuse a publish are secrets to remove; warnings are the scanner's notes.
    secrets: (report.findings as readonly Finding[]).filter((f) => f.severity !== "warn").map(secretOf),
    externalHosts: [...report.externalHosts],
  };
}

export function problemsText(report: CheckReport): string {
  const secrets = (report.findings as readonly Finding[]).filter((f) => f.severity !== "warn");
  return [
    ...report.errors
      .filter((e) => e.code !== "SECRET_DETECTED")
      .map((e) => `${e.code} ${e.path || "(bundle)"}: ${FIXES[e.code] ?? e.message}`),
    ...secrets.map((f) => `SECRET_DETECTED ${f.path}:${f.line} (${f.rule}): remove it and rotate it.`),
  ].join(" ");
}
