/**
 * `monitors add|list|edit|rm`: the tenant's health checks (DESIGN §3). Listing needs `sites:read` or
 * `tenant:admin`; adding, editing and removing need `tenant:admin` (audited). The server refuses URLs that are
 * not https or that point at loopback, private, link-local or metadata addresses
 * (MONITOR_TARGET_FORBIDDEN, with the reason), so the CLI sends the URL as given.
 */

import { parseStatusRange, type StatusRange } from "@mini-sites/core";
import type { Command } from "commander";
import type { ApiClient } from "../api.ts";
import { UsageError } from "../input.ts";
import { table } from "../terminal.ts";
import { action, type Runner } from "./runner.ts";

interface Monitor {
  id: string;
  name: string;
  url: string;
  method: "GET" | "HEAD";
  expectedStatus: { min: number; max: number };
  timeoutSeconds: number;
  intervalSeconds: number;
  state: "unknown" | "up" | "down";
  stateChangedAt: string | null;
  lastCheck: {
    checkedAt: string;
    ok: boolean;
    status: number | null;
    latencyMs: number | null;
    error: string | null;
  } | null;
  uptime: { day: number | null; week: number | null };
}

const percent = (share: number | null) =>
  share === null ? "–" : `${(share * 100).toFixed(share === 1 ? 0 : 2)}%`;

/** `200-399` → {min, max}; a single status → that status only. */
function statusRange(text: string): StatusRange {
  const range = parseStatusRange(text);
  if (range === undefined)
    throw new UsageError(
      `--expect takes a status or a range like 200-399 (100–599, low to high), not "${text}".`,
    );
  return range;
}

function positiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`${flag} takes a whole number of seconds, not "${text}".`);
  return n;
}

/** A monitor's id from its id or its name (names are unique per tenant, ignoring case). */
async function monitorId(api: ApiClient, which: string): Promise<string> {
  if (/^mon_[a-z2-7]{16}$/.test(which)) return which;
  const list = await api.json<{ monitors: Monitor[] }>("GET", "/v1/monitors");
  const found = list.monitors.find((m) => m.name.toLowerCase() === which.toLowerCase());
  if (found === undefined)
    throw new UsageError(`no monitor is named "${which}" (\`mini-sites monitors list\` shows them).`);
  return found.id;
}

export function registerMonitorCommands(program: Command, runner: Runner): void {
  const monitors = program
    .command("monitors")
    .description("the tenant's monitors: health checks of its services, reported to Confluence");

  monitors
    .command("list")
    .description("every monitor with its state, last check and uptime over 24 h and 7 days")
    .option("--json", 'print {"monitors":[…],"max"}')
    .action(
      action(runner, "monitors list", async (ctx) => {
        const list = await (await ctx.api()).json<{ monitors: Monitor[]; max: number }>(
          "GET",
          "/v1/monitors",
        );
        ctx.print(list, () =>
          list.monitors.length === 0
            ? "No monitors yet. Add one with `mini-sites monitors add <name> <url>`.\n"
            : table(
                ["ID", "NAME", "STATE", "LATENCY", "24 H", "7 D", "EVERY", "URL"],
                list.monitors.map((m) => [
                  m.id,
                  m.name,
                  m.state,
                  m.lastCheck?.latencyMs === null || m.lastCheck === null
                    ? "–"
                    : `${m.lastCheck.latencyMs} ms`,
                  percent(m.uptime.day),
                  percent(m.uptime.week),
                  `${m.intervalSeconds} s`,
                  `${m.method} ${m.url}`,
                ]),
                ctx.style,
              ),
        );
        return 0;
      }),
    );

  monitors
    .command("add")
    .description("add a monitor (https only; checked at once, then every --every seconds)")
    .argument("<name>", "a name, unique in the tenant (ignoring case)")
    .argument("<url>", "the URL to check, e.g. https://status.example.com/health")
    .option("--method <method>", "GET or HEAD", "GET")
    .option("--expect <status>", "statuses that count as up: one status or a range", "200-399")
    .option("--timeout <seconds>", "give up on a check after this long (1–30)", "10")
    .option("--every <seconds>", "check interval (at least 60)", "300")
    .option("--json", "print the monitor as the API answers it")
    .action(
      action(
        runner,
        "monitors add",
        async (
          ctx,
          name: string,
          url: string,
          flags: { method: string; expect: string; timeout: string; every: string },
        ) => {
          const method = flags.method.toUpperCase();
          if (method !== "GET" && method !== "HEAD")
            throw new UsageError(`--method takes GET or HEAD, not "${flags.method}".`);
          const created = await (await ctx.api()).json<Monitor>("POST", "/v1/monitors", {
            json: {
              name,
              url,
              method,
              expectedStatus: statusRange(flags.expect),
              timeoutSeconds: positiveInt("--timeout", flags.timeout),
              intervalSeconds: positiveInt("--every", flags.every),
            },
          });
          ctx.print(
            created,
            () =>
              `${ctx.style.green("✓")} Added ${created.name} (${created.id}): ${created.method} ${created.url} every ${created.intervalSeconds} s.\n`,
          );
          return 0;
        },
      ),
    );

  monitors
    .command("edit")
    .description("change a monitor's name, URL, method, expected statuses, timeout or interval")
    .argument("<monitor>", "the monitor's id (mon_…) or its name")
    .option("--name <name>", "a new name, unique in the tenant (ignoring case)")
    .option("--url <url>", "a new URL to check (https only)")
    .option("--method <method>", "GET or HEAD")
    .option("--expect <status>", "statuses that count as up: one status or a range")
    .option("--timeout <seconds>", "give up on a check after this long (1–30)")
    .option("--every <seconds>", "check interval (at least 60)")
    .option("--json", "print the monitor as the API answers it")
    .action(
      action(
        runner,
        "monitors edit",
        async (
          ctx,
          which: string,
          flags: {
            name?: string;
            url?: string;
            method?: string;
            expect?: string;
            timeout?: string;
            every?: string;
          },
        ) => {
          const method = flags.method?.toUpperCase();
          if (method !== undefined && method !== "GET" && method !== "HEAD")
            throw new UsageError(`--method takes GET or HEAD, not "${flags.method}".`);
          const json = {
            ...(flags.name === undefined ? {} : { name: flags.name }),
            ...(flags.url === undefined ? {} : { url: flags.url }),
            ...(method === undefined ? {} : { method }),
            ...(flags.expect === undefined ? {} : { expectedStatus: statusRange(flags.expect) }),
            ...(flags.timeout === undefined
              ? {}
              : { timeoutSeconds: positiveInt("--timeout", flags.timeout) }),
            ...(flags.every === undefined ? {} : { intervalSeconds: positiveInt("--every", flags.every) }),
          };
          if (Object.keys(json).length === 0)
            throw new UsageError(
              "nothing to change: give --name, --url, --method, --expect, --timeout or --every.",
            );
          const api = await ctx.api();
          const edited = await api.json<Monitor>("PATCH", `/v1/monitors/${await monitorId(api, which)}`, {
            json,
          });
          ctx.print(
            edited,
            () =>
              `${ctx.style.green("✓")} Changed ${edited.name} (${edited.id}): ${edited.method} ${edited.url} every ${edited.intervalSeconds} s; checked again now.\n`,
          );
          return 0;
        },
      ),
    );

  monitors
    .command("rm")
    .description("remove a monitor and its history")
    .argument("<monitor>", "the monitor's id (mon_…) or its name")
    .option("--json", 'print {"deleted","id"}')
    .action(
      action(runner, "monitors rm", async (ctx, which: string) => {
        const api = await ctx.api();
        const id = await monitorId(api, which);
        const result = await api.json<{ deleted: boolean }>("DELETE", `/v1/monitors/${id}`);
        ctx.print({ ...result, id }, () => `${ctx.style.green("✓")} Removed ${which}.\n`);
        return 0;
      }),
    );
}
