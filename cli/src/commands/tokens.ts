/**
 * `tokens create|list|revoke`: API tokens for CI and agents, issued by a token with `tokens:manage`.
 * A new token's scopes are at most the issuer's (the server enforces it), and its text is shown
 * once — the server keeps only a hash.
 */

import { type Command, Option } from "commander";
import { type ApiToken, allPages } from "../api.ts";
import { table } from "../terminal.ts";
import { action, type Runner } from "./runner.ts";

/** control/src/auth/principal.ts SCOPES: what a token may be given. */
export const SCOPES = ["sites:read", "sites:write", "tokens:manage", "tenant:admin"] as const;

export function registerTokenCommands(program: Command, runner: Runner): void {
  const tokens = program
    .command("tokens")
    .description("create, list and revoke API tokens (needs tokens:manage)");

  tokens
    .command("create")
    .description("issue an API token; its text is printed once and cannot be shown again")
    .requiredOption("--label <label>", 'what the token is for, e.g. "CI deploy of docs"')
    .addOption(
      new Option("--scope <scope...>", "scopes to give it (at most your own)")
        .choices(SCOPES)
        .default(["sites:read", "sites:write"]),
    )
    .option("--json", 'print {"id","token","label","scopes",…}')
    .action(
      action(runner, "tokens create", async (ctx, flags: { label: string; scope: string[] }) => {
        const created = await (await ctx.api()).json<{
          id: string;
          token: string;
          label: string;
          scopes: string[];
          displayPrefix: string;
          createdAt: string;
        }>("POST", "/v1/tokens", { json: { label: flags.label, scopes: [...new Set(flags.scope)] } });
        ctx.print(created, () =>
          [
            `${ctx.style.green("✓")} Token ${created.id} "${created.label}" (${created.scopes.join(", ")}):`,
            "",
            `  ${created.token}`,
            "",
            ctx.style.dim(
              "Copy it now: it is not stored and cannot be shown again. Use it as MINI_SITES_TOKEN, or",
            ),
            ctx.style.dim("`mini-sites login --token -` with it on stdin."),
            "",
          ].join("\n"),
        );
        return 0;
      }),
    );

  tokens
    .command("list")
    .description("the tenant's API tokens (never their text), revoked ones included")
    .option("--json", "print the tokens as JSON")
    .action(
      action(runner, "tokens list", async (ctx) => {
        const list = await allPages<ApiToken>(await ctx.api(), "/v1/tokens", "tokens", ctx.term.signal);
        ctx.print({ tokens: list }, () =>
          table(
            ["ID", "LABEL", "SCOPES", "CREATED", "LAST USED", "STATE"],
            list.map((t) => [
              t.id,
              t.label,
              t.scopes.join(","),
              t.createdAt.slice(0, 10),
              t.lastUsedAt?.slice(0, 16).replace("T", " ") ?? "never",
              t.revokedAt === null ? "active" : "revoked",
            ]),
            ctx.style,
          ),
        );
        return 0;
      }),
    );

  tokens
    .command("revoke")
    .description("revoke an API token at once")
    .argument("<id>", "the token's id (tok_…), from `mini-sites tokens list`")
    .option("--json", 'print {"id","revoked"}')
    .action(
      action(runner, "tokens revoke", async (ctx, id: string) => {
        await (await ctx.api()).json("DELETE", `/v1/tokens/${encodeURIComponent(id)}`);
        ctx.print({ id, revoked: true }, () => `${ctx.style.green("✓")} Revoked ${id}.\n`);
        return 0;
      }),
    );
}
