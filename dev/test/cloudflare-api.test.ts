/**
 * The Cloudflare API stand-in speaks the WfP upload protocol as strictly as Cloudflare documents it
 * (developers.cloudflare.com/workers/static-assets/direct-upload), persists what it accepts, and can
 * be told to fail so that a client's retry paths can be tested. Each test names the clause it checks.
 */

import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CloudflareApi, type NamespaceScript, startCloudflareApi } from "../src/cloudflare-api/index.ts";

const ACCOUNT = "0123456789abcdef0123456789abcdef";
const NAMESPACE = "mini-sites-dev";
const TOKEN = "stand-in-api-token-for-tests-0123456789";

interface Envelope {
  success: boolean;
  errors: { code: number; message: string }[];
  result: unknown;
}
interface Reply {
  status: number;
  headers: Headers;
  body: Envelope;
}

const hashOf = (path: string, bytes: Uint8Array): string =>
  createHash("sha256")
    .update(path.slice(path.lastIndexOf(".") + 1))
    .update(bytes)
    .digest("hex")
    .slice(0, 32);

type Files = Record<string, string>;

function manifestOf(files: Files): Record<string, { hash: string; size: number }> {
  return Object.fromEntries(
    Object.entries(files).map(([path, text]) => {
      const bytes = Buffer.from(text);
      return [path, { hash: hashOf(path, bytes), size: bytes.length }];
    }),
  );
}

async function call(
  api: CloudflareApi,
  method: string,
  path: string,
  init: { body?: FormData | string; json?: unknown; token?: string | null } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  const token = init.token === undefined ? TOKEN : init.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body = init.body;
  if (init.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.json);
  }
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Envelope };
}

const scriptPath = (name: string) =>
  `/accounts/${ACCOUNT}/workers/dispatch/namespaces/${NAMESPACE}/scripts/${name}`;

async function startSession(api: CloudflareApi, name: string, files: Files) {
  const reply = await call(api, "POST", `${scriptPath(name)}/assets-upload-session`, {
    json: { manifest: manifestOf(files) },
  });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body.result as { jwt: string; buckets: string[][] };
}

function uploadForm(files: Files, hashes: readonly string[], contentType = "text/plain"): FormData {
  const manifest = manifestOf(files);
  const form = new FormData();
  for (const hash of hashes) {
    const path = Object.keys(manifest).find((p) => manifest[p]?.hash === hash) as string;
    form.append(
      hash,
      new File([Buffer.from(files[path] as string).toString("base64")], hash, { type: contentType }),
      hash,
    );
  }
  return form;
}

const upload = (api: CloudflareApi, jwt: string, form: FormData) =>
  call(api, "POST", `/accounts/${ACCOUNT}/workers/assets/upload?base64=true`, { body: form, token: jwt });

function putForm(metadata: unknown): FormData {
  const form = new FormData();
  form.set("metadata", new File([JSON.stringify(metadata)], "metadata.json", { type: "application/json" }));
  return form;
}

/** The whole provider flow: session, every bucket, assets-only PUT. Returns the PUT reply. */
async function publish(
  api: CloudflareApi,
  name: string,
  files: Files,
  extra: { tags?: string[]; config?: Record<string, unknown> } = {},
): Promise<Reply> {
  const session = await startSession(api, name, files);
  let completion = session.jwt;
  for (const bucket of session.buckets) {
    const reply = await upload(api, session.jwt, uploadForm(files, bucket));
    expect([201, 202], JSON.stringify(reply.body)).toContain(reply.status);
    const jwt = (reply.body.result as { jwt?: string }).jwt;
    if (jwt !== undefined) completion = jwt;
  }
  return call(api, "PUT", `${scriptPath(name)}?excludeScript=true&bindings_inherit=strict`, {
    body: putForm({
      compatibility_date: "2026-11-01",
      bindings: [{ type: "assets", name: "ASSETS" }],
      assets: { jwt: completion, config: extra.config ?? { not_found_handling: "404-page" } },
      ...(extra.tags === undefined ? {} : { tags: extra.tags }),
    }),
  });
}

describe("Cloudflare API stand-in", () => {
  let dataDir: string;
  let api: CloudflareApi;
  let clock: number;
  let changes: (readonly NamespaceScript[])[];
  let failChanges = false;

  const start = () =>
    startCloudflareApi({
      dataDir,
      accountId: ACCOUNT,
      namespace: NAMESPACE,
      apiToken: TOKEN,
      jwtSecret: "test-secret-0123456789abcdef0123456789",
      now: () => clock,
      log: () => {},
      onScriptsChanged: (scripts) => {
        if (failChanges) throw new Error("workerd refused the new configuration");
        changes.push(scripts);
      },
    });

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "cloudflare-api-"));
    clock = Date.parse("2026-11-20T10:00:00Z");
    changes = [];
    api = await start();
  });

  afterEach(async () => {
    await api.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  describe("authentication", () => {
    it("answers a call without Authorization with Cloudflare's 400 / code 9106", async () => {
      const reply = await call(api, "GET", scriptPath("site-a"), { token: null });
      expect(reply.status).toBe(400);
      expect(reply.body.errors[0]?.code).toBe(9106);
    });

    it("answers a wrong API token with 403 / code 10000 and never names the token", async () => {
      const reply = await call(api, "GET", scriptPath("site-a"), { token: "not-the-token" });
      expect(reply.status).toBe(403);
      expect(reply.body.errors[0]?.code).toBe(10000);
      expect(JSON.stringify(reply.body)).not.toContain("not-the-token");
    });

    it("refuses the API token in place of an upload token on assets/upload", async () => {
      const reply = await upload(
        api,
        TOKEN,
        uploadForm({ "/a.txt": "a" }, [manifestOf({ "/a.txt": "a" })["/a.txt"]?.hash as string]),
      );
      expect(reply.status).toBe(401);
    });

    it("answers an unknown account or namespace with a 404 envelope", async () => {
      const account = await call(
        api,
        "GET",
        `/accounts/ffffffffffffffffffffffffffffffff/workers/dispatch/namespaces/${NAMESPACE}/scripts`,
      );
      const namespace = await call(
        api,
        "GET",
        `/accounts/${ACCOUNT}/workers/dispatch/namespaces/other/scripts`,
      );
      expect([account.status, namespace.status]).toEqual([404, 404]);
      expect(account.body.success).toBe(false);
    });

    it("logs and answers 404 / code 7000 for a path it does not implement", async () => {
      const reply = await call(api, "GET", `/accounts/${ACCOUNT}/workers/subdomain`);
      expect(reply.status).toBe(404);
      expect(reply.body.errors[0]?.code).toBe(7000);
      expect(api.stats().recent.at(-1)?.path).toContain("/workers/subdomain");
    });
  });

  describe("assets-upload-session", () => {
    it("refuses a hash that is not 32 lowercase hexadecimal characters", async () => {
      for (const hash of ["ABCDEF0123456789ABCDEF0123456789", "abc", `${"a".repeat(32)}0`]) {
        const reply = await call(api, "POST", `${scriptPath("site-a")}/assets-upload-session`, {
          json: { manifest: { "/index.html": { hash, size: 1 } } },
        });
        expect(reply.status).toBe(400);
        expect(reply.body.errors[0]?.message).toContain("hash");
      }
    });

    it("refuses paths that do not start with / or that climb out with ..", async () => {
      for (const path of ["index.html", "/a/../b.html", "/a//b.html"]) {
        const reply = await call(api, "POST", `${scriptPath("site-a")}/assets-upload-session`, {
          json: { manifest: { [path]: { hash: "a".repeat(32), size: 1 } } },
        });
        expect(reply.status, path).toBe(400);
      }
    });

    it("refuses a size over 25 MiB, a fractional size and more than 20,000 entries", async () => {
      const big = await call(api, "POST", `${scriptPath("site-a")}/assets-upload-session`, {
        json: { manifest: { "/a": { hash: "a".repeat(32), size: 25 * 1024 * 1024 + 1 } } },
      });
      const fractional = await call(api, "POST", `${scriptPath("site-a")}/assets-upload-session`, {
        json: { manifest: { "/a": { hash: "a".repeat(32), size: 1.5 } } },
      });
      const manifest = Object.fromEntries(
        Array.from({ length: 20_001 }, (_, i) => [
          `/f${i}`,
          { hash: i.toString(16).padStart(32, "0"), size: 1 },
        ]),
      );
      const many = await call(api, "POST", `${scriptPath("site-a")}/assets-upload-session`, {
        json: { manifest },
      });
      expect([big.status, fractional.status, many.status]).toEqual([400, 400, 400]);
    });

    it("lists each missing hash once, in buckets, and nothing already stored (one changed file uploads one file)", async () => {
      const files = {
        "/index.html": "<h1>v1</h1>",
        "/app.js": "console.log(1)",
        "/copy.js": "console.log(1)",
      };
      const first = await startSession(api, "site-a", files);
      expect(first.buckets.flat().sort()).toEqual(
        [manifestOf(files)["/index.html"]?.hash, manifestOf(files)["/app.js"]?.hash].sort(),
      );
      expect((await publish(api, "site-a", files)).status).toBe(200);

      const changed = { ...files, "/index.html": "<h1>v2</h1>" };
      const second = await startSession(api, "site-a", changed);
      expect(second.buckets).toEqual([[manifestOf(changed)["/index.html"]?.hash]]);
    });

    it("returns a completion token straight away when every asset is already stored", async () => {
      const files = { "/index.html": "same" };
      expect((await publish(api, "site-a", files)).status).toBe(200);
      const again = await startSession(api, "site-b", files);
      expect(again.buckets).toEqual([]);
      const put = await call(api, "PUT", scriptPath("site-b"), {
        body: putForm({ assets: { jwt: again.jwt, config: {} } }),
      });
      expect(put.status, JSON.stringify(put.body)).toBe(200);
    });
  });

  describe("assets/upload", () => {
    const files = { "/index.html": "<p>hello</p>", "/style.css": "p{}" };

    it("answers 202 until the session's last bucket arrives, then 201 with the completion token", async () => {
      const session = await startSession(api, "site-a", files);
      const [a, b] = session.buckets.flat() as [string, string];
      const partial = await upload(api, session.jwt, uploadForm(files, [a]));
      expect(partial.status).toBe(202);
      const done = await upload(api, session.jwt, uploadForm(files, [b]));
      expect(done.status).toBe(201);
      expect((done.body.result as { jwt: string }).jwt).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      const byHash = Object.fromEntries(
        Object.entries(manifestOf(files)).map(([path, e]) => [e.hash, files[path as keyof typeof files]]),
      );
      expect(await readFile(api.assetPath(a), "utf8")).toBe(byHash[a]);
      expect(await readFile(api.assetPath(b), "utf8")).toBe(byHash[b]);
    });

    it("refuses a part for a hash outside the session's buckets and stores nothing of that request", async () => {
      const session = await startSession(api, "site-a", files);
      const other = { "/other.txt": "not in this session" };
      const form = uploadForm(files, session.buckets.flat());
      const stray = manifestOf(other)["/other.txt"]?.hash as string;
      form.append(
        stray,
        new File([Buffer.from("not in this session").toString("base64")], stray, { type: "text/plain" }),
      );
      const reply = await upload(api, session.jwt, form);
      expect(reply.status).toBe(400);
      expect(reply.body.errors[0]?.message).toContain("not in this upload session");
      for (const hash of session.buckets.flat())
        await expect(readFile(api.assetPath(hash))).rejects.toThrow();
    });

    it("refuses a field whose name is not an asset hash", async () => {
      const session = await startSession(api, "site-a", files);
      const form = uploadForm(files, session.buckets.flat());
      form.append("file", new File(["aGk="], "file", { type: "text/plain" }));
      const reply = await upload(api, session.jwt, form);
      expect(reply.status).toBe(400);
      expect(reply.body.errors[0]?.message).toContain("unknown field");
    });

    it("refuses bytes whose decoded size differs from the manifest", async () => {
      const session = await startSession(api, "site-a", files);
      const hash = session.buckets.flat()[0] as string;
      const form = new FormData();
      form.append(
        hash,
        new File([Buffer.from("wrong length!!").toString("base64")], hash, { type: "text/html" }),
      );
      const reply = await upload(api, session.jwt, form);
      expect(reply.status).toBe(400);
      expect(reply.body.errors[0]?.message).toContain("manifest says");
    });

    it("refuses a part that is not base64 or has no Content-Type", async () => {
      const session = await startSession(api, "site-a", files);
      const hash = session.buckets.flat()[0] as string;
      const notBase64 = new FormData();
      notBase64.append(hash, new File(["<p>hello</p>"], hash, { type: "text/html" }));
      const untyped = new FormData();
      untyped.append(hash, Buffer.from("<p>hello</p>").toString("base64"));
      expect((await upload(api, session.jwt, notBase64)).status).toBe(400);
      expect((await upload(api, session.jwt, untyped)).status).toBe(400);
    });

    it("takes an asset of several megabytes (its base64 check is linear)", async () => {
      const big = { "/index.html": "<p>big</p>", "/data.json": `[${"1234567,".repeat(700_000)}0]` };
      const session = await startSession(api, "site-big", big);
      let last: Reply | undefined;
      for (const bucket of session.buckets) last = await upload(api, session.jwt, uploadForm(big, bucket));
      expect(last?.status, JSON.stringify(last?.body)).toBe(201);
      const hash = manifestOf(big)["/data.json"]?.hash as string;
      expect((await readFile(api.assetPath(hash))).length).toBe((big["/data.json"] as string).length);
    });

    it("refuses base64 with its padding in the middle or of the wrong length", async () => {
      const session = await startSession(api, "site-a", files);
      const hash = session.buckets.flat()[0] as string;
      for (const text of ["PHA+aGVs=bG8=", "PHA+aGVsbG8", "PHA+aGVsbG8==="]) {
        const form = new FormData();
        form.append(hash, new File([text], hash, { type: "text/html" }));
        expect((await upload(api, session.jwt, form)).status, text).toBe(400);
      }
    });

    it("refuses an upload token an hour old with 401", async () => {
      const session = await startSession(api, "site-a", files);
      clock += 60 * 60 * 1000 + 1;
      const reply = await upload(api, session.jwt, uploadForm(files, session.buckets.flat()));
      expect(reply.status).toBe(401);
      expect(reply.body.errors[0]?.message).toContain("expired");
    });

    it("refuses a token with a forged signature", async () => {
      const session = await startSession(api, "site-a", files);
      const [header, payload] = session.jwt.split(".");
      const reply = await upload(api, `${header}.${payload}.AAAA`, uploadForm(files, session.buckets.flat()));
      expect(reply.status).toBe(401);
    });
  });

  describe("script upload", () => {
    it("materializes the files at their manifest paths and reports the script before answering", async () => {
      const files = { "/index.html": "<h1>home</h1>", "/assets/app.js": "export {}", "/404.html": "gone" };
      const reply = await publish(api, "site-a", files, { tags: ["tenant-x", "site-a"] });
      expect(reply.status).toBe(200);
      expect(reply.body.result).toMatchObject({
        id: "site-a",
        tags: ["tenant-x", "site-a"],
        has_assets: true,
      });
      const [script] = api.scripts();
      expect(script?.assets.config).toEqual({ not_found_handling: "404-page" });
      expect(await readFile(join(script?.directory as string, "assets/app.js"), "utf8")).toBe("export {}");
      expect(changes.at(-1)?.map((s) => s.name)).toEqual(["site-a"]);
    });

    it("refuses more than 8 tags", async () => {
      const tags = Array.from({ length: 9 }, (_, i) => `t${i}`);
      const reply = await publish(api, "site-a", { "/index.html": "x" }, { tags });
      expect(reply.status).toBe(400);
      expect(reply.body.errors[0]?.code).toBe(10021);
      expect(api.scripts()).toEqual([]);
    });

    it("refuses a completion token from another script's session", async () => {
      const files = { "/index.html": "mine" };
      const session = await startSession(api, "site-a", files);
      const done = await upload(api, session.jwt, uploadForm(files, session.buckets.flat()));
      const completion = (done.body.result as { jwt: string }).jwt;
      const reply = await call(api, "PUT", scriptPath("site-b"), {
        body: putForm({ assets: { jwt: completion } }),
      });
      expect(reply.status).toBe(400);
      expect(reply.body.errors[0]?.message).toContain("another script");
    });

    it("refuses an upload token in place of the completion token", async () => {
      const files = { "/index.html": "half" };
      const session = await startSession(api, "site-a", files);
      const reply = await call(api, "PUT", scriptPath("site-a"), {
        body: putForm({ assets: { jwt: session.jwt } }),
      });
      expect(reply.status).toBe(400);
    });

    it("accepts a Worker with code only when its main_module part is present, and refuses stray parts", async () => {
      const withCode = putForm({ main_module: "worker.js", compatibility_date: "2026-11-01", tags: ["t"] });
      withCode.set(
        "worker.js",
        new File(["export default {}"], "worker.js", { type: "application/javascript+module" }),
      );
      expect((await call(api, "PUT", scriptPath("code-a"), { body: withCode })).status).toBe(200);
      expect(api.scripts()[0]?.mainModule).toBe("worker.js");

      const missing = putForm({ main_module: "worker.js" });
      expect((await call(api, "PUT", scriptPath("code-b"), { body: missing })).status).toBe(400);
      const stray = putForm({ main_module: "worker.js" });
      stray.set("worker.js", new File(["x"], "worker.js", { type: "application/javascript+module" }));
      stray.set("../escape.js", new File(["x"], "escape.js", { type: "application/javascript+module" }));
      expect((await call(api, "PUT", scriptPath("code-c"), { body: stray })).status).toBe(400);
    });

    it("answers 10092 for a script the namespace does not have, as wrangler expects", async () => {
      const reply = await call(api, "GET", scriptPath("nobody"));
      expect(reply.status).toBe(404);
      expect(reply.body.errors[0]?.code).toBe(10092);
      const settings = await call(api, "GET", `/accounts/${ACCOUNT}/workers/scripts/nobody/settings`);
      expect(settings.body.errors[0]?.code).toBe(10007);
    });

    it("keeps the previous version live when onScriptsChanged fails, and says so", async () => {
      expect((await publish(api, "site-a", { "/index.html": "v1" })).status).toBe(200);
      const before = api.scripts()[0];
      failChanges = true;
      const reply = await publish(api, "site-a", { "/index.html": "v2" });
      failChanges = false;
      expect(reply.status).toBe(500);
      expect(reply.body.errors[0]?.message).toContain("nothing changed");
      expect(api.scripts()[0]?.versionId).toBe(before?.versionId);
      expect(await readFile(join(api.scripts()[0]?.directory as string, "index.html"), "utf8")).toBe("v1");
    });
  });

  describe("persistence", () => {
    it("serves scripts published before a restart and reports them once at start-up", async () => {
      await publish(api, "site-a", { "/index.html": "A" }, { tags: ["tenant-x"] });
      await publish(api, "site-b", { "/index.html": "B" }, { tags: ["tenant-y"] });
      await api.close();
      changes = [];
      api = await start();
      expect(changes).toHaveLength(1);
      expect(changes[0]?.map((s) => s.name)).toEqual(["site-a", "site-b"]);
      const b = api.scripts().find((s) => s.name === "site-b");
      expect(await readFile(join(b?.directory as string, "index.html"), "utf8")).toBe("B");
      const list = await call(
        api,
        "GET",
        `/accounts/${ACCOUNT}/workers/dispatch/namespaces/${NAMESPACE}/scripts`,
      );
      expect((list.body.result as { id: string }[]).map((s) => s.id)).toEqual(["site-a", "site-b"]);
    });

    it("after a crash mid-upload, restarts with the last complete version and no leftovers", async () => {
      await publish(api, "site-a", { "/index.html": "live" });
      const live = api.scripts()[0]?.versionId as string;
      await api.close();
      // What a crash leaves: a half-built version nobody points at, a script never made live, scratch.
      await mkdir(join(dataDir, "scripts/site-a/versions/deadbeef/files"), { recursive: true });
      await mkdir(join(dataDir, "scripts/site-b/versions/cafebabe/files"), { recursive: true });
      await writeFile(join(dataDir, "tmp/partial"), "half an asset");
      api = await start();
      expect(api.scripts().map((s) => [s.name, s.versionId])).toEqual([["site-a", live]]);
      expect(await readdir(join(dataDir, "scripts/site-a/versions"))).toEqual([live]);
      expect(await readdir(join(dataDir, "scripts"))).toEqual(["site-a"]);
      expect(await readdir(join(dataDir, "tmp"))).toEqual([]);
    });

    it("keeps only the live version's folder after a re-publish", async () => {
      await publish(api, "site-a", { "/index.html": "1" });
      const first = api.scripts()[0]?.directory as string;
      await publish(api, "site-a", { "/index.html": "2" });
      await expect(readFile(join(first, "index.html"))).rejects.toThrow();
    });
  });

  describe("tags", () => {
    it("lists by tag and deletes by tag, leaving other tenants' scripts", async () => {
      await publish(api, "site-a", { "/index.html": "A" }, { tags: ["tenant-x"] });
      await publish(api, "site-b", { "/index.html": "B" }, { tags: ["tenant-x", "archived"] });
      await publish(api, "site-c", { "/index.html": "C" }, { tags: ["tenant-y"] });
      const base = `/accounts/${ACCOUNT}/workers/dispatch/namespaces/${NAMESPACE}/scripts`;
      const ids = async (query: string) =>
        ((await call(api, "GET", `${base}${query}`)).body.result as { id: string }[]).map((s) => s.id);
      expect(await ids("?tags=tenant-x:yes")).toEqual(["site-a", "site-b"]);
      expect(await ids("?tags=tenant-x:yes,archived:no")).toEqual(["site-a"]);
      expect((await call(api, "GET", `${base}?tags=tenant-x`)).status).toBe(400);

      expect((await call(api, "DELETE", base)).status).toBe(400);
      expect((await call(api, "DELETE", `${base}?tags=tenant-x:yes`)).status).toBe(200);
      expect(api.scripts().map((s) => s.name)).toEqual(["site-c"]);
      expect(changes.at(-1)?.map((s) => s.name)).toEqual(["site-c"]);
    });

    it("deletes one script, which then answers 404", async () => {
      await publish(api, "site-a", { "/index.html": "A" });
      const directory = api.scripts()[0]?.directory as string;
      expect((await call(api, "DELETE", scriptPath("site-a"))).status).toBe(200);
      expect((await call(api, "GET", scriptPath("site-a"))).status).toBe(404);
      expect((await call(api, "DELETE", scriptPath("site-a"))).status).toBe(404);
      await expect(readFile(join(directory, "index.html"))).rejects.toThrow();
    });
  });

  describe("fault switch", () => {
    it("fails the next N calls of an endpoint with 503, then handles them again", async () => {
      api.faults.failNext({ endpoint: "assets-upload-session", count: 2, status: 503 });
      const url = `${scriptPath("site-a")}/assets-upload-session`;
      const json = { manifest: manifestOf({ "/a": "a" }) };
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await call(api, "POST", url, { json })).status);
      expect(statuses).toEqual([503, 503, 200]);
      expect(api.stats().requests["assets-upload-session"]).toBe(3);
    });

    it("answers 429 with Retry-After when asked, over HTTP outside /client/v4", async () => {
      const arm = await fetch(`${api.origin}/__stand-in/faults`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ endpoint: "script-list", status: 429, retryAfter: 7 }),
      });
      expect(arm.status).toBe(200);
      const base = `/accounts/${ACCOUNT}/workers/dispatch/namespaces/${NAMESPACE}/scripts`;
      const limited = await call(api, "GET", base);
      expect(limited.status).toBe(429);
      expect(limited.headers.get("retry-after")).toBe("7");
      expect(limited.body.errors[0]?.code).toBe(971);
      expect((await call(api, "GET", base)).status).toBe(200);
    });

    it("delays a call without failing it, and DELETE clears armed faults", async () => {
      api.faults.failNext({ endpoint: "script-list", delayMs: 150 });
      const base = `/accounts/${ACCOUNT}/workers/dispatch/namespaces/${NAMESPACE}/scripts`;
      const started = Date.now();
      expect((await call(api, "GET", base)).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);

      api.faults.failNext({ endpoint: "script-list", status: 500, count: 5 });
      await fetch(`${api.origin}/__stand-in/faults`, { method: "DELETE" });
      expect((await call(api, "GET", base)).status).toBe(200);
      const stats = (await (await fetch(`${api.origin}/__stand-in/stats`)).json()) as {
        requests: Record<string, number>;
      };
      expect(stats.requests["script-list"]).toBe(2);
    });

    it("leaves no half state when the script PUT fails: the previous version stays live", async () => {
      await publish(api, "site-a", { "/index.html": "v1" });
      api.faults.failNext({ endpoint: "script-put", status: 503 });
      expect((await publish(api, "site-a", { "/index.html": "v2" })).status).toBe(503);
      expect(await readFile(join(api.scripts()[0]?.directory as string, "index.html"), "utf8")).toBe("v1");
    });
  });
});
