/**
 * `mini-sites mcp`: the MCP server on stdio (mcp/server.ts), for agents — Claude Desktop, Claude
 * Code, Cursor, VS Code and any other MCP client start it as a subprocess. `--print-config` prints
 * the client configuration with this installation's paths filled in. stdout carries the protocol
 * only; anything for people goes to stderr.
 */

import type { Command } from "commander";
import { ApiClient } from "../api.ts";
import { connection } from "../config.ts";
import { VERSION } from "../version.ts";
import { action, type Runner } from "./runner.ts";

export function registerMcpCommand(program: Command, runner: Runner): void {
  program
    .command("mcp")
    .description("run the MCP server on stdio, for AI agents (tools: publish_site, list_sites, …)")
    .option("--print-config", "print the MCP client configuration for this installation, and exit")
    .addHelpText(
      "after",
      `
Tools: publish_site, validate_bundle, list_sites, list_versions, rollback_site, get_preview_url,
delete_site. The server uses the saved login (\`mini-sites login\`) or MINI_SITES_URL / MINI_SITES_TOKEN
from its environment.`,
    )
    .action(
      action(runner, "mcp", async (ctx, flags: { printConfig?: boolean }) => {
        const term = ctx.term;
        if (flags.printConfig) {
          term.stdout.write(
            `${JSON.stringify(clientConfig(term.entry, term.env, ctx.options.profile), null, 2)}\n`,
          );
          return 0;
        }
        const [{ StdioServerTransport }, { createMcpServer }] = await Promise.all([
          import("@modelcontextprotocol/sdk/server/stdio.js"),
          import("../mcp/server.ts"),
        ]);
        const server = createMcpServer({
          cwd: term.cwd,
          api: async () => {
            const { url, token } = await connection(term, ctx.options.profile);
            return new ApiClient(url, token, { userAgent: `mini-sites-mcp/${VERSION}` });
          },
        });
        const transport = new StdioServerTransport();
        const closed = new Promise<void>((resolve) => {
          transport.onclose = () => resolve();
          process.stdin.once("end", () => resolve());
        });
        await server.connect(transport);
        term.stderr.write(`mini-sites MCP server ${VERSION} ready on stdio.\n`);
        await closed;
        await server.close().catch(() => {});
        return 0;
      }),
    );
}

/**
 * The `mcpServers` entry MCP clients read (Claude Desktop's claude_desktop_config.json, Cursor's
 * mcp.json, `claude mcp add-json`): this Node and this script, so it works without a PATH lookup,
 * and the login's location when it is not the default one. Never a token: the server reads the
 * saved login itself.
 */
export function clientConfig(
  entry: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  profile: string | undefined,
) {
  const passOn: Record<string, string> = {};
  for (const name of ["XDG_CONFIG_HOME", "MINI_SITES_PROFILE"] as const) {
    const value = env[name];
    if (value !== undefined && value !== "") passOn[name] = value;
  }
  if (profile !== undefined) passOn.MINI_SITES_PROFILE = profile;
  return {
    mcpServers: {
      "mini-sites": {
        command: entry === undefined ? "mini-sites" : process.execPath,
        args: entry === undefined ? ["mcp"] : [entry, "mcp"],
        ...(Object.keys(passOn).length === 0 ? {} : { env: passOn }),
      },
    },
  };
}
