/**
 * One publish, from bytes on this side to a live version on the server — shared by `mini-sites
 * publish` and the MCP server's `publish_site`, which differ only in how they show progress:
 *
 *   1. check the bundle here with the core's own rules (`checkBundle`, the same call the control
 *      Worker makes): a refusal costs no upload and names the file and the line;
 *   2. find the site by name or id — or create it under that name;
 *   3. stop if the live version already has exactly this content (the bundle hash says so);
 *   4. ask which files the site's archive lacks and send only those, with a manifest of all
 *      (`POST /v1/sites/{site}/files/missing`, control/src/publish/upload.ts);
 *   5. follow the provisioning job to the end and mint a preview URL.
 *
 * Cancelling (Ctrl-C, an MCP client's cancellation) during the upload abandons the request: the
 * server stages nothing of a body that did not arrive whole, so no version, job or site is left
 * half-made. After the upload the job runs on the server whatever happens here.
 */

import { randomUUID } from "node:crypto";
import { basename, extname } from "node:path";
import {
  type AcceptedFinding,
  type BundleInput,
  type CheckReport,
  checkBundle,
  type ManifestEntry,
  type Progress,
  readBundle,
  withAcceptedFindings,
} from "@mini-sites/core";
import {
  type Accepted,
  type ApiClient,
  ApiFailure,
  Cancelled,
  followJob,
  type Job,
  type Site,
  type Version,
  type ViewUrl,
} from "./api.ts";
import { formBody } from "./form-body.ts";
import { findSite } from "./sites.ts";

export type NotFoundHandlingChoice = "single-page-application" | "404-page" | "none";

export interface PublishOptions {
  /** A site name or id; undefined publishes to the site named `defaultName`. */
  readonly site?: string | undefined;
  /** The name a new site gets when `site` is not given (the folder's name). */
  readonly defaultName: string;
  readonly message?: string | undefined;
  /** For a new site only: the server keeps a site's setting. */
  readonly notFoundHandling?: NotFoundHandlingChoice | undefined;
  /**
   * This version may read the tenant's monitor feed at `/__ms/status.json` on its own origin. Part of
   * the version: leaving it out publishes a version without it.
   */
  readonly statusFeed?: boolean | undefined;
  /** Follow the job to the end (default) or return once it is queued. */
  readonly wait?: boolean;
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: (event: PublishEvent) => void;
}

export type PublishEvent =
  | { readonly kind: "check"; readonly progress: Progress }
  | { readonly kind: "checked"; readonly report: CheckReport }
  | {
      readonly kind: "upload";
      readonly bytesSent: number;
      readonly bytesTotal: number;
      /** Files in this upload, and files the server already had (not sent). */
      readonly files: number;
      readonly filesKept: number;
    }
  | { readonly kind: "job"; readonly job: Job };

/** `--json` of `mini-sites publish`: exactly these keys (the first five are the stable contract). */
export interface PublishResult {
  readonly site: string;
  readonly siteId: string;
  readonly version: number;
  /** `live`, `unchanged` (nothing to publish), or `queued` (`--no-wait`). */
  readonly status: "live" | "unchanged" | "queued";
  readonly url: string | null;
  readonly expiresAt: string | null;
  readonly jobId: string | null;
  readonly files: number;
  readonly bytes: number;
  readonly filesSent: number;
  readonly bytesSent: number;
  readonly externalHosts: readonly string[];
}

/** The bundle breaks a rule here, before anything was sent. */
export class BundleRefused extends Error {
  override name = "BundleRefused";
  readonly report: CheckReport;
  constructor(report: CheckReport) {
    const first = report.errors[0];
    super(
      first === undefined
        ? "The bundle cannot be published."
        : `${first.code}${first.path ? ` (${first.path})` : ""}: ${first.message}`,
    );
    this.report = report;
  }
}

/** The provisioning job ended in failure; the previous live version still serves. */
export class JobFailed extends Error {
  override name = "JobFailed";
  readonly job: Job;
  constructor(job: Job) {
    super(
      `Version ${job.version} failed at ${job.step ?? "a step"}: ${(job.error?.message ?? "no reason given").replace(/\.+$/, "")}. The previous live version still serves.`,
    );
    this.job = job;
  }
}

/** Folders that name what built them, not the site: `~/team-dashboard/dist` is "team-dashboard". */
const OUTPUT_FOLDERS = new Set(["dist", "build", "out", "output", "public", "www", "_site"]);

/**
 * The name a site gets from what is published: the folder's name (its parent's, for a build output
 * folder like `dist`), a zip's or an HTML file's name without the extension.
 */
export function defaultSiteName(path: string, isFolder: boolean): string {
  const trimmed = path.replace(/[\\/]+$/, "");
  const base = basename(trimmed);
  if (!isFolder) return basename(base, extname(base)) || base;
  if (OUTPUT_FOLDERS.has(base.toLowerCase())) {
    const parent = basename(trimmed.slice(0, trimmed.length - base.length).replace(/[\\/]+$/, ""));
    if (parent !== "" && parent !== "." && parent !== "..") return parent;
  }
  return base === "" || base === "." ? "site" : base;
}

/**
 * The findings the tenant's admins accepted (`GET /v1/tenant/accepted-findings`); none when this
 * token may not read them (a token without `sites:write` cannot publish anyway, and the server decides).
 */
export async function acceptedFindings(api: ApiClient, signal?: AbortSignal): Promise<AcceptedFinding[]> {
  try {
    const list = await api.json<{ findings: AcceptedFinding[] }>("GET", "/v1/tenant/accepted-findings", {
      signal,
    });
    return list.findings.map(({ ruleId, fileHash }) => ({ ruleId, fileHash }));
  } catch (error) {
    if (error instanceof ApiFailure && error.code === "INSUFFICIENT_SCOPE") return [];
    throw error;
  }
}

export async function publishBundle(
  api: ApiClient,
  input: BundleInput,
  options: PublishOptions,
): Promise<PublishResult> {
  const emit = options.onEvent ?? (() => {});
  const signal = options.signal;

  // 1. The same rules as the server, here: a refused bundle never leaves this machine. A secret
  //    finding the tenant's admins accepted (rule + file hash) does not refuse here either.
  let report = await checkBundle(input, { onProgress: (progress) => emit({ kind: "check", progress }) });
  if (!report.ok && report.findings.some((f) => f.severity === "block"))
    report = withAcceptedFindings(report, await acceptedFindings(api, signal));
  emit({ kind: "checked", report });
  if (!report.ok) throw new BundleRefused(report);
  throwIfCancelled(signal);

  // 2. The site, by name or id; a name nobody holds yet becomes a new site.
  const wanted = options.site ?? options.defaultName;
  let site = await findSite(api, wanted, signal);

  // 3. Already live with this content and the same status feed choice (part of a version): nothing to send.
  if (site !== undefined && site.liveVersion !== null) {
    const live = await liveVersionOf(api, site, signal);
    if (
      live?.contentHash === report.bundleHash &&
      (live.statusFeed === true) === (options.statusFeed === true)
    )
      return unchanged(api, site, report, signal);
  }

  const idempotencyKey = randomUUID();
  let accepted: Accepted | undefined;
  let sent = { files: 0, bytes: 0 };
  for (let attempt = 0; accepted === undefined; attempt++) {
    // 4. Only what the server lacks (a new site has nothing yet).
    const missing =
      site === undefined
        ? undefined
        : attempt === 0
          ? await missingHashes(api, site, report, signal)
          : undefined;
    const toSend = missing === undefined ? report.files : report.files.filter((f) => missing.has(f.hash));
    try {
      accepted = await upload(api, input, report, toSend, {
        site,
        name: wanted,
        message: options.message,
        notFoundHandling: options.notFoundHandling,
        statusFeed: options.statusFeed,
        idempotencyKey: `${idempotencyKey}-${attempt}`,
        signal,
        emit,
      });
      sent = { files: toSend.length, bytes: toSend.reduce((sum, f) => sum + f.size, 0) };
    } catch (error) {
      if (attempt > 0 || !(error instanceof ApiFailure)) throw error;
      // Files deleted from the archive since we asked: send everything once.
      if (error.code === "FILES_MISSING" && site !== undefined) continue;
      // Someone created the site under this name since we looked: publish to theirs.
      if (error.code === "NAME_TAKEN" && site === undefined) {
        site = await findSite(api, wanted, signal);
        if (site !== undefined) continue;
      }
      throw error;
    }
  }

  const siteName = site?.name ?? wanted;
  const base = {
    site: siteName,
    siteId: accepted.siteId,
    version: accepted.version,
    jobId: accepted.jobId,
    files: report.files.length,
    bytes: report.bytes,
    filesSent: sent.files,
    bytesSent: sent.bytes,
    externalHosts: [...report.externalHosts],
  };
  if (accepted.replayed === true && site?.liveVersion === accepted.version) {
    const view = await previewUrl(api, accepted.siteId, signal);
    return { ...base, status: "unchanged", url: view?.url ?? null, expiresAt: view?.expiresAt ?? null };
  }
  if (options.wait === false) return { ...base, status: "queued", url: null, expiresAt: null };

  // 5. Follow the job; the site is live when it succeeds.
  const job = await followJob(api, accepted.jobId, (j) => emit({ kind: "job", job: j }), signal);
  if (job.state === "failed") throw new JobFailed(job);
  const view = await previewUrl(api, accepted.siteId, signal);
  return { ...base, status: "live", url: view?.url ?? null, expiresAt: view?.expiresAt ?? null };
}

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new Cancelled("cancelled");
}

async function liveVersionOf(api: ApiClient, site: Site, signal?: AbortSignal): Promise<Version | undefined> {
  // Versions are listed newest first; the live one is almost always on the first page.
  const page = await api.json<{ versions: Version[] }>("GET", `/v1/sites/${site.id}/versions`, {
    query: { limit: 20 },
    signal,
  });
  return page.versions.find((v) => v.number === site.liveVersion);
}

async function unchanged(
  api: ApiClient,
  site: Site,
  report: CheckReport,
  signal?: AbortSignal,
): Promise<PublishResult> {
  const view = await previewUrl(api, site.id, signal);
  return {
    site: site.name,
    siteId: site.id,
    version: site.liveVersion as number,
    status: "unchanged",
    url: view?.url ?? null,
    expiresAt: view?.expiresAt ?? null,
    jobId: null,
    files: report.files.length,
    bytes: report.bytes,
    filesSent: 0,
    bytesSent: 0,
    externalHosts: [...report.externalHosts],
  };
}

async function missingHashes(
  api: ApiClient,
  site: Site,
  report: CheckReport,
  signal?: AbortSignal,
): Promise<Set<string>> {
  const answer = await api.json<{ missing: string[] }>("POST", `/v1/sites/${site.id}/files/missing`, {
    json: { files: report.files.map(({ path, hash, size }) => ({ path, hash, size })) },
    signal,
  });
  return new Set(answer.missing);
}

/** A preview grant for the live version; undefined when this token may not mint one (no sites:read). */
export async function previewUrl(
  api: ApiClient,
  siteId: string,
  signal?: AbortSignal,
): Promise<ViewUrl | undefined> {
  try {
    return await api.json<ViewUrl>("POST", `/v1/sites/${siteId}/view-url`, { signal });
  } catch (error) {
    if (
      error instanceof ApiFailure &&
      ["INSUFFICIENT_SCOPE", "NOT_LIVE", "SITE_DISABLED"].includes(error.code)
    )
      return undefined;
    throw error;
  }
}

interface UploadRequest {
  readonly site: Site | undefined;
  readonly name: string;
  readonly message: string | undefined;
  readonly notFoundHandling: NotFoundHandlingChoice | undefined;
  readonly statusFeed: boolean | undefined;
  readonly idempotencyKey: string;
  readonly signal: AbortSignal | undefined;
  readonly emit: (event: PublishEvent) => void;
}

async function upload(
  api: ApiClient,
  input: BundleInput,
  report: CheckReport,
  toSend: readonly ManifestEntry[],
  request: UploadRequest,
): Promise<Accepted> {
  const fields: [string, string][] = [];
  if (request.message !== undefined) fields.push(["message", request.message]);
  if (request.notFoundHandling !== undefined) fields.push(["notFoundHandling", request.notFoundHandling]);
  if (request.statusFeed === true) fields.push(["statusFeed", "true"]);
  // Only an existing site has an archive to fill the manifest from.
  if (request.site !== undefined)
    fields.push([
      "manifest",
      JSON.stringify(report.files.map(({ path, hash, size }) => ({ path, hash, size }))),
    ]);
  const wanted = new Set(toSend.map((f) => f.path));
  let bytesSent = 0;
  const body = formBody(
    fields,
    toSend,
    () => entriesOf(input, (entry) => wanted.has(entry.path)),
    (bytes) => {
      bytesSent += bytes;
      request.emit({
        kind: "upload",
        bytesSent,
        bytesTotal: body.length,
        files: toSend.length,
        filesKept: report.files.length - toSend.length,
      });
    },
  );
  return api.json<Accepted>("POST", `/v1/sites/${request.site?.id ?? "new"}/versions`, {
    // A new site's name goes in the query: a taken name is refused before the body is read.
    query: request.site === undefined ? { name: request.name } : {},
    headers: { "content-type": body.contentType, "idempotency-key": request.idempotencyKey },
    body: body.stream,
    signal: request.signal,
  });
}

/**
 * The bundle's files (as the core names them: normalized, a wrapping folder unwrapped) one at a
 * time, read again for sending: the core's reader calls back per file, and this hands each one over
 * only when the consumer asks for it, so at most one file is held.
 */
async function* entriesOf(
  input: BundleInput,
  wanted: (entry: ManifestEntry) => boolean,
): AsyncGenerator<{ path: string; bytes: Uint8Array }> {
  type Item = { path: string; bytes: Uint8Array } | { done: true } | { error: unknown };
  const items: Item[] = [];
  let notify: (() => void) | undefined;
  let taken: (() => void) | undefined;
  let stopped = false;
  const push = (item: Item) =>
    new Promise<void>((resolve) => {
      items.push(item);
      taken = resolve;
      notify?.();
    });
  const reading = readBundle(input, {
    onFile: async (entry, bytes) => {
      if (stopped) throw new Cancelled("stopped");
      if (wanted(entry)) await push({ path: entry.path, bytes });
    },
  }).then(
    () => push({ done: true }),
    (error) => push({ error }),
  );
  try {
    for (;;) {
      if (items.length === 0) await new Promise<void>((resolve) => (notify = resolve));
      const item = items.shift() as Item;
      if ("done" in item) break;
      if ("error" in item) throw item.error;
      yield item;
      taken?.();
    }
  } finally {
    stopped = true;
    taken?.();
    void reading;
  }
}
