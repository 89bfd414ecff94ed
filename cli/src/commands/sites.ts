/**
 * Sites and their versions: `sites`, `versions`, `rollback`, `download`, `disable`, `enable`,
 * `delete`, `open`. Every <site> is a name or an id (sites.ts).
 */

import { spawn } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import {
  type Accepted,
  ApiFailure,
  allPages,
  Cancelled,
  followJob,
  type Site,
  type Version,
  type ViewUrl,
} from "../api.ts";
import { UsageError } from "../input.ts";
import { ask, canAsk } from "../prompt.ts";
import { JobFailed } from "../publish.ts";
import { resolveSite } from "../sites.ts";
import { formatBytes, table } from "../terminal.ts";
import { action, type Runner } from "./runner.ts";

const when = (iso: string) => iso.replace("T", " ").replace(/\.\d+Z$/, "Z");

export function registerSiteCommands(program: Command, runner: Runner): void {
  program
    .command("sites")
    .description("list the tenant's sites, newest first")
    .option("--json", "print the sites as JSON")
    .action(
      action(runner, "sites", async (ctx) => {
        const sites = await allPages<Site>(await ctx.api(), "/v1/sites", "sites", ctx.term.signal);
        ctx.print({ sites }, () =>
          sites.length === 0
            ? "No sites yet: `mini-sites publish ./dist` makes the first one.\n"
            : table(
                ["NAME", "ID", "LIVE", "STATE", "UPDATED"],
                sites.map((s) => [
                  s.name,
                  s.id,
                  s.liveVersion === null ? "-" : `v${s.liveVersion}`,
                  s.enabled ? "enabled" : "disabled",
                  when(s.updatedAt),
                ]),
                ctx.style,
              ),
        );
        return 0;
      }),
    );

  program
    .command("versions")
    .description("list a site's versions, newest first")
    .argument("<site>", "the site's name or id")
    .option("--json", "print the versions as JSON")
    .action(
      action(runner, "versions", async (ctx, nameOrId: string) => {
        const api = await ctx.api();
        const site = await resolveSite(api, nameOrId, ctx.term.signal);
        const versions = await allPages<Version>(
          api,
          `/v1/sites/${site.id}/versions`,
          "versions",
          ctx.term.signal,
        );
        ctx.print({ site: site.name, siteId: site.id, versions }, () =>
          versions.length === 0
            ? `${site.name} has no versions yet.\n`
            : table(
                ["VERSION", "STATUS", "PUBLISHED", "SIZE", "FILES", "BY", "MESSAGE"],
                versions.map((v) => [
                  `v${v.number}${v.live ? " *" : ""}`,
                  v.failureCode === null ? v.status : `${v.status} (${v.failureCode})`,
                  when(v.createdAt),
                  formatBytes(v.sizeBytes),
                  String(v.fileCount),
                  v.publishedBy,
                  v.message ?? "",
                ]),
                ctx.style,
              ),
        );
        return 0;
      }),
    );

  program
    .command("rollback")
    .description("make an earlier version of a site live again")
    .argument("<site>", "the site's name or id")
    .argument("<version>", "the version number to go back to (`v3` or `3`)")
    .option("--no-wait", "return once a re-provisioning job is queued")
    .option("--json", 'print {"site","siteId","version","status"}')
    .action(
      action(
        runner,
        "rollback",
        async (ctx, nameOrId: string, versionText: string, flags: { wait: boolean }) => {
          const number = Number(versionText.replace(/^v/i, ""));
          if (!Number.isInteger(number) || number < 1)
            throw new UsageError(`"${versionText}" is not a version number (try \`mini-sites versions\`).`);
          const api = await ctx.api();
          const site = await resolveSite(api, nameOrId, ctx.term.signal);
          const response = await api.fetch("POST", `/v1/sites/${site.id}/rollback`, {
            json: { version: number },
          });
          const body = (await response.json()) as Accepted & { instant?: boolean };
          let status: "live" | "queued" = "live";
          if (response.status === 202) {
            if (flags.wait) {
              ctx.note(`Version ${number}'s Worker was pruned: provisioning it again from the archive…`);
              const job = await followJob(api, body.jobId, () => {}, ctx.term.signal);
              if (job.state === "failed") throw new JobFailed(job);
            } else status = "queued";
          }
          ctx.print({ site: site.name, siteId: site.id, version: number, status }, () =>
            status === "live"
              ? `${ctx.style.green("✓")} ${site.name} is back on v${number}${body.instant ? " (instant: its Worker was kept)" : ""}.\n`
              : `${ctx.style.green("✓")} Rollback of ${site.name} to v${number} is queued (job ${body.jobId}).\n`,
          );
          return 0;
        },
      ),
    );

  program
    .command("download")
    .description("download a version of a site as a zip (default: the live version)")
    .argument("<site>", "the site's name or id")
    .option("--version <n>", "the version to download")
    .option("-o, --output <file>", "where to write the zip (`-` for stdout; default: <name>-v<n>.zip)")
    .option("--force", "overwrite the output file if it exists")
    .option("--json", "print what was written as JSON")
    .action(
      action(
        runner,
        "download",
        async (ctx, nameOrId: string, flags: { version?: string; output?: string; force?: boolean }) => {
          const api = await ctx.api();
          const site = await resolveSite(api, nameOrId, ctx.term.signal);
          const number =
            flags.version === undefined ? site.liveVersion : Number(flags.version.replace(/^v/i, ""));
          if (number === null)
            throw new ApiFailure(409, {
              code: "NOT_LIVE",
              message: `${site.name} has no live version: give --version.`,
            });
          if (!Number.isInteger(number) || number < 1)
            throw new UsageError(`"${flags.version}" is not a version number.`);
          const toStdout = flags.output === "-";
          const file = resolve(ctx.term.cwd, flags.output ?? `${safeFileName(site.name)}-v${number}.zip`);
          if (!toStdout && flags.force !== true && existsSync(file))
            throw new UsageError(`${file} exists: give another -o, or --force to overwrite it.`);
          const response = await api.fetch("GET", `/v1/sites/${site.id}/versions/${number}/bundle`, {
            headers: { accept: "application/zip" },
          });
          if (response.body === null) throw new Error("the server sent no bytes");
          const body = Readable.fromWeb(
            response.body as import("node:stream/web").ReadableStream<Uint8Array>,
          );
          if (toStdout) {
            for await (const chunk of body) ctx.term.stdout.write(chunk as Uint8Array);
            return 0;
          }
          // Written aside and renamed: an interrupted download never leaves a truncated zip behind.
          const partial = `${file}.${process.pid}.part`;
          let bytes = 0;
          body.on("data", (chunk: Buffer) => {
            bytes += chunk.length;
          });
          try {
            await pipeline(body, createWriteStream(partial));
            await rename(partial, file);
          } catch (error) {
            await rm(partial, { force: true });
            throw error;
          }
          ctx.print(
            { site: site.name, siteId: site.id, version: number, file, bytes },
            () =>
              `${ctx.style.green("✓")} Wrote ${site.name} v${number} to ${file} (${formatBytes(bytes)}).\n`,
          );
          return 0;
        },
      ),
    );

  for (const [verb, enabled] of [
    ["disable", false],
    ["enable", true],
  ] as const)
    program
      .command(verb)
      .description(
        enabled
          ? "turn a disabled site back on"
          : "turn a site off at once: no new grants (open pages lose it within a grant's lifetime)",
      )
      .argument("<site>", "the site's name or id")
      .option("--json", 'print {"site","siteId","enabled"}')
      .action(
        action(runner, verb, async (ctx, nameOrId: string) => {
          const api = await ctx.api();
          const site = await resolveSite(api, nameOrId, ctx.term.signal);
          await api.json("POST", `/v1/sites/${site.id}/${verb}`);
          ctx.print(
            { site: site.name, siteId: site.id, enabled },
            () => `${ctx.style.green("✓")} ${site.name} is ${enabled ? "enabled" : "disabled"}.\n`,
          );
          return 0;
        }),
      );

  program
    .command("delete")
    .description("delete a site with all its versions (asks first unless --yes)")
    .argument("<site>", "the site's name or id")
    .option("-y, --yes", "do not ask: delete")
    .option("--json", 'print {"site","siteId","deleted"}')
    .action(
      action(runner, "delete", async (ctx, nameOrId: string, flags: { yes?: boolean }) => {
        const api = await ctx.api();
        const site = await resolveSite(api, nameOrId, ctx.term.signal);
        if (flags.yes !== true) {
          if (!canAsk(ctx.term))
            throw new UsageError(
              `refusing to delete "${site.name}" without --yes: there is no terminal to ask.`,
            );
          const answer = await ask(
            ctx.term,
            `Delete site "${site.name}" (${site.id}) and every version of it? This cannot be undone.\nType the site's name to confirm: `,
          );
          if (answer !== site.name) throw new Cancelled(`Not deleted: "${answer}" is not "${site.name}".`);
        }
        const result = await api.json<{ workers: string; bytes: string }>("DELETE", `/v1/sites/${site.id}`);
        ctx.print({ site: site.name, siteId: site.id, deleted: true }, () => {
          const pending = result.workers === "pending" || result.bytes === "pending";
          return `${ctx.style.green("✓")} Deleted ${site.name} (${site.id}).${pending ? " Its hosted copies are removed in the background." : ""}\n`;
        });
        return 0;
      }),
    );

  program
    .command("open")
    .description("a preview URL for a site's live version (a short-lived grant); opens it on a desktop")
    .argument("<site>", "the site's name or id")
    .option("--print", "only print the URL, do not start a browser")
    .option("--json", 'print {"url","expiresAt"}')
    .action(
      action(runner, "open", async (ctx, nameOrId: string, flags: { print?: boolean }) => {
        const api = await ctx.api();
        const site = await resolveSite(api, nameOrId, ctx.term.signal);
        const view = await api.json<ViewUrl>("POST", `/v1/sites/${site.id}/view-url`);
        const opened =
          !ctx.json && flags.print !== true && ctx.term.stdout.isTTY === true && openInBrowser(view.url);
        ctx.print(
          { url: view.url, expiresAt: view.expiresAt },
          () =>
            `${view.url}\n${ctx.style.dim(`(v${view.version}; the grant expires at ${view.expiresAt}${opened ? "; opened in your browser" : ""})`)}\n`,
        );
        return 0;
      }),
    );
}

/** A site name as a file name: letters, digits, dot, dash and underscore; the rest become dashes. */
function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || "site";
}

/** Starts the platform's URL opener, detached; false when there is none to start. */
function openInBrowser(url: string): boolean {
  const [command, args] =
    process.platform === "darwin"
      ? ["open", [url]]
      : process.platform === "win32"
        ? ["cmd", ["/c", "start", "", url]]
        : ["xdg-open", [url]];
  try {
    const child = spawn(command, args as string[], { stdio: "ignore", detached: true });
    child.on("error", () => {});
    child.unref();
    return true;
  } catch {
    return false;
  }
}
