/** What the CLI writes to: injected so tests run `main()` in-process and read what a user would see. */
export interface Terminal {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Where prompts read answers (login's token, delete's confirmation); absent in tests and pipes. */
  readonly stdin?: Readable;
  /**
   * Aborted on Ctrl-C (bin/mini-sites.js): an upload in flight is cancelled so the server keeps
   * nothing of it, and a command that only follows a job stops following.
   */
  readonly signal?: AbortSignal;
  /** The script that started the CLI (bin/mini-sites.js), for `mcp --print-config`. */
  readonly entry?: string;
}

export interface Readable extends AsyncIterable<Buffer | string> {
  readonly isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
  on(event: "data", listener: (chunk: Buffer | string) => void): unknown;
  off(event: "data", listener: (chunk: Buffer | string) => void): unknown;
  resume?(): unknown;
  pause?(): unknown;
}

export interface Writable {
  /** Text, or bytes (`download -o -`). */
  write(chunk: string | Uint8Array): unknown;
  readonly isTTY?: boolean;
}

export interface Style {
  bold(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
}

const plain: Style = { bold: (t) => t, red: (t) => t, green: (t) => t, yellow: (t) => t, dim: (t) => t };
const ansi: Style = {
  bold: (t) => `\x1b[1m${t}\x1b[22m`,
  red: (t) => `\x1b[31m${t}\x1b[39m`,
  green: (t) => `\x1b[32m${t}\x1b[39m`,
  yellow: (t) => `\x1b[33m${t}\x1b[39m`,
  dim: (t) => `\x1b[2m${t}\x1b[22m`,
};

/** Colour only for a person at a terminal, and never when NO_COLOR is set (no-color.org). */
export function styleFor(out: Writable, env: Terminal["env"]): Style {
  return out.isTTY === true && !env.NO_COLOR ? ansi : plain;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * One self-rewriting status line on stderr while a large bundle is read. Only on a terminal: in CI
 * logs and pipes a progress bar is noise, and stdout stays clean for `--json` consumers.
 */
export class ProgressLine {
  #out: Writable;
  #enabled: boolean;
  #lastDraw = 0;
  #drawn = false;

  constructor(out: Writable, enabled: boolean) {
    this.#out = out;
    this.#enabled = enabled && out.isTTY === true;
    // Small bundles finish before the first draw: the line appears only when there is a wait to show.
    this.#lastDraw = Date.now() + 200;
  }

  update(text: string, now = Date.now()): void {
    if (!this.#enabled || now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    this.#drawn = true;
    this.#out.write(`\r\x1b[2K${text}`);
  }

  clear(): void {
    if (this.#drawn) this.#out.write("\r\x1b[2K");
    this.#drawn = false;
  }
}

/** A bar of `width` cells for a fraction in [0, 1]: `█████░░░░░`. */
export function bar(fraction: number, width = 24): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
}

/** A plain-text table: columns padded to their widest cell, the header dimmed. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], style: Style): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return `${[style.dim(line(header)), ...rows.map(line)].join("\n")}\n`;
}
