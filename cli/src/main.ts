/**
 * `mini-sites` — the command line. Exit codes are a contract scripts and CI rely on:
 * 0 success / bundle may be hosted, 1 bundle rejected or secrets found, 2 usage error.
 */

import { parseArgs } from "node:util";
import { scanCommand } from "./scan.ts";
import type { Terminal } from "./terminal.ts";
import { validateCommand } from "./validate.ts";

export const EXIT_OK = 0;
export const EXIT_REJECTED = 1;
export const EXIT_USAGE = 2;

const HELP = `mini-sites — host interactive mini-sites inside Confluence pages

Usage:
  mini-sites validate <folder|zip|file.html> [--json]   check a bundle: structure, limits, secrets
  mini-sites scan <folder|zip|file> [--json]            look for secrets only
  mini-sites --help | --version

Exit codes: 0 ok, 1 rejected (or secrets found), 2 usage error.
`;

export async function main(argv: readonly string[], term: Terminal): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    term.stderr.write(`mini-sites: ${(error as Error).message}\n\n${HELP}`);
    return EXIT_USAGE;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.version) {
    term.stdout.write("mini-sites 0.1.0\n");
    return EXIT_OK;
  }
  if (values.help || command === undefined || command === "help") {
    (command === undefined && !values.help ? term.stderr : term.stdout).write(HELP);
    return command === undefined && !values.help ? EXIT_USAGE : EXIT_OK;
  }
  const options = { json: values.json === true, progress: values.progress !== false };
  switch (command) {
    case "validate":
    case "scan": {
      if (rest.length !== 1) {
        term.stderr.write(`mini-sites ${command}: give exactly one folder, .zip or file.\n\n${HELP}`);
        return EXIT_USAGE;
      }
      const target = rest[0] as string;
      return command === "validate"
        ? validateCommand(target, options, term)
        : scanCommand(target, options, term);
    }
    default:
      term.stderr.write(`mini-sites: unknown command "${command}".\n\n${HELP}`);
      return EXIT_USAGE;
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    allowNegative: true,
    options: {
      json: { type: "boolean" },
      progress: { type: "boolean" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "v" },
    },
  });
}
