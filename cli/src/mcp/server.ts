/**
 * The MCP server (`mini-sites mcp`, stdio): the tools an AI agent publishes and manages mini-sites
 * with. Each tool is the CLI's own code path (publish.ts, sites.ts, the core's checkBundle), so an
 * agent gets exactly the verdicts a person gets, as values it can act on:
 *
 * - every result has `structuredContent` in one envelope its output schema declares — `{ok: true,
 *   …data}` or `{ok: false, error: {code, message, advice, problems?, secrets?}}` — and a short text
 *   for clients that show only text (one envelope because clients validate the structured content
 *   of error results against the output schema too: the SDK's own Client does);
 * - a refusal is `isError` with the typed code (the server's, from control/src/app/errors.ts, or
 *   BUNDLE_REJECTED from the local check), and for a bundle each problem with its file, line for a
 *   secret, and what to change — an agent that generated the bundle can fix it and try again;
 * - a publish reports progress (checking, bytes sent, the job's steps) when the client asks for it
 *   with a progress token, and stops when the client cancels the request.
 *
 * Annotations say which tools only read and which destroy, so clients can ask before `delete_site`.
 */

import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { type BundleInput, checkBundle, type InputFile } from "@mini-sites/core";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import {
  type ApiClient,
  allPages,
  followJob,
  type Job,
  type Site,
  type Version,
  type ViewUrl,
} from "../api.ts";
import { openBundleInput, UsageError } from "../input.ts";
import { defaultSiteName, type PublishEvent, publishBundle } from "../publish.ts";
import { resolveSite } from "../sites.ts";
import { VERSION } from "../version.ts";
import {
  envelope,
  failure,
  guard,
  ok,
  ProblemSchema,
  problemsText,
  SecretSchema,
  validationOf,
} from "./results.ts";

export interface McpDeps {
  /** The control API (the saved login or MINI_SITES_URL/TOKEN); throws NotLoggedIn. */
  readonly api: () => Promise<ApiClient>;
  /** Relative folder paths are taken from here. */
  readonly cwd: string;
}

const FileInput = z.union([
  z
    .object({
      path: z.string().min(1).describe("Path in the site, e.g. `index.html`, `assets/app.js`"),
      text: z.string().describe("UTF-8 content"),
    })
    .strict(),
  z
    .object({
      path: z.string().min(1).describe("Path in the site"),
      base64: z
        .string()
        .regex(/^[A-Za-z0-9+/]*={0,2}$/, "must be base64")
        .describe("Binary content, base64"),
    })
    .strict(),
]);

const bundleShape = {
  path: z
    .string()
    .min(1)
    .optional()
    .describe("A folder with index.html, a .zip or one .html file, on the machine running this server"),
  files: z
    .array(FileInput)
    .min(1)
    .optional()
    .describe("The bundle given inline, one entry per file, when the files are not on this machine's disk"),
};

const SiteRef = z.string().min(1).describe("The site's name or id");

const PublishOutput = {
  site: z.string(),
  siteId: z.string(),
  version: z.number(),
  status: z.enum(["live", "unchanged", "queued"]),
  url: z.string().nullable().describe("A preview URL with a short-lived grant (open it in a browser)"),
  expiresAt: z.string().nullable(),
  files: z.number(),
  filesSent: z.number().describe("Files uploaded; the server had the others"),
};

const ValidateOutput = {
  publishable: z.boolean().describe("Whether a publish would accept the bundle"),
  files: z.number(),
  bytes: z.number(),
  bundleHash: z.string(),
  problems: z.array(ProblemSchema),
  secrets: z.array(SecretSchema),
  externalHosts: z.array(z.string()),
};

type Extra = {
  readonly signal: AbortSignal;
  readonly _meta?: { progressToken?: string | number };
  sendNotification(notification: {
    method: "notifications/progress";
    params: { progressToken: string | number; progress: number; total?: number; message?: string };
  }): Promise<void>;
};

export function createMcpServer(deps: McpDeps): McpServer {
  const server = new McpServer(
    { name: "mini-sites", version: VERSION },
    {
      instructions:
        "Publish static web bundles (a folder with index.html, a zip, or one .html file) as mini-sites shown inside Confluence pages. publish_site checks the bundle first with the server's rules (structure, limits, secret scan); a refusal lists each problem with its file (and line, for a secret) and what to change — fix them and publish again. Sites are named; the same name publishes a new version of the same site.",
    },
  );

  server.registerTool(
    "publish_site",
    {
      title: "Publish a mini-site",
      description:
        "Publish a bundle as a new version of a site, created under `site` (a name) the first time. Give `path` (a folder, zip or .html file on this machine) or `files` inline ({path,text} or {path,base64}). Checked locally first; only files the server lacks are uploaded; waits until the version is live and returns a preview URL. Publishing the live content again changes nothing (status `unchanged`).",
      inputSchema: {
        ...bundleShape,
        site: z
          .string()
          .min(1)
          .max(200)
          .optional()
          .describe(
            "The site's name (or id). Default: the folder's or file's name, or `site` for inline files",
          ),
        message: z.string().max(1000).optional().describe("A note for this version"),
        notFoundHandling: z
          .enum(["single-page-application", "404-page", "none"])
          .optional()
          .describe("For a new site: what unknown paths get (index.html for a single-page app, or 404.html)"),
        statusFeed: z
          .boolean()
          .optional()
          .describe(
            "This version may fetch the tenant's monitor status (names, states, uptime; never URLs) as JSON from `/__ms/status.json` on its own origin. Default false; chosen per version",
          ),
      },
      outputSchema: envelope(PublishOutput),
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async (args, extra) =>
      guard(async () => {
        const bundle = await bundleOf(args, deps.cwd);
        try {
          const progress = progressReporter(extra as unknown as Extra);
          const result = await publishBundle(await deps.api(), bundle.input, {
            site: args.site,
            defaultName: bundle.name,
            message: args.message,
            notFoundHandling: args.notFoundHandling,
            statusFeed: args.statusFeed,
            signal: (extra as unknown as Extra).signal,
            onEvent: progress,
          });
          const structured = {
            site: result.site,
            siteId: result.siteId,
            version: result.version,
            status: result.status,
            url: result.url,
            expiresAt: result.expiresAt,
            files: result.files,
            filesSent: result.filesSent,
          };
          const text =
            result.status === "unchanged"
              ? `${result.site} v${result.version} already has this content: nothing was published.`
              : `${result.site} v${result.version} is ${result.status}.`;
          return ok(structured, `${text}${result.url === null ? "" : ` Preview: ${result.url}`}`);
        } finally {
          await bundle.close();
        }
      }),
  );

  server.registerTool(
    "validate_bundle",
    {
      title: "Check a bundle without publishing",
      description:
        "Run the publish checks (structure, limits, secret scan) on a bundle here, without uploading it: `ok`, and every problem with its file (and line, for a secret) and what to change.",
      inputSchema: bundleShape,
      outputSchema: envelope(ValidateOutput),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (args) =>
      guard(async () => {
        const bundle = await bundleOf(args, deps.cwd);
        try {
          const report = await checkBundle(bundle.input);
          const structured = validationOf(report);
          return ok(
            structured,
            report.ok
              ? `The bundle can be published: ${report.files.length} files, ${report.bytes} bytes.`
              : `The bundle would be refused: ${problemsText(report)}`,
          );
        } finally {
          await bundle.close();
        }
      }),
  );

  server.registerTool(
    "list_sites",
    {
      title: "List sites",
      description: "The tenant's sites, newest first: name, id, live version, enabled.",
      inputSchema: {},
      outputSchema: envelope({
        sites: z.array(
          z.object({
            name: z.string(),
            id: z.string(),
            liveVersion: z.number().nullable(),
            enabled: z.boolean(),
            updatedAt: z.string(),
          }),
        ),
      }),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (_args, extra) =>
      guard(async () => {
        const sites = await allPages<Site>(
          await deps.api(),
          "/v1/sites",
          "sites",
          (extra as unknown as Extra).signal,
        );
        const list = sites.map(({ name, id, liveVersion, enabled, updatedAt }) => ({
          name,
          id,
          liveVersion,
          enabled,
          updatedAt,
        }));
        return ok(
          { sites: list },
          list.length === 0
            ? "No sites yet."
            : list
                .map(
                  (s) =>
                    `${s.name} (${s.id}) ${s.liveVersion === null ? "not live" : `v${s.liveVersion} live`}${s.enabled ? "" : ", disabled"}`,
                )
                .join("\n"),
        );
      }),
  );

  server.registerTool(
    "list_versions",
    {
      title: "List a site's versions",
      description: "A site's versions, newest first, with status (live, failed…), message and size.",
      inputSchema: { site: SiteRef },
      outputSchema: envelope({
        site: z.string(),
        siteId: z.string(),
        versions: z.array(
          z.object({
            number: z.number(),
            status: z.string(),
            live: z.boolean(),
            failureCode: z.string().nullable(),
            message: z.string().nullable(),
            sizeBytes: z.number(),
            fileCount: z.number(),
            createdAt: z.string(),
          }),
        ),
      }),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (args, extra) =>
      guard(async () => {
        const api = await deps.api();
        const signal = (extra as unknown as Extra).signal;
        const site = await resolveSite(api, args.site, signal);
        const versions = (
          await allPages<Version>(api, `/v1/sites/${site.id}/versions`, "versions", signal)
        ).map(({ number, status, live, failureCode, message, sizeBytes, fileCount, createdAt }) => ({
          number,
          status,
          live,
          failureCode,
          message,
          sizeBytes,
          fileCount,
          createdAt,
        }));
        return ok(
          { site: site.name, siteId: site.id, versions },
          versions
            .map((v) => `v${v.number} ${v.live ? "live" : v.status}${v.message ? ` — ${v.message}` : ""}`)
            .join("\n") || `${site.name} has no versions yet.`,
        );
      }),
  );

  server.registerTool(
    "rollback_site",
    {
      title: "Roll a site back",
      description:
        "Make an earlier version of a site live again (instant when its Worker is kept, else re-provisioned from the archive; waits until live). Only versions that went live can be rolled back to.",
      inputSchema: {
        site: SiteRef,
        version: z.number().int().min(1).describe("The version number to make live"),
      },
      outputSchema: envelope({
        site: z.string(),
        siteId: z.string(),
        version: z.number(),
        status: z.literal("live"),
      }),
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async (args, extra) =>
      guard(async () => {
        const api = await deps.api();
        const signal = (extra as unknown as Extra).signal;
        const site = await resolveSite(api, args.site, signal);
        const response = await api.fetch("POST", `/v1/sites/${site.id}/rollback`, {
          json: { version: args.version },
          signal,
        });
        if (response.status === 202) {
          const { jobId } = (await response.json()) as { jobId: string };
          const job = await followJob(api, jobId, progressOfJob(extra as unknown as Extra), signal);
          if (job.state === "failed")
            return failure(job.error?.code ?? "JOB_FAILED", job.error?.message ?? "The rollback failed.", {
              advice: "The previous live version still serves; try again, or roll back to another version.",
            });
        } else await response.body?.cancel();
        return ok(
          { site: site.name, siteId: site.id, version: args.version, status: "live" as const },
          `${site.name} is back on v${args.version}.`,
        );
      }),
  );

  server.registerTool(
    "get_preview_url",
    {
      title: "Get a preview URL",
      description:
        "A URL that shows a site's live version in a browser, with a short-lived grant (expiresAt). Share it only with people who may see the site.",
      inputSchema: { site: SiteRef },
      outputSchema: envelope({
        site: z.string(),
        siteId: z.string(),
        url: z.string(),
        version: z.number(),
        expiresAt: z.string(),
      }),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (args, extra) =>
      guard(async () => {
        const api = await deps.api();
        const signal = (extra as unknown as Extra).signal;
        const site = await resolveSite(api, args.site, signal);
        const view = await api.json<ViewUrl>("POST", `/v1/sites/${site.id}/view-url`, { signal });
        return ok(
          {
            site: site.name,
            siteId: site.id,
            url: view.url,
            version: view.version,
            expiresAt: view.expiresAt,
          },
          `${view.url} (v${view.version}, valid until ${view.expiresAt})`,
        );
      }),
  );

  server.registerTool(
    "delete_site",
    {
      title: "Delete a site",
      description:
        "Delete a site and every version of it. Cannot be undone. `confirm` must repeat the site's exact name, as a person would type it to confirm.",
      inputSchema: { site: SiteRef, confirm: z.string().describe("The site's exact name, to confirm") },
      outputSchema: envelope({ site: z.string(), siteId: z.string(), deleted: z.literal(true) }),
      annotations: {
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: false,
        openWorldHint: false,
      },
    },
    async (args, extra) =>
      guard(async () => {
        const api = await deps.api();
        const signal = (extra as unknown as Extra).signal;
        const site = await resolveSite(api, args.site, signal);
        if (args.confirm !== site.name)
          return failure(
            "NOT_CONFIRMED",
            `Not deleted: confirm is "${args.confirm}", the site is named "${site.name}".`,
            {
              advice: "Ask the user, then call again with confirm set to the site's exact name.",
            },
          );
        await api.json("DELETE", `/v1/sites/${site.id}`, { signal });
        return ok(
          { site: site.name, siteId: site.id, deleted: true as const },
          `Deleted ${site.name} (${site.id}).`,
        );
      }),
  );

  return server;
}

/** The bundle an agent named: a path on this machine, or files inline. */
async function bundleOf(
  args: {
    path?: string | undefined;
    files?: ({ path: string; text: string } | { path: string; base64: string })[] | undefined;
  },
  cwd: string,
): Promise<{ input: BundleInput; name: string; close(): Promise<void> }> {
  if ((args.path === undefined) === (args.files === undefined))
    throw new UsageError("give either `path` (a folder, zip or .html file) or `files` (inline), not both.");
  if (args.path !== undefined) {
    const full = resolve(cwd, args.path);
    const isFolder = (await stat(full).catch(() => undefined))?.isDirectory() === true;
    const opened = await openBundleInput(full);
    return { input: opened.input, name: defaultSiteName(full, isFolder), close: () => opened.close() };
  }
  const files: InputFile[] = (args.files ?? []).map((file) => {
    const bytes =
      "text" in file
        ? new TextEncoder().encode(file.text)
        : new Uint8Array(Buffer.from(file.base64, "base64"));
    return { path: file.path, size: bytes.length, read: async () => bytes };
  });
  return { input: { kind: "files", files }, name: "site", close: async () => {} };
}

/** Progress notifications for a client that sent a progress token: checking, upload, the job. */
function progressReporter(extra: Extra): (event: PublishEvent) => void {
  const token = extra._meta?.progressToken;
  if (token === undefined) return () => {};
  // Monotonic, as MCP requires: checking 0–10, uploading 10–60, provisioning 60–100.
  let last = -1;
  const send = (progress: number, message: string) => {
    const value = Math.round(progress * 10) / 10;
    if (value <= last) return;
    last = value;
    void extra
      .sendNotification({
        method: "notifications/progress",
        params: { progressToken: token, progress: value, total: 100, message },
      })
      .catch(() => {});
  };
  return (event) => {
    if (event.kind === "check")
      send(
        10 * ratio(event.progress.bytesDone, event.progress.bytesTotal),
        `checking ${event.progress.filesDone}/${event.progress.filesTotal} files`,
      );
    else if (event.kind === "checked") send(10, `checked ${event.report.files.length} files`);
    else if (event.kind === "upload")
      send(
        10 + 50 * ratio(event.bytesSent, event.bytesTotal),
        `uploading ${event.files} files (${event.filesKept} already on the server)`,
      );
    else
      send(
        60 + 40 * event.job.progress,
        `version ${event.job.version}: ${event.job.step ?? event.job.state}`,
      );
  };
}

function progressOfJob(extra: Extra) {
  const report = progressReporter(extra);
  return (job: Job) => report({ kind: "job", job });
}

function ratio(done: number, total: number): number {
  return total <= 0 ? 1 : Math.min(1, done / total);
}
