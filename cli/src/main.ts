/**
 * `mini-sites` — the command line. Exit codes are a contract scripts, CI and agents rely on:
 * 0 success, 1 refused or failed (a bundle rule, the server, the network), 2 the command line is
 * wrong, 130 cancelled with Ctrl-C. Every command that reports data takes `--json` and then writes
 * exactly one JSON document to stdout; messages and progress go to stderr.
 *
 * Commands are grouped by what they act on: commands/account.ts (login, logout, whoami),
 * commands/publish.ts, commands/sites.ts (sites, versions, rollback, download, disable, enable,
 * delete, open), commands/tokens.ts, commands/local.ts (validate, scan, dev), commands/mcp.ts.
 */

import { Command, CommanderError } from "commander";
import { registerAccountCommands } from "./commands/account.ts";
import { registerDoctorCommand } from "./commands/doctor.ts";
import { registerFindingCommands } from "./commands/findings.ts";
import { registerLocalCommands } from "./commands/local.ts";
import { registerMcpCommand } from "./commands/mcp.ts";
import { registerMonitorCommands } from "./commands/monitors.ts";
import { registerPublishCommand } from "./commands/publish.ts";
import type { Runner } from "./commands/runner.ts";
import { registerSiteCommands } from "./commands/sites.ts";
import { registerTokenCommands } from "./commands/tokens.ts";
import { EXIT_OK, EXIT_USAGE } from "./errors.ts";
import type { Terminal } from "./terminal.ts";
import { VERSION } from "./version.ts";

export { EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from "./errors.ts";

export async function main(argv: readonly string[], term: Terminal): Promise<number> {
  // Not commander's `.version()`: its --version would also catch `download --version N`.
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
    term.stdout.write(`mini-sites ${VERSION}\n`);
    return EXIT_OK;
  }
  const state: { exitCode: number } = { exitCode: EXIT_OK };
  const program = buildProgram(term, state);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return state.exitCode;
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.code === "commander.helpDisplayed") return EXIT_OK;
    if (error.code === "commander.help") return EXIT_USAGE; // help shown because no command was given
    // Usage errors: one line, the reason and where to look.
    const reason = error.message
      .replace(/^error: /, "")
      .replace(/\n\(Did you mean (.+)\?\)/, " — did you mean $1?")
      .replace(/\n+/g, " ")
      .trim();
    term.stderr.write(`mini-sites: ${reason} (see \`mini-sites --help\`)\n`);
    return EXIT_USAGE;
  }
}

export function buildProgram(term: Terminal, state: { exitCode: number }): Command {
  const program = new Command("mini-sites");
  // Set before any subcommand is added: commander copies these settings into each one.
  program
    .exitOverride()
    .configureOutput({
      writeOut: (text) => term.stdout.write(text),
      writeErr: (text) => term.stderr.write(text),
      // Errors are written by main() as one line.
      outputError: () => {},
    })
    .showSuggestionAfterError(true)
    .allowExcessArguments(false)
    .helpCommand(true);
  program
    .description(
      "Host interactive mini-sites inside Confluence pages: publish a folder, a zip or one .html file from the terminal, CI or an AI agent (MCP).",
    )
    .option(
      "--profile <name>",
      "use this saved login (default: the last one `login` saved; env MINI_SITES_PROFILE)",
    )
    .option("--debug", "show each HTTP request and, on failure, the stack trace")
    .addHelpText(
      "after",
      `
Getting started (local):
  npm run dev                       # or: mini-sites dev
  mini-sites login --dev
  mini-sites publish ./dist --site team-dashboard

mini-sites --version prints the version.
Environment: MINI_SITES_URL and MINI_SITES_TOKEN override the saved login; NO_COLOR turns colour off.
Exit codes: 0 ok, 1 refused or failed, 2 usage error, 130 cancelled.
`,
    );

  const runner: Runner = { term, state, program };
  registerAccountCommands(program, runner);
  registerPublishCommand(program, runner);
  registerSiteCommands(program, runner);
  registerTokenCommands(program, runner);
  registerFindingCommands(program, runner);
  registerMonitorCommands(program, runner);
  registerDoctorCommand(program, runner);
  registerLocalCommands(program, runner);
  registerMcpCommand(program, runner);
  return program;
}
