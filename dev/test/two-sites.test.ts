/**
 * Two sites serve their own bytes: the test that proves the pinned toolchain. Miniflare 4 served one
 * shared folder for every assets Worker in an instance (TOOLCHAIN.md); this is the check that the
 * Miniflare 5 set we pinned does not, through the dispatch-namespace stand-in and per Worker.
 */

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestVia } from "../src/loopback-http.ts";
import { type SiteWorker, startUserWorkers, type UserWorkers } from "../src/user-workers.ts";

interface Reply {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: string;
}

/** `path` on `base`'s socket, with the site named in Host (see loopback-http.ts); no host: `base`'s own. */
async function get(base: URL, path: string, host?: string): Promise<Reply> {
  const { status, headers, body } = await requestVia(new URL(path, base), { host });
  return { status, contentType: headers["content-type"], body };
}

async function writeSite(root: string, name: string, files: Record<string, string>): Promise<string> {
  const directory = join(root, name);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(directory, path, ".."), { recursive: true });
    await writeFile(join(directory, path), text);
  }
  return directory;
}

describe("two sites in one Miniflare instance", () => {
  let root: string;
  let sites: SiteWorker[];
  let workers: UserWorkers;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "two-sites-"));
    sites = [
      {
        name: "alpha",
        notFoundHandling: "single-page-application",
        directory: await writeSite(root, "alpha", {
          "index.html": "<h1>alpha home</h1>",
          "assets/app.js": "console.log('alpha');",
        }),
      },
      {
        name: "beta",
        notFoundHandling: "404-page",
        directory: await writeSite(root, "beta", {
          "index.html": "<h1>beta home</h1>",
          "404.html": "<h1>beta has no such page</h1>",
          "assets/app.js": "console.log('beta');",
        }),
      },
    ];
    workers = await startUserWorkers({ sites, directAccess: true });
  });

  afterAll(async () => {
    await workers?.dispose();
    await rm(root, { recursive: true, force: true });
  });

  it("serves each site's own index.html by host", async () => {
    const alpha = await get(workers.url, "/", "s-alpha.localhost");
    const beta = await get(workers.url, "/", "s-beta.localhost");
    expect(alpha).toMatchObject({ status: 200, body: "<h1>alpha home</h1>" });
    expect(alpha.contentType).toMatch(/^text\/html/);
    expect(beta).toMatchObject({ status: 200, body: "<h1>beta home</h1>" });
  });

  it("serves each site's own bytes for the same asset path", async () => {
    const alpha = await get(workers.url, "/assets/app.js", `s-alpha.localhost:${workers.url.port}`);
    const beta = await get(workers.url, "/assets/app.js", `s-beta.localhost:${workers.url.port}`);
    expect(alpha).toMatchObject({ status: 200, body: "console.log('alpha');" });
    expect(beta).toMatchObject({ status: 200, body: "console.log('beta');" });
    expect(alpha.contentType).toMatch(/^text\/javascript/);
    expect(beta.contentType).toMatch(/^text\/javascript/);
  });

  it("serves each site's own bytes on its own socket, without the router", async () => {
    const alpha = await get(await workers.directUrl("alpha"), "/assets/app.js");
    const beta = await get(await workers.directUrl("beta"), "/assets/app.js");
    expect(alpha).toMatchObject({ status: 200, body: "console.log('alpha');" });
    expect(beta).toMatchObject({ status: 200, body: "console.log('beta');" });
  });

  it("answers 404 for a site that does not exist", async () => {
    const reply = await get(workers.url, "/", "s-gamma.localhost");
    expect(reply.status).toBe(404);
    expect(reply.body).not.toContain("home");
  });

  it("answers 404 for a host that is not a site host", async () => {
    expect((await get(workers.url, "/", "localhost")).status).toBe(404);
  });

  it("falls back to index.html for an unknown path on a single-page-application site", async () => {
    const reply = await get(workers.url, "/some/client/route", "s-alpha.localhost");
    expect(reply).toMatchObject({ status: 200, body: "<h1>alpha home</h1>" });
  });

  it("answers 404 with the site's 404.html for an unknown path on a 404-page site", async () => {
    const reply = await get(workers.url, "/some/client/route", "s-beta.localhost");
    expect(reply).toMatchObject({ status: 404, body: "<h1>beta has no such page</h1>" });
    expect(reply.contentType).toMatch(/^text\/html/);
  });

  it("serves a site added later without mixing up the others", async () => {
    const gamma: SiteWorker = {
      name: "gamma",
      directory: await writeSite(root, "gamma", { "assets/app.js": "console.log('gamma');" }),
    };
    await workers.setSites([...sites, gamma]);
    const replies = await Promise.all(
      ["alpha", "beta", "gamma"].map((name) => get(workers.url, "/assets/app.js", `s-${name}.localhost`)),
    );
    expect(replies.map((reply) => reply.body)).toEqual([
      "console.log('alpha');",
      "console.log('beta');",
      "console.log('gamma');",
    ]);
    expect((await get(workers.url, "/missing", "s-gamma.localhost")).status).toBe(404);
  });

  it("refuses a site folder that does not exist instead of serving an empty one", async () => {
    await expect(
      startUserWorkers({ sites: [{ name: "ghost", directory: join(root, "does-not-exist") }] }),
    ).rejects.toThrow(/not an absolute path to a folder/);
  });
});
