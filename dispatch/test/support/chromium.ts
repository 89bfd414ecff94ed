/**
 * Debian's Chromium as people run it, driven over CDP by playwright-core.
 *
 * Why not `chromium.launch()`: Playwright adds its own switches, among them
 * `--disable-features=ThirdPartyStoragePartitioning`, and without storage partitioning Chromium
 * denies `localStorage` to every cross-site frame — which is what an embedded mini-site is. So we
 * start the binary ourselves with only the TOOLCHAIN.md flags and connect with `connectOverCDP`.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** TOOLCHAIN.md: flags that keep Chromium quiet on a closed network. */
export const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface RunningChromium {
  readonly browser: Browser;
  close(): Promise<void>;
}

export async function startChromium(userDataDir: string): Promise<RunningChromium> {
  const child: ChildProcess = spawn(
    CHROMIUM_PATH,
    [
      ...CHROMIUM_FLAGS,
      "--headless",
      "--remote-debugging-port=0",
      `--user-data-dir=${userDataDir}`,
      "about:blank",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const endpoint = await new Promise<string>((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`Chromium did not start: ${seen.slice(-500)}`)), 20_000);
    child.stderr?.on("data", (chunk: Buffer) => {
      seen += chunk.toString("utf8");
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`Chromium exited (${code}): ${seen.slice(-500)}`));
    });
  });
  child.removeAllListeners("exit");
  const browser = await chromium.connectOverCDP(endpoint);
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}
