/**
 * What every command's action shares: the terminal, the saved login turned into an API client,
 * `--json` versus words, and the one place a failure becomes an exit code and a sentence.
 */

import type { Command } from "commander";
import { ApiClient } from "../api.ts";
import { type Connection, connection } from "../config.ts";
import { describe } from "../errors.ts";
import { type Style, styleFor, type Terminal } from "../terminal.ts";
import { VERSION } from "../version.ts";

export interface Runner {
  readonly term: Terminal;
  readonly state: { exitCode: number };
  readonly program: Command;
}

export interface GlobalOptions {
  readonly profile?: string;
  readonly debug?: boolean;
  readonly json?: boolean;
}

export interface Ctx {
  readonly term: Terminal;
  readonly command: string;
  readonly options: GlobalOptions;
  readonly style: Style;
  readonly json: boolean;
  /** The saved (or environment's) login; throws NotLoggedIn. */
  connection(): Promise<Connection>;
  /** An API client for it, tracing requests on stderr with --debug. */
  api(): Promise<ApiClient>;
  /** Writes `value` as JSON with --json, else the human text. */
  print(value: unknown, human: () => string): void;
  /** A line on stderr (a note, a warning): never on stdout, which --json keeps clean. */
  note(line: string): void;
}

/**
 * Wraps an action: builds its Ctx, runs it, and turns whatever it throws into the exit code and one
 * sentence (errors.ts). `name` is what error messages call the command (`publish`, `tokens create`).
 */
export function action<A extends unknown[]>(
  runner: Runner,
  name: string,
  run: (ctx: Ctx, ...args: A) => Promise<number | undefined>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const options = command.optsWithGlobals() as GlobalOptions;
    const term = runner.term;
    let connected: Connection | undefined;
    const ctx: Ctx = {
      term,
      command: name,
      options,
      style: styleFor(term.stdout, term.env),
      json: options.json === true,
      async connection() {
        connected ??= await connection(term, options.profile);
        return connected;
      },
      async api() {
        const { url, token } = await ctx.connection();
        return new ApiClient(url, token, {
          signal: term.signal,
          userAgent: `mini-sites-cli/${VERSION}`,
          ...(options.debug ? { trace: (line: string) => term.stderr.write(`${line}\n`) } : {}),
        });
      },
      print(value, human) {
        term.stdout.write(ctx.json ? `${JSON.stringify(value)}\n` : human());
      },
      note(line) {
        term.stderr.write(`${line}\n`);
      },
    };
    try {
      runner.state.exitCode = (await run(ctx, ...(args.slice(0, -1) as A))) ?? 0;
    } catch (error) {
      const described = describe(error, name, connected?.url);
      if (ctx.json) term.stdout.write(`${JSON.stringify({ error: described.json })}\n`);
      else if (described.details.length > 0) term.stdout.write(`${described.details.join("\n")}\n`);
      term.stderr.write(`${described.line}\n`);
      if (options.debug && error instanceof Error && error.stack) term.stderr.write(`${error.stack}\n`);
      runner.state.exitCode = described.exitCode;
    }
  };
}
