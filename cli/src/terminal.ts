/** What the CLI writes to: injected so tests run `main()` in-process and read what a user would see. */
export interface Terminal {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

export interface Writable {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
}

export interface Style {
  bold(text: string): string;
  red(text: string): string;
  green(text: string): string;
  dim(text: string): string;
}

const plain: Style = { bold: (t) => t, red: (t) => t, green: (t) => t, dim: (t) => t };
const ansi: Style = {
  bold: (t) => `\x1b[1m${t}\x1b[22m`,
  red: (t) => `\x1b[31m${t}\x1b[39m`,
  green: (t) => `\x1b[32m${t}\x1b[39m`,
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
