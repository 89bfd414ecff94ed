/**
 * The MCP server as an agent meets it: `mini-sites mcp` started as a process and driven over stdio
 * by the MCP SDK's own client, against a real running dev stack — the tools and their annotations,
 * publishing a folder and inline files with progress notifications, a typed refusal an agent can
 * act on, and the rest of the tools.
 */

import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { Progress } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestVia } from "../../dev/src/loopback-http.ts";
import { BIN, FAKE_GITHUB_TOKEN, run, startWorld, type World, writeBundle } from "./support.ts";

let world: World;
let client: Client;

async function connect(env: Record<string, string>): Promise<Client> {
  const connected = new Client({ name: "mini-sites-test-agent", version: "1.0.0" });
  await connected.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [BIN, "mcp"],
      env: { PATH: process.env.PATH ?? "", ...env },
      cwd: world.dir,
      stderr: "ignore",
    }),
  );
  return connected;
}

beforeAll(async () => {
  world = await startWorld("mcp");
  expect((await run(world, ["login", "--dev"])).code).toBe(0);
  client = await connect(world.env);
}, 180_000);
afterAll(async () => {
  await client?.close();
  await world?.close();
});

type Structured = { ok: boolean; error?: { code: string; message: string; advice: string } } & Record<
  string,
  unknown
>;

async function call(name: string, args: Record<string, unknown>, onprogress?: (p: Progress) => void) {
  const result = await client.callTool({ name, arguments: args }, undefined, {
    timeout: 120_000,
    ...(onprogress === undefined ? {} : { onprogress }),
  });
  return { isError: result.isError === true, structured: result.structuredContent as Structured, result };
}

async function browse(previewUrl: string): Promise<string> {
  const url = new URL(previewUrl);
  const entered = await requestVia(url, { host: url.host });
  const cookie = String(entered.headers["set-cookie"]).split(";")[0] as string;
  return (await requestVia(`http://127.0.0.1:${url.port}/`, { host: url.host, headers: { cookie } })).body;
}

describe("the tools", () => {
  it("lists seven tools with input schemas and read-only / destructive annotations", async () => {
    const { tools } = await client.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(Object.keys(byName).sort()).toEqual([
      "delete_site",
      "get_preview_url",
      "list_sites",
      "list_versions",
      "publish_site",
      "rollback_site",
      "validate_bundle",
    ]);
    for (const name of ["list_sites", "list_versions", "get_preview_url", "validate_bundle"])
      expect(byName[name]?.annotations?.readOnlyHint, name).toBe(true);
    expect(byName.delete_site?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(byName.publish_site?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    expect(Object.keys(byName.publish_site?.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(["path", "files", "site", "message"]),
    );
    for (const tool of tools) expect(tool.outputSchema?.properties, tool.name).toHaveProperty("ok");
  });
});

describe("publish_site", () => {
  it("publishes a folder, reporting progress through checking, upload and provisioning", async () => {
    const folder = await writeBundle(join(world.dir, "agent-report"), {
      "index.html": '<!doctype html><link rel="stylesheet" href="style.css"><h1>Agent report</h1>',
      "style.css": "h1 { color: teal }",
    });
    const progress: Progress[] = [];
    const { isError, structured } = await call("publish_site", { path: folder }, (p) => progress.push(p));
    expect(isError, JSON.stringify(structured)).toBe(false);
    expect(structured).toMatchObject({
      ok: true,
      site: "agent-report",
      version: 1,
      status: "live",
      files: 2,
    });
    expect(await browse(structured.url as string)).toContain("Agent report");
    const messages = progress.map((p) => p.message ?? "");
    expect(messages.some((m) => m.startsWith("checking"))).toBe(true);
    expect(messages.some((m) => m.startsWith("uploading"))).toBe(true);
    expect(messages.some((m) => m.startsWith("version 1"))).toBe(true);
    const values = progress.map((p) => p.progress);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(new Set(values).size).toBe(values.length);
  });

  it("publishes files given inline as text and base64, then a second version of the same named site", async () => {
    const png = Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000", "hex");
    const files = [
      { path: "index.html", text: "<h1>Inline v1</h1><img src='dot.png'>" },
      { path: "dot.png", base64: png.toString("base64") },
    ];
    const first = await call("publish_site", { files, site: "inline-dashboard", message: "from an agent" });
    expect(first.structured).toMatchObject({
      ok: true,
      site: "inline-dashboard",
      version: 1,
      status: "live",
    });
    expect(await browse(first.structured.url as string)).toContain("Inline v1");

    const second = await call("publish_site", {
      files: [{ path: "index.html", text: "<h1>Inline v2</h1><img src='dot.png'>" }, files[1]],
      site: "inline-dashboard",
    });
    expect(second.structured).toMatchObject({ ok: true, version: 2, status: "live", filesSent: 1 });
    const same = await call("publish_site", {
      files: [{ path: "index.html", text: "<h1>Inline v2</h1><img src='dot.png'>" }, files[1]],
      site: "inline-dashboard",
    });
    expect(same.structured).toMatchObject({ ok: true, version: 2, status: "unchanged" });
  });

  it("refuses a bundle with a secret with a typed error naming the file, the line and what to change", async () => {
    const { isError, structured, result } = await call("publish_site", {
      files: [
        { path: "index.html", text: "<p>dashboard</p>" },
        { path: "config.js", text: `const cfg = {\n  githubToken: "${FAKE_GITHUB_TOKEN}",\n};\n` },
      ],
      site: "leaky-agent-site",
    });
    expect(isError).toBe(true);
    expect(structured.ok).toBe(false);
    expect(structured.error).toMatchObject({
      code: "BUNDLE_REJECTED",
      problems: [{ code: "SECRET_DETECTED", path: "config.js", fix: expect.stringContaining("rotate") }],
      secrets: [
        { rule: "github-token", path: "config.js", line: 2, fix: expect.stringContaining("config.js:2") },
      ],
    });
    expect(JSON.stringify(result)).not.toContain(FAKE_GITHUB_TOKEN);
    const { structured: listed } = await call("list_sites", {});
    expect((listed.sites as { name: string }[]).map((s) => s.name)).not.toContain("leaky-agent-site");
  });

  it("says what is wrong with the arguments as a typed error", async () => {
    const both = await call("publish_site", { path: world.dir, files: [{ path: "index.html", text: "x" }] });
    expect(both.isError).toBe(true);
    expect(both.structured.error?.code).toBe("USAGE");
  });
});

describe("the other tools", () => {
  it("validates without publishing, lists sites and versions, mints a preview URL, rolls back", async () => {
    const check = await call("validate_bundle", { files: [{ path: "page.html", text: "<p>no index</p>" }] });
    expect(check.structured).toMatchObject({
      ok: true,
      publishable: false,
      problems: [{ code: "MISSING_INDEX_HTML", fix: expect.stringContaining("index.html") }],
    });

    const sites = (await call("list_sites", {})).structured.sites as { name: string }[];
    expect(sites.map((s) => s.name)).toEqual(expect.arrayContaining(["agent-report", "inline-dashboard"]));
    const versions = await call("list_versions", { site: "inline-dashboard" });
    expect(
      (versions.structured.versions as { number: number; live: boolean }[]).map((v) => [v.number, v.live]),
    ).toEqual([
      [2, true],
      [1, false],
    ]);
    const rolled = await call("rollback_site", { site: "inline-dashboard", version: 1 });
    expect(rolled.structured).toMatchObject({ ok: true, version: 1, status: "live" });
    const preview = await call("get_preview_url", { site: "inline-dashboard" });
    expect(preview.structured).toMatchObject({ ok: true, version: 1 });
    expect(await browse(preview.structured.url as string)).toContain("Inline v1");
    const missing = await call("get_preview_url", { site: "no-such-site" });
    expect(missing.structured.error?.code).toBe("NOT_FOUND");
  });

  it("deletes a site only when confirm repeats its name", async () => {
    const unconfirmed = await call("delete_site", { site: "agent-report", confirm: "yes" });
    expect(unconfirmed.structured.error?.code).toBe("NOT_CONFIRMED");
    const deleted = await call("delete_site", { site: "agent-report", confirm: "agent-report" });
    expect(deleted.structured).toMatchObject({ ok: true, deleted: true });
    const sites = (await call("list_sites", {})).structured.sites as { name: string }[];
    expect(sites.map((s) => s.name)).not.toContain("agent-report");
  });

  it("tells an agent whose server has no login how to get one", async () => {
    const stranger = await connect({
      XDG_CONFIG_HOME: join(world.dir, "nobody"),
      HOME: join(world.dir, "nobody"),
    });
    try {
      const result = await stranger.callTool({ name: "list_sites", arguments: {} });
      expect(result.isError).toBe(true);
      expect((result.structuredContent as Structured).error).toMatchObject({
        code: "NOT_LOGGED_IN",
        advice: expect.stringContaining("mini-sites login"),
      });
    } finally {
      await stranger.close();
    }
  });
});
