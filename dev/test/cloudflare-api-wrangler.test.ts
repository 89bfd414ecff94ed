/**
 * Cloudflare's own client accepts the stand-in: `wrangler deploy --dispatch-namespace … --assets …`
 * (the pinned wrangler, no wrangler.toml, no main script) succeeds against it, the Worker is then
 * listed with its files materialized, and a re-deploy with one changed file uploads exactly one asset.
 */

import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CloudflareApi, startCloudflareApi } from "../src/cloudflare-api/index.ts";

const ACCOUNT = "0123456789abcdef0123456789abcdef";
const NAMESPACE = "mini-sites-dev";
const TOKEN = "stand-in-api-token-for-wrangler-0123456";
const WRANGLER = join(
  dirname(createRequire(import.meta.url).resolve("wrangler/package.json")),
  "bin",
  "wrangler.js",
);
const run = promisify(execFile);

describe("wrangler deploy against the stand-in", () => {
  let root: string;
  let site: string;
  let api: CloudflareApi;

  /** Must be asynchronous: a synchronous spawn would block the stand-in wrangler is talking to. */
  const deploy = () =>
    run(
      process.execPath,
      [
        WRANGLER,
        "deploy",
        "--dispatch-namespace",
        NAMESPACE,
        "--name",
        "site-w",
        "--assets",
        site,
        "--compatibility-date",
        "2026-11-01",
      ],
      {
        cwd: root,
        timeout: 45_000,
        env: {
          PATH: process.env.PATH,
          HOME: root,
          CI: "true",
          CLOUDFLARE_API_BASE_URL: api.url,
          CLOUDFLARE_API_TOKEN: TOKEN,
          CLOUDFLARE_ACCOUNT_ID: ACCOUNT,
          WRANGLER_SEND_METRICS: "false",
          XDG_CONFIG_HOME: join(root, "config"),
        },
      },
    );

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "cloudflare-api-wrangler-"));
    site = join(root, "site");
    await mkdir(join(site, "assets"), { recursive: true });
    await writeFile(
      join(site, "index.html"),
      "<!doctype html><h1>one</h1><script src=/assets/app.js></script>",
    );
    await writeFile(join(site, "assets/app.js"), "document.title = 'wrangler';");
    await writeFile(join(site, "assets/site.css"), "h1 { color: teal }");
    api = await startCloudflareApi({
      dataDir: join(root, "data"),
      accountId: ACCOUNT,
      namespace: NAMESPACE,
      apiToken: TOKEN,
      log: () => {},
    });
  });

  afterAll(async () => {
    await api.close();
    await rm(root, { recursive: true, force: true });
  });

  it("succeeds, and the Worker is listed with its files materialized", async () => {
    await deploy();
    const calls = api.stats().recent.map((c) => `${c.method} ${c.path.replace(/\?.*/, "")} ${c.status}`);
    const script = `/client/v4/accounts/${ACCOUNT}/workers/dispatch/namespaces/${NAMESPACE}/scripts/site-w`;
    // wrangler 4.156.2 first looks the Worker up in the namespace (404 / 10092 means "new"), then
    // uploads; it does not call the account-level settings endpoint TOOLCHAIN.md lists.
    expect(calls).toEqual([
      `GET ${script} 404`,
      `POST ${script}/assets-upload-session 200`,
      `POST /client/v4/accounts/${ACCOUNT}/workers/assets/upload 201`,
      `PUT ${script} 200`,
    ]);
    const [worker] = api.scripts();
    expect(worker?.name).toBe("site-w");
    expect(Object.keys(worker?.assets.manifest ?? {}).sort()).toEqual([
      "/assets/app.js",
      "/assets/site.css",
      "/index.html",
    ]);
    expect(await readFile(join(worker?.directory as string, "assets/app.js"), "utf8")).toBe(
      "document.title = 'wrangler';",
    );
  });

  it("uploads exactly one asset when one file changed", async () => {
    await writeFile(
      join(site, "index.html"),
      "<!doctype html><h1>two</h1><script src=/assets/app.js></script>",
    );
    api.resetStats();
    await deploy();
    const stats = api.stats();
    expect(stats.assetsUploaded).toBe(1);
    expect(stats.requests["assets-upload"]).toBe(1);
    expect(stats.requests.unknown).toBe(0);
    const [worker] = api.scripts();
    expect(await readFile(join(worker?.directory as string, "index.html"), "utf8")).toContain("<h1>two</h1>");
  });
});
