/**
 * Questions to a person at a terminal: login's URL and token (the token is not echoed, so it stays
 * out of screen recordings and scrollback) and delete's confirmation. Without a terminal there is no
 * one to ask: callers must take the answer from an option instead (`--token`, `--yes`).
 */

import { Cancelled } from "./api.ts";
import type { Terminal } from "./terminal.ts";

export function canAsk(term: Terminal): boolean {
  return term.stdin?.isTTY === true;
}

export async function ask(
  term: Terminal,
  question: string,
  options: { secret?: boolean } = {},
): Promise<string> {
  const stdin = term.stdin;
  if (stdin === undefined) throw new Error("no terminal to ask");
  term.stderr.write(question);
  const secret = options.secret === true && stdin.setRawMode !== undefined;
  if (secret) stdin.setRawMode?.(true);
  stdin.resume?.();
  try {
    return await new Promise<string>((resolve, reject) => {
      let answer = "";
      const onData = (chunk: Buffer | string) => {
        for (const ch of typeof chunk === "string" ? chunk : chunk.toString("utf8")) {
          if (ch === "\r" || ch === "\n") {
            stdin.off("data", onData);
            term.stderr.write("\n");
            resolve(answer.trim());
            return;
          }
          if (ch === "\u0003") {
            // Ctrl-C in raw mode arrives as a character, not a signal.
            stdin.off("data", onData);
            term.stderr.write("\n");
            reject(new Cancelled("cancelled"));
            return;
          }
          if (ch === "\u007f" || ch === "\b") answer = answer.slice(0, -1);
          else answer += ch;
        }
      };
      stdin.on("data", onData);
    });
  } finally {
    if (secret) stdin.setRawMode?.(false);
    stdin.pause?.();
  }
}

/** Everything on stdin, for `--token -` (a token piped in stays out of `ps` and shell history). */
export async function readAll(term: Terminal): Promise<string> {
  if (term.stdin === undefined) return "";
  let text = "";
  for await (const chunk of term.stdin) text += typeof chunk === "string" ? chunk : chunk.toString("utf8");
  return text.trim();
}
