/**
 * `doctor`: checks a deployment's control and dispatch Workers from outside (doctor.ts) — by default
 * the running dev stack — one line per check, a fix under each failure, exit 1 on any failure.
 */

import type { Command } from "commander";
import { connection, findDevInfo, normalizeUrl } from "../config.ts";
import { type DoctorCheck, isLoopbackUrl, printable, runDoctor } from "../doctor.ts";
import { UsageError } from "../input.ts";
import { readAll } from "../prompt.ts";
import { action, type Runner } from "./runner.ts";

export function registerDoctorCommand(program: Command, runner: Runner): void {
  program
    .command("doctor")
    .description(
      "check that the control and dispatch Workers agree and are configured (default: the dev stack)",
    )
    .option(
      "--control <url>",
      "the control Worker (default: the running dev stack, else the logged-in profile's URL)",
    )
    .option("--dispatch <url>", "the dispatch Worker (default: the control Worker's DISPATCH_BASE_URL)")
    .option(
      "--secret <secret>",
      "the control Worker's CONTROL_SHARED_SECRET, for the namespace check; `-` reads it from stdin (or MINI_SITES_OPERATOR_SECRET)",
    )
    .option("--data <dir>", "the dev stack's data folder (default: .data here or in a folder above)")
    .option("--json", 'print {"ok","checks":[{"id","verdict","summary","fix"}]}')
    .addHelpText(
      "after",
      `
Checks: both Workers answer; each has its identity (APP_PID/APP_PSK or K_GRANT); grants the control
Worker mints verify at the dispatch Worker (key ids, rotation overlap); both serve the same SITES_DOMAIN;
the control Worker's secrets are set; the Forge JWKS answers; EMBED_ANCESTORS lets Confluence frame the
sites and nothing else; the Workers for Platforms namespace answers (with the operator secret).

Examples:
  mini-sites doctor
  mini-sites doctor --control https://mini-sites.example.com --dispatch https://gw.sites.example.com`,
    )
    .action(
      action(
        runner,
        "doctor",
        async (ctx, opts: { control?: string; dispatch?: string; secret?: string; data?: string }) => {
          const term = ctx.term;
          let controlUrl = opts.control;
          let dispatchUrl = opts.dispatch;
          // The operator secret given here (flag or environment) goes only to a control URL given
          // here too: never to one read from a dev.json found on disk, which anyone could have put
          // in a folder above this one.
          const given = opts.secret === "-" ? (await readAll(term)).trim() : opts.secret;
          let secret = given ?? (term.env.MINI_SITES_OPERATOR_SECRET || undefined);
          if (given !== undefined && controlUrl === undefined)
            throw new UsageError("--secret goes with --control: the secret is sent to that URL only.");
          let source = "";
          if (controlUrl === undefined) {
            secret = undefined;
            const dev = await findDevInfo(term.cwd, opts.data).catch(() => undefined);
            if (dev !== undefined) {
              controlUrl = dev.info.controlUrl;
              dispatchUrl ??= dev.info.dispatchUrl;
              // The dev stack's own secret, for the dev stack's own control Worker, on loopback only.
              if (isLoopbackUrl(controlUrl)) secret = dev.info.sharedSecret;
              source = ` (the dev stack, ${dev.path})`;
            } else if (opts.data !== undefined) {
              throw new UsageError(`no dev.json in ${opts.data}: start the dev stack or pass --control.`);
            } else {
              controlUrl = await connection(term, ctx.options.profile).then(
                (c) => c.url,
                () => undefined,
              );
              if (controlUrl === undefined)
                throw new UsageError(
                  "no dev stack running and no login: pass --control URL (and --dispatch URL), or start `npm run dev`.",
                );
              source = " (the logged-in profile)";
            }
          }
          const checks = await runDoctor({
            controlUrl: normalizeUrl(controlUrl),
            dispatchUrl: dispatchUrl === undefined ? undefined : normalizeUrl(dispatchUrl),
            operatorSecret: secret,
          });
          const ok = checks.every((c) => c.verdict !== "fail");
          ctx.print({ ok, checks }, () => render(checks, ctx.style, source));
          return ok ? 0 : 1;
        },
      ),
    );
}

function render(
  checks: readonly DoctorCheck[],
  style: { green(s: string): string; red(s: string): string; dim(s: string): string },
  source: string,
): string {
  const lines = [style.dim(`Checking${source}:`)];
  for (const check of checks) {
    const mark =
      check.verdict === "ok" ? style.green("✓") : check.verdict === "fail" ? style.red("✗") : style.dim("–");
    lines.push(`${mark} ${check.id}: ${printable(check.summary)}`);
    if (check.fix !== undefined && check.verdict !== "ok")
      lines.push(style.dim(`    fix: ${printable(check.fix)}`));
  }
  const failed = checks.filter((c) => c.verdict === "fail").length;
  lines.push(
    failed === 0
      ? style.green("All checks passed.")
      : style.red(`${failed} check${failed === 1 ? "" : "s"} failed.`),
  );
  return `${lines.join("\n")}\n`;
}
