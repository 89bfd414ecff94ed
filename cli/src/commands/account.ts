/**
 * `login`, `logout`, `whoami`: which control API the CLI talks to, with which API token. A login is
 * checked against the server (`GET /v1/whoami`) before it is saved, so a typo never becomes a
 * profile that fails later.
 */

import type { Command } from "commander";
import { ApiClient, type WhoAmI } from "../api.ts";
import {
  configPath,
  DEFAULT_PROFILE,
  DEV_PROFILE,
  findDevInfo,
  loadConfig,
  normalizeUrl,
  profileName,
  saveConfig,
} from "../config.ts";
import { UsageError } from "../input.ts";
import { ask, canAsk, readAll } from "../prompt.ts";
import { VERSION } from "../version.ts";
import { action, type Runner } from "./runner.ts";

export function registerAccountCommands(program: Command, runner: Runner): void {
  program
    .command("login")
    .description("save a control API URL and API token (checked against the server first)")
    .option("--url <url>", "the control API, e.g. https://mini-sites.example.com")
    .option("--token <token>", "an API token (ms_…); `-` reads it from stdin; asked for when omitted")
    .option("--dev", "log in to the running local stack (`npm run dev` / `mini-sites dev`) from its dev.json")
    .option("--data <dir>", "with --dev: the stack's data folder (default: .data here or in a folder above)")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
The login is saved in $XDG_CONFIG_HOME/mini-sites/config.json (mode 0600) as a profile: "${DEFAULT_PROFILE}",
"${DEV_PROFILE}" with --dev, or the name given with --profile; the profile logged in last is used by
every command until another is named. MINI_SITES_URL and MINI_SITES_TOKEN override it.

Examples:
  mini-sites login --dev
  mini-sites login --url https://mini-sites.example.com          # asks for the token
  echo "$TOKEN" | mini-sites login --url https://… --token - --profile prod`,
    )
    .action(
      action(
        runner,
        "login",
        async (ctx, opts: { url?: string; token?: string; dev?: boolean; data?: string }) => {
          const term = ctx.term;
          const config = await loadConfig(term.env);
          let url: string | undefined = opts.url;
          let token: string | undefined = opts.token;
          let name = ctx.options.profile ?? (opts.dev ? DEV_PROFILE : DEFAULT_PROFILE);
          let source = "";
          if (opts.dev) {
            if (opts.url !== undefined || opts.token !== undefined)
              throw new UsageError(
                "--dev takes the URL and token from the dev stack: leave out --url and --token.",
              );
            const found = await findDevInfo(term.cwd, opts.data);
            url = found.info.controlUrl;
            token = found.info.apiToken;
            source = ` (from ${found.path})`;
          } else {
            if (opts.data !== undefined) throw new UsageError("--data goes with --dev.");
            const existing = config.profiles[profileName(term.env, config, ctx.options.profile)];
            url ??= existing?.url;
            if (url === undefined) {
              if (!canAsk(term)) throw new UsageError("give the control API's URL with --url.");
              url = await ask(term, "Control API URL: ");
            }
            if (token === "-") token = await readAll(term);
            if (token === undefined) {
              if (!canAsk(term))
                throw new UsageError(
                  "give the API token with --token (or `--token -` to read it from stdin).",
                );
              token = await ask(term, "API token (ms_…, not shown): ", { secret: true });
            }
            if (token === "") throw new UsageError("the API token is empty.");
            name = ctx.options.profile ?? DEFAULT_PROFILE;
          }
          const base = normalizeUrl(url);
          const who = await new ApiClient(base, token, {
            signal: term.signal,
            userAgent: `mini-sites-cli/${VERSION}`,
          }).json<WhoAmI>("GET", "/v1/whoami");
          const path = await saveConfig(term.env, {
            ...config,
            current: name,
            profiles: { ...config.profiles, [name]: { url: base, token } },
          });
          ctx.print(
            {
              profile: name,
              url: base,
              tenant: who.tenant.id,
              token: who.token,
              scopes: who.scopes,
              config: path,
            },
            () => {
              const label = who.token === null ? "" : ` with token "${who.token.label}"`;
              return `${ctx.style.green("✓")} Logged in to ${base}${source} as tenant ${who.tenant.id}${label} (${who.scopes.join(", ")}).\n  Saved as profile "${name}" in ${path}.\n`;
            },
          );
          return 0;
        },
      ),
    );

  program
    .command("logout")
    .description("forget the saved login of the current profile (or --profile NAME)")
    .option("--json", "print the result as JSON")
    .action(
      action(runner, "logout", async (ctx) => {
        const config = await loadConfig(ctx.term.env);
        const name = profileName(ctx.term.env, config, ctx.options.profile);
        const existed = name in config.profiles;
        const { [name]: _removed, ...profiles } = config.profiles;
        const current = config.current === name ? Object.keys(profiles)[0] : config.current;
        if (existed)
          await saveConfig(ctx.term.env, { ...(current === undefined ? {} : { current }), profiles });
        ctx.print({ profile: name, removed: existed }, () =>
          existed
            ? `Logged out: profile "${name}" removed from ${configPath(ctx.term.env)}.${current === undefined ? "" : ` Now using "${current}".`}\n`
            : `No saved login named "${name}": nothing to do.\n`,
        );
        return 0;
      }),
    );

  program
    .command("whoami")
    .description("the tenant, API token and scopes the CLI acts with")
    .option("--json", "print the result as JSON")
    .action(
      action(runner, "whoami", async (ctx) => {
        const connection = await ctx.connection();
        const who = await (await ctx.api()).json<WhoAmI>("GET", "/v1/whoami");
        const where = connection.fromEnv
          ? "MINI_SITES_URL / MINI_SITES_TOKEN"
          : `profile "${connection.profile}"`;
        ctx.print({ url: connection.url, profile: connection.profile ?? null, ...who }, () =>
          [
            `Control API  ${connection.url}  (${where})`,
            `Tenant       ${who.tenant.id}`,
            `Token        ${who.token === null ? who.actor : `${who.token.label} (${who.token.displayPrefix}…, ${who.token.id})`}`,
            `Scopes       ${who.scopes.join(", ")}`,
            "",
          ].join("\n"),
        );
        return 0;
      }),
    );
}
