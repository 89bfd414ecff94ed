/**
 * `mini-sites publish <folder|zip|file.html>`: the terminal's face of publish.ts — a progress bar
 * on a terminal (checking, then bytes sent, then the job's steps), milestones in CI logs, and the
 * live version with a preview URL at the end.
 */

import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import { Cancelled } from "../api.ts";
import { openBundleInput } from "../input.ts";
import { defaultSiteName, type PublishEvent, publishBundle } from "../publish.ts";
import { bar, formatBytes, ProgressLine } from "../terminal.ts";
import { describeProgress } from "../validate.ts";
import { action, type Ctx, type Runner } from "./runner.ts";

interface PublishFlags {
  site?: string;
  message?: string;
  spa?: boolean;
  "404Page"?: boolean;
  statusFeed?: boolean;
  wait: boolean;
  progress: boolean;
}

/** What the provisioning job's steps (control/src/workflows/provision.ts) mean to a person. */
const STEP_WORDS: Record<string, string> = {
  prepare: "preparing",
  worker: "uploading to Cloudflare",
  "status-feed": "enabling the status feed",
  "smoke-check": "checking it serves",
  flip: "going live",
  prune: "tidying older versions",
  finish: "finishing",
  fail: "failing",
};

export function registerPublishCommand(program: Command, runner: Runner): void {
  program
    .command("publish")
    .description("publish a folder, a .zip or one .html file as a new version of a site")
    .argument("<path>", "a folder with index.html, a .zip, or a single .html file")
    .option(
      "--site <name|id>",
      "the site to publish to: created under this name the first time (default: the folder's name)",
    )
    .option("-m, --message <text>", "a note for this version, shown in `mini-sites versions`")
    .addOption(
      new Option("--spa", "a new site answers unknown paths with index.html (single-page app)").conflicts(
        "404Page",
      ),
    )
    .addOption(
      new Option("--404-page", "a new site answers unknown paths with its 404.html").conflicts("spa"),
    )
    .option(
      "--status-feed",
      "this version may fetch the tenant's monitor status as JSON from /__ms/status.json (names, states, uptime; never URLs)",
    )
    .option("--no-wait", "return once the version is queued instead of waiting until it is live")
    .option("--no-progress", "no progress bar, even on a terminal")
    .option("--json", 'print {"site","siteId","version","status","url"} and nothing else on stdout')
    .addHelpText(
      "after",
      `
The bundle is checked here first with the server's own rules (structure, limits, secrets): a refused
bundle is never uploaded, and the refusal names the file and line. Only files the site does not
already store are sent. Publishing content identical to the live version does nothing and says so.
Ctrl-C during the upload leaves nothing behind on the server.

The default site name is the folder's name (for dist/, build/, out/, public/: the folder above it),
or the file's name without its extension.

Examples:
  mini-sites publish ./dist --site team-dashboard -m "Q3 numbers"
  mini-sites publish report.html --json`,
    )
    .action(
      action(runner, "publish", (ctx, path: string, flags: PublishFlags) => publishAction(ctx, path, flags)),
    );
}

async function publishAction(ctx: Ctx, path: string, flags: PublishFlags): Promise<number> {
  const { term, style } = ctx;
  const full = resolve(term.cwd, path);
  const isFolder = (await stat(full).catch(() => undefined))?.isDirectory() === true;
  const opened = await openBundleInput(full);
  const api = await ctx.api();
  const progress = new ProgressLine(term.stderr, flags.progress);
  const milestones = !ctx.json && term.stderr.isTTY !== true;
  const at: { phase: "check" | "upload" | "job" } = { phase: "check" };
  let version: number | undefined;
  const site = flags.site ?? defaultSiteName(full, isFolder);
  const onEvent = (event: PublishEvent) => {
    switch (event.kind) {
      case "check":
        progress.update(
          `Checking   ${bar(fraction(event.progress.bytesDone, event.progress.bytesTotal))} ${describeProgress(event.progress).trim()}`,
        );
        break;
      case "checked":
        progress.clear();
        if (milestones && event.report.ok)
          ctx.note(
            `Checked ${path}: ${event.report.files.length} files, ${formatBytes(event.report.bytes)}.`,
          );
        break;
      case "upload":
        if (at.phase !== "upload") {
          at.phase = "upload";
          if (milestones)
            ctx.note(
              `Uploading ${event.files} file${event.files === 1 ? "" : "s"} to "${site}"${event.filesKept > 0 ? ` (the server has the other ${event.filesKept})` : ""}…`,
            );
        }
        progress.update(
          `Uploading  ${bar(fraction(event.bytesSent, event.bytesTotal))} ${formatBytes(event.bytesSent)} of ${formatBytes(event.bytesTotal)} · ${event.files} file${event.files === 1 ? "" : "s"}${event.filesKept > 0 ? ` (${event.filesKept} already there)` : ""}`,
        );
        break;
      case "job":
        if (at.phase !== "job") {
          at.phase = "job";
          progress.clear();
          version = event.job.version;
          if (milestones) ctx.note(`Provisioning version ${event.job.version}…`);
        }
        progress.update(
          `Deploying  ${bar(event.job.progress)} v${event.job.version} ${STEP_WORDS[event.job.step ?? ""] ?? event.job.state}`,
        );
        break;
    }
  };
  let result: Awaited<ReturnType<typeof publishBundle>>;
  try {
    result = await publishBundle(api, opened.input, {
      site: flags.site,
      defaultName: site,
      message: flags.message,
      notFoundHandling: flags.spa ? "single-page-application" : flags["404Page"] ? "404-page" : undefined,
      statusFeed: flags.statusFeed === true,
      wait: flags.wait,
      signal: term.signal,
      onEvent,
    });
  } catch (error) {
    if (error instanceof Cancelled)
      throw new Cancelled(
        at.phase === "job"
          ? `Stopped following: version ${version ?? "?"} keeps provisioning on the server (\`mini-sites versions ${site}\` shows when it is live).`
          : "Cancelled before the upload finished: nothing was published.",
      );
    throw error;
  } finally {
    progress.clear();
    await opened.close();
  }
  ctx.print(
    {
      site: result.site,
      siteId: result.siteId,
      version: result.version,
      status: result.status,
      url: result.url,
    },
    () => {
      const lines: string[] = [];
      const name = style.bold(result.site);
      if (result.status === "unchanged")
        lines.push(
          `${style.green("✓")} ${name} v${result.version} already has this content: nothing was published.`,
        );
      else if (result.status === "queued")
        lines.push(
          `${style.green("✓")} ${name} v${result.version} is queued (job ${result.jobId}): \`mini-sites versions ${result.site}\` shows when it is live.`,
        );
      else lines.push(`${style.green("✓")} ${name} v${result.version} is live.`);
      if (result.url !== null)
        lines.push(
          `  Preview  ${result.url}`,
          style.dim(`           (a grant, valid until ${result.expiresAt})`),
        );
      if (result.status !== "unchanged")
        lines.push(
          `  Sent     ${result.filesSent} of ${result.files} files (${formatBytes(result.bytesSent)})${result.filesSent < result.files ? `; the server had the other ${result.files - result.filesSent}` : ""}.`,
        );
      lines.push(style.dim(`  Site id  ${result.siteId}`));
      if (result.externalHosts.length > 0)
        lines.push(
          style.dim(
            `  Loads from ${result.externalHosts.join(", ")} (the site's Content-Security-Policy must allow them)`,
          ),
        );
      return `${lines.join("\n")}\n`;
    },
  );
  return 0;
}

function fraction(done: number, total: number): number {
  return total <= 0 ? 1 : done / total;
}
