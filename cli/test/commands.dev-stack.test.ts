/**
 * The CLI as a newcomer uses it, against a real running dev stack (control Worker, gateway, user
 * Workers, Cloudflare API stand-in): log in from the stack's dev.json, publish by name twice, a
 * republish that does nothing, rollback, download, refusals, and every way to fail that a person
 * meets first — a wrong token, a server that does not answer, Ctrl-C in the middle of an upload.
 */

import { randomBytes } from "node:crypto";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { strFromU8, strToU8, unzipSync, zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestVia } from "../../dev/src/loopback-http.ts";
import { FAKE_GITHUB_TOKEN, run, startWorld, type World, writeBundle } from "./support.ts";

let world: World;
beforeAll(async () => {
  world = await startWorld("cli");
}, 180_000);
afterAll(async () => {
  await world?.close();
});

const json = (text: string) => JSON.parse(text) as Record<string, unknown>;

/** What a browser does with a preview URL: enter with the grant, keep the cookie, load `path`. */
async function browse(previewUrl: string, path = "/"): Promise<string> {
  const url = new URL(previewUrl);
  const entered = await requestVia(url, { host: url.host });
  expect(entered.status).toBe(303);
  const cookie = String(entered.headers["set-cookie"]).split(";")[0] as string;
  for (let attempt = 0; ; attempt++) {
    const page = await requestVia(`http://127.0.0.1:${url.port}${path}`, {
      host: url.host,
      headers: { cookie },
    });
    if (page.status === 200 || attempt > 20) return page.body;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function sites(): Promise<
  { name: string; id: string; liveVersion: number | null; notFoundHandling: string }[]
> {
  const listed = await run(world, ["sites", "--json"]);
  expect(listed.code, listed.stderr).toBe(0);
  return json(listed.stdout).sites as never;
}

const v1 = {
  "index.html": '<!doctype html><script src="assets/app.js"></script><h1>Team dashboard v1</h1>',
  "assets/app.js": "console.log('a chart library nobody changes');",
  "data/numbers.json": '{"q3": [1, 2, 3]}',
};

describe("mini-sites login --dev", () => {
  it("finds the running stack's dev.json from a folder below it and saves a 0600 profile", async () => {
    // The stack's data folder is `.data` of the scratch folder, as `npm run dev` keeps it in the repository.
    const below = join(world.dir, "work", "deeper");
    await mkdir(below, { recursive: true });
    const login = await run(world, ["login", "--dev"], { cwd: below });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain(`Logged in to ${world.stack.info.controlUrl}`);
    const file = join(world.env.XDG_CONFIG_HOME as string, "mini-sites", "config.json");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({
      current: "dev",
      profiles: { dev: { url: world.stack.info.controlUrl, token: world.stack.info.apiToken } },
    });
    const who = await run(world, ["whoami", "--json"]);
    expect(who.code).toBe(0);
    expect(json(who.stdout)).toMatchObject({ profile: "dev", token: { label: "dev" } });
    expect(json(who.stdout).scopes).toContain("sites:write");
  });
});

describe("mini-sites publish", () => {
  it("creates a site named after the folder, then publishes a new version of it sending only what changed", async () => {
    const dist = await writeBundle(join(world.dir, "team-dashboard", "dist"), v1);
    const first = await run(world, ["publish", dist, "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const published = json(first.stdout);
    expect(Object.keys(published)).toEqual(["site", "siteId", "version", "status", "url"]);
    expect(published).toMatchObject({ site: "team-dashboard", version: 1, status: "live" });
    expect(await browse(published.url as string)).toContain("Team dashboard v1");

    await writeFile(join(dist, "index.html"), v1["index.html"].replace("v1", "v2"));
    const second = await run(world, ["publish", dist, "--site", "team-dashboard", "-m", "second"]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain("team-dashboard v2 is live.");
    expect(second.stdout).toContain("Sent     1 of 3 files");
    expect(second.stdout).toContain("the server had the other 2");
    const url = /Preview {2}(\S+)/.exec(second.stdout)?.[1] as string;
    expect(await browse(url)).toContain("Team dashboard v2");
    expect((await sites()).filter((s) => s.name === "team-dashboard")).toHaveLength(1);
  });

  it("does nothing, and says so, when the content is already live", async () => {
    const again = await run(world, ["publish", join(world.dir, "team-dashboard", "dist")]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("team-dashboard v2 already has this content: nothing was published.");
    const versions = json((await run(world, ["versions", "team-dashboard", "--json"])).stdout)
      .versions as unknown[];
    expect(versions).toHaveLength(2);
    const unchanged = await run(world, ["publish", join(world.dir, "team-dashboard", "dist"), "--json"]);
    expect(json(unchanged.stdout)).toMatchObject({ version: 2, status: "unchanged" });
  });

  it("publishes the same content again with --status-feed as a new version that may read the tenant's feed", async () => {
    const dist = join(world.dir, "team-dashboard", "dist");
    const opted = await run(world, ["publish", dist, "--status-feed", "--json"]);
    expect(opted.code, opted.stderr).toBe(0);
    expect(json(opted.stdout)).toMatchObject({ version: 3 });
    const listed = json((await run(world, ["versions", "team-dashboard", "--json"])).stdout).versions as {
      number: number;
      statusFeed: boolean;
    }[];
    expect(listed.find((v) => v.number === 3)?.statusFeed).toBe(true);
    expect(listed.find((v) => v.number === 2)?.statusFeed).toBe(false);
    // Same bytes, same choice: nothing new.
    const again = await run(world, ["publish", dist, "--status-feed", "--json"]);
    expect(json(again.stdout)).toMatchObject({ version: 3, status: "unchanged" });
  });

  it("rolls back by site name, and downloads exactly what was published", async () => {
    const rollback = await run(world, ["rollback", "Team-Dashboard", "1"]);
    expect(rollback.code, rollback.stderr).toBe(0);
    const versions = json((await run(world, ["versions", "team-dashboard", "--json"])).stdout).versions as {
      number: number;
      live: boolean;
    }[];
    expect(versions.find((v) => v.live)?.number).toBe(1);

    const out = join(world.dir, "v1.zip");
    const download = await run(world, ["download", "team-dashboard", "--version", "1", "-o", out]);
    expect(download.code, download.stderr).toBe(0);
    const files = unzipSync(new Uint8Array(await readFile(out)));
    expect(
      Object.fromEntries(Object.entries(files).map(([path, bytes]) => [path, strFromU8(bytes)])),
    ).toEqual(v1);
    // The live version is the default, and an existing file is not overwritten without --force.
    const again = await run(world, ["download", "team-dashboard", "-o", out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("--force");
  });

  it("refuses a bundle holding a secret before uploading it, naming the file and the line", async () => {
    const leaky = await writeBundle(join(world.dir, "leaky"), {
      "index.html": "<p>dashboard</p>",
      "config.js": `const cfg = {\n  githubToken: "${FAKE_GITHUB_TOKEN}",\n};\n`,
    });
    const refused = await run(world, ["publish", leaky, "--site", "leaky-site"]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain("config.js:2:");
    expect(refused.stdout).toContain("github-token");
    expect(refused.stderr).toMatch(/^mini-sites publish: BUNDLE_REJECTED: Nothing was uploaded/);
    expect(refused.stdout + refused.stderr).not.toContain(FAKE_GITHUB_TOKEN);
    const asJson = await run(world, ["publish", leaky, "--site", "leaky-site", "--json"]);
    expect(json(asJson.stdout)).toMatchObject({
      error: { code: "BUNDLE_REJECTED", findings: [{ path: "config.js", line: 2, rule: "github-token" }] },
    });
    expect((await sites()).map((s) => s.name)).not.toContain("leaky-site");
  });

  it("publishes a file whose finding a tenant admin accepted, for those bytes only, until it is withdrawn", async () => {
    const example = `// From the API guide:\nconst exampleToken = "${FAKE_GITHUB_TOKEN}";\n`;
    const docs = await writeBundle(join(world.dir, "api-docs"), {
      "index.html": '<script src="guide.js"></script><p>API guide</p>',
      "guide.js": example,
    });
    const refused = await run(world, ["publish", docs, "--json"]);
    expect(refused.code).toBe(1);
    const finding = (json(refused.stdout).error as { findings: { rule: string; fileHash: string }[] })
      .findings[0];
    expect(finding?.fileHash).toMatch(/^[0-9a-f]{64}$/);
    const human = await run(world, ["publish", docs]);
    expect(human.stdout).toContain(`file sha256 ${finding?.fileHash}`);
    expect(human.stdout).toContain("mini-sites findings accept");

    const accepted = await run(world, [
      "findings",
      "accept",
      "github-token",
      String(finding?.fileHash),
      "--note",
      "Example from the API guide",
    ]);
    expect(accepted.code, accepted.stderr).toBe(0);
    const listed = await run(world, ["findings", "list", "--json"]);
    expect(json(listed.stdout).findings).toEqual([
      expect.objectContaining({ ruleId: "github-token", fileHash: finding?.fileHash }),
    ]);
    const published = await run(world, ["publish", docs, "--json"]);
    expect(published.code, published.stderr).toBe(0);
    expect(json(published.stdout)).toMatchObject({ site: "api-docs", status: "live" });

    // One byte more and it is another file: refused here, before any upload.
    await writeFile(join(docs, "guide.js"), `${example} `);
    expect((await run(world, ["publish", docs])).code).toBe(1);
    await writeFile(join(docs, "guide.js"), example);
    const withdrawn = await run(world, ["findings", "withdraw", "github-token", String(finding?.fileHash)]);
    expect(withdrawn.code, withdrawn.stderr).toBe(0);
    expect(withdrawn.stdout).toContain("refuses a publish again");
    await writeFile(join(docs, "index.html"), '<script src="guide.js"></script><p>API guide v2</p>');
    expect((await run(world, ["publish", docs])).code).toBe(1);
    const bad = await run(world, ["findings", "accept", "no-such-rule", String(finding?.fileHash)]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("INVALID_REQUEST");
  });

  it("publishes a single .html file and a zip, a new site getting the single-page-app setting", async () => {
    await writeFile(join(world.dir, "report.html"), "<!doctype html><h1>One file</h1>");
    const html = await run(world, ["publish", join(world.dir, "report.html"), "--spa", "--json"]);
    expect(html.code, html.stderr).toBe(0);
    expect(json(html.stdout)).toMatchObject({ site: "report", status: "live" });
    expect((await sites()).find((s) => s.name === "report")?.notFoundHandling).toBe(
      "single-page-application",
    );
    const both = await run(world, ["publish", join(world.dir, "report.html"), "--spa", "--404-page"]);
    expect(both.code).toBe(2);
    // A zip is named after its file; one wrapping folder inside it is unwrapped.
    await writeFile(
      join(world.dir, "q3-review.zip"),
      zipSync({ "q3-review/index.html": strToU8("<h1>Zipped</h1>"), "q3-review/a.css": strToU8("h1{}") }),
    );
    const zip = await run(world, ["publish", join(world.dir, "q3-review.zip"), "--json"]);
    expect(zip.code, zip.stderr).toBe(0);
    expect(json(zip.stdout)).toMatchObject({ site: "q3-review", version: 1, status: "live" });
    expect(await browse(json(zip.stdout).url as string)).toContain("Zipped");
  });

  it("returns at once with --no-wait, the version queued", async () => {
    const dist = await writeBundle(join(world.dir, "queued"), { "index.html": "<p>later</p>" });
    const queued = await run(world, ["publish", dist, "--no-wait", "--json"]);
    expect(queued.code, queued.stderr).toBe(0);
    expect(json(queued.stdout)).toMatchObject({ site: "queued", version: 1, status: "queued", url: null });
  });

  it("leaves nothing on the server when cancelled (Ctrl-C) during the upload", async () => {
    const big = await writeBundle(join(world.dir, "cancelled"), {
      "index.html": "<p>big</p>",
      // Random bytes: incompressible, so the upload takes long enough to be interrupted.
      "media/a.bin": randomBytes(6 * 1024 * 1024),
      "media/b.bin": randomBytes(6 * 1024 * 1024),
    });
    const interrupt = new AbortController();
    const cancelled = await run(world, ["publish", big], {
      signal: interrupt.signal,
      onStderr: (text) => {
        if (text.startsWith("Uploading")) interrupt.abort();
      },
    });
    expect(cancelled.code).toBe(130);
    expect(cancelled.stderr).toContain("Cancelled before the upload finished: nothing was published.");
    expect((await sites()).map((s) => s.name)).not.toContain("cancelled");
    // Nor any bytes of it: the upload's temporary objects are gone.
    const bucket = await world.stack.control.miniflare.getR2Bucket("BUNDLES", "control");
    const tenant = world.stack.control.devTenant;
    let left: string[] = [];
    for (let attempt = 0; attempt < 40; attempt++) {
      left = (await bucket.list({ prefix: `t/${tenant}/uploads/` })).objects.map((o) => o.key);
      if (left.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(left).toEqual([]);
  });
});

describe("site management", () => {
  it("opens, disables, enables and deletes a site by name, asking before deleting", async () => {
    const open = await run(world, ["open", "team-dashboard", "--json"]);
    expect(open.code, open.stderr).toBe(0);
    expect(Object.keys(json(open.stdout))).toEqual(["url", "expiresAt"]);
    expect(await browse(json(open.stdout).url as string)).toContain("Team dashboard v1");

    expect((await run(world, ["disable", "team-dashboard"])).code).toBe(0);
    const disabled = await run(world, ["open", "team-dashboard"]);
    expect(disabled.code).toBe(1);
    expect(disabled.stderr).toContain("SITE_DISABLED");
    expect(disabled.stderr).toContain("mini-sites enable");
    expect((await run(world, ["enable", "team-dashboard"])).code).toBe(0);

    const unasked = await run(world, ["delete", "team-dashboard"]);
    expect(unasked.code).toBe(2);
    expect(unasked.stderr).toContain("without --yes");
    const deleted = await run(world, ["delete", "team-dashboard", "--yes", "--json"]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect((await sites()).map((s) => s.name)).not.toContain("team-dashboard");
    const gone = await run(world, ["versions", "team-dashboard"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('NOT_FOUND: No site "team-dashboard"');
  });
});

describe("failures a person meets first", () => {
  it("says a revoked or wrong token was refused and to log in again", async () => {
    const created = await run(world, ["tokens", "create", "--label", "short-lived", "--json"]);
    expect(created.code, created.stderr).toBe(0);
    const { id, token } = json(created.stdout) as { id: string; token: string };
    const listed = await run(world, ["tokens", "list", "--json"]);
    expect(JSON.stringify(json(listed.stdout))).toContain(id);
    expect(listed.stdout).not.toContain(token);
    expect((await run(world, ["tokens", "revoke", id])).code).toBe(0);

    const refused = await run(world, ["sites"], { env: { MINI_SITES_TOKEN: token } });
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(refused.stderr).toContain("AUTH_INVALID_TOKEN");
    expect(refused.stderr).toContain("run `mini-sites login`");
  });

  it("names the URL it tried when the server does not answer, without a stack trace unless --debug", async () => {
    const { createServer } = await import("node:net");
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const url = `http://127.0.0.1:${port}`;
    const unreachable = await run(world, ["sites"], { env: { MINI_SITES_URL: url } });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toBe(
      `mini-sites sites: UNREACHABLE: could not reach ${url} (ECONNREFUSED). Check the URL (\`mini-sites login --url URL\`, or MINI_SITES_URL), or start the local stack (\`npm run dev\` / \`mini-sites dev\`).\n`,
    );
    const debug = await run(world, ["sites", "--debug"], { env: { MINI_SITES_URL: url } });
    expect(debug.stderr).toContain(`→ GET ${url}/v1/sites`);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it("tells someone who never logged in how to", async () => {
    const fresh = await run(world, ["sites"], { env: { XDG_CONFIG_HOME: join(world.dir, "nobody") } });
    expect(fresh.code).toBe(1);
    expect(fresh.stderr).toContain("NOT_LOGGED_IN");
    expect(fresh.stderr).toContain("mini-sites login");
  });
});

describe("mini-sites monitors", () => {
  it("lists the dev stack's demo monitor, adds one, refuses an SSRF target with its code, and removes by name", async () => {
    const login = await run(world, ["login", "--dev", "--data", world.stack.info.dataDir]);
    expect(login.code, login.stderr).toBe(0);
    const listed = await run(world, ["monitors", "list", "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    const names = () => (json(listed.stdout).monitors as { name: string }[]).map((m) => m.name);
    expect(names()).toContain("Demo service");

    const added = await run(world, [
      "monitors",
      "add",
      "Orders API",
      "https://orders.example.com/health",
      "--method",
      "head",
      "--expect",
      "200-299",
      "--every",
      "120",
      "--json",
    ]);
    expect(added.code, added.stderr).toBe(0);
    expect(json(added.stdout)).toMatchObject({
      name: "Orders API",
      method: "HEAD",
      expectedStatus: { min: 200, max: 299 },
      intervalSeconds: 120,
      state: "unknown",
    });
    const human = await run(world, ["monitors", "list"]);
    expect(human.stdout).toContain("Orders API");

    const metadata = await run(world, [
      "monitors",
      "add",
      "steal",
      "https://169.254.169.254/latest/meta-data/",
    ]);
    expect(metadata.code).toBe(1);
    expect(metadata.stderr).toContain("MONITOR_TARGET_FORBIDDEN");
    expect(metadata.stderr).toContain("metadata");
    const tooOften = await run(world, [
      "monitors",
      "add",
      "fast",
      "https://fast.example.com/",
      "--every",
      "30",
    ]);
    expect(tooOften.code).toBe(1);
    expect(tooOften.stderr).toContain("INVALID_REQUEST");
    const badExpect = await run(world, ["monitors", "add", "x", "https://x.example.com/", "--expect", "abc"]);
    expect(badExpect.code).toBe(2);

    const edited = await run(world, [
      "monitors",
      "edit",
      "orders api",
      "--name",
      "Orders API v2",
      "--expect",
      "204",
      "--timeout",
      "5",
      "--json",
    ]);
    expect(edited.code, edited.stderr).toBe(0);
    expect(json(edited.stdout)).toMatchObject({
      name: "Orders API v2",
      method: "HEAD",
      expectedStatus: { min: 204, max: 204 },
      timeoutSeconds: 5,
      intervalSeconds: 120,
    });
    const nothing = await run(world, ["monitors", "edit", "Orders API v2"]);
    expect(nothing.code).toBe(2);
    const ssrfEdit = await run(world, ["monitors", "edit", "Orders API v2", "--url", "http://10.0.0.1/"]);
    expect(ssrfEdit.code).toBe(1);
    expect(ssrfEdit.stderr).toContain("MONITOR_TARGET_FORBIDDEN");

    const removed = await run(world, ["monitors", "rm", "orders api v2", "--json"]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(json(removed.stdout)).toMatchObject({ deleted: true });
    const after = await run(world, ["monitors", "list", "--json"]);
    expect((json(after.stdout).monitors as { name: string }[]).map((m) => m.name)).not.toContain(
      "Orders API",
    );
  });
});
