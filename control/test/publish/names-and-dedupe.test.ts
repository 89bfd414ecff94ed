/**
 * Two things the CLI and agents publish through, end to end on the real pipeline (the publish
 * harness: control Worker in workerd, Cloudflare API stand-in, dispatch edge):
 * - site names unique per tenant, ignoring case: a chosen name that is taken is 409 NAME_TAKEN and
 *   costs no site; `GET /v1/sites?name=` finds a site by name;
 * - upload only what the server lacks: `files/missing` says which hashes the site's archive lacks,
 *   and a multipart publish with a `manifest` sends only those — the server takes the rest from that
 *   site's own archive and checks and scans the whole bundle as usual.
 */

import { assetHash, type TenantShortId } from "@mini-sites/core";
import { strToU8, zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorld, type World } from "./harness.ts";

let world: World;
beforeAll(async () => {
  world = await startWorld({ RATE_PUBLISHES_PER_WINDOW: "1000" });
}, 120_000);
afterAll(async () => {
  await world?.dispose();
});

interface Accepted {
  jobId: string;
  version: number;
  siteId: string;
  replayed?: boolean;
}

const zipOf = (files: Record<string, string>) =>
  zipSync(Object.fromEntries(Object.entries(files).map(([path, text]) => [path, strToU8(text)])));

async function errorOf(response: Response) {
  return ((await response.json()) as { error: { code: string; message: string; detail?: unknown } }).error;
}

async function settle(tenant: TenantShortId, jobId: string): Promise<string> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const job = (await (await world.call(tenant, "GET", `/v1/jobs/${jobId}`)).json()) as { state: string };
    if (job.state === "succeeded" || job.state === "failed" || Date.now() > deadline) return job.state;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

function publishZip(tenant: TenantShortId, site: string, files: Record<string, string>, query = "") {
  return world.call(tenant, "POST", `/v1/sites/${site}/versions${query}`, {
    body: zipOf(files),
    headers: { "content-type": "application/zip" },
  });
}

/** A multipart publish: `sent` as parts, and (when given) a manifest listing every file by hash. */
async function publishForm(
  tenant: TenantShortId,
  site: string,
  sent: Record<string, string>,
  options: { manifest?: { path: string; hash: string; size: number }[]; name?: string } = {},
) {
  const form = new FormData();
  if (options.manifest !== undefined) form.append("manifest", JSON.stringify(options.manifest));
  if (options.name !== undefined) form.append("name", options.name);
  for (const [path, text] of Object.entries(sent)) form.append(path, new Blob([text]), path);
  const request = new Request("http://x/", { method: "POST", body: form });
  return world.call(tenant, "POST", `/v1/sites/${site}/versions`, {
    body: new Uint8Array(await request.arrayBuffer()),
    headers: { "content-type": request.headers.get("content-type") as string },
  });
}

async function manifestOf(files: Record<string, string>) {
  return Promise.all(
    Object.entries(files).map(async ([path, text]) => {
      const bytes = strToU8(text);
      return { path, hash: await assetHash(path, bytes), size: bytes.length };
    }),
  );
}

async function objectsUnder(prefix: string): Promise<string[]> {
  const bucket = await world.mf.getR2Bucket("BUNDLES", "control");
  return (await bucket.list({ prefix })).objects.map((o) => o.key);
}

describe("site names", () => {
  it("creates a site under a chosen name and refuses the same name in any case with 409 NAME_TAKEN", async () => {
    const tenant = await world.newTenant();
    const first = (await (
      await publishZip(tenant, "new", { "index.html": "<p>one</p>" }, "?name=team-dashboard")
    ).json()) as Accepted;
    const again = await publishZip(tenant, "new", { "index.html": "<p>two</p>" }, "?name=Team-Dashboard");
    expect(again.status).toBe(409);
    const error = await errorOf(again);
    expect(error.code).toBe("NAME_TAKEN");
    expect(error.message).toContain("Team-Dashboard");
    // A name in the form is held to the same rule, and the refused publish keeps nothing.
    const form = await publishForm(
      tenant,
      "new",
      { "index.html": "<p>three</p>" },
      { name: "TEAM-dashboard" },
    );
    expect(form.status).toBe(409);
    expect((await errorOf(form)).code).toBe("NAME_TAKEN");
    const sites = await world.sql<{ id: string }>("SELECT id FROM sites WHERE tenant_id = ?", tenant);
    expect(sites).toEqual([{ id: first.siteId }]);
    expect((await objectsUnder(`t/${tenant}/`)).every((key) => key.includes(first.siteId))).toBe(true);
  });

  it("lets another tenant use the same name", async () => {
    const a = await world.newTenant();
    const b = await world.newTenant();
    expect((await publishZip(a, "new", { "index.html": "<p>a</p>" }, "?name=shared")).status).toBe(202);
    expect((await publishZip(b, "new", { "index.html": "<p>b</p>" }, "?name=shared")).status).toBe(202);
  });

  it("finds a site by name with GET /v1/sites?name=, ignoring case, and nothing for an unknown name", async () => {
    const tenant = await world.newTenant();
    const staged = (await (
      await publishZip(tenant, "new", { "index.html": "<p>find me</p>" }, "?name=Findable")
    ).json()) as Accepted;
    const found = (await (await world.call(tenant, "GET", "/v1/sites?name=findABLE")).json()) as {
      sites: { id: string; name: string }[];
      nextCursor: null;
    };
    expect(found).toMatchObject({ sites: [{ id: staged.siteId, name: "Findable" }], nextCursor: null });
    const none = (await (await world.call(tenant, "GET", "/v1/sites?name=nope")).json()) as {
      sites: unknown[];
    };
    expect(none.sites).toEqual([]);
    // Another tenant asking for the name sees nothing of it.
    const stranger = await world.newTenant();
    const theirs = (await (await world.call(stranger, "GET", "/v1/sites?name=Findable")).json()) as {
      sites: unknown[];
    };
    expect(theirs.sites).toEqual([]);
  });

  it("numbers sites published without a name instead of refusing them", async () => {
    const tenant = await world.newTenant();
    for (const n of [1, 2, 3])
      expect((await publishZip(tenant, "new", { "index.html": `<p>${n}</p>` })).status).toBe(202);
    const rows = await world.sql<{ name: string }>(
      "SELECT name FROM sites WHERE tenant_id = ? ORDER BY name",
      tenant,
    );
    expect(rows.map((r) => r.name)).toEqual(["Untitled site", "Untitled site (2)", "Untitled site (3)"]);
  });

  it("refuses a name that cannot be one with 400 INVALID_REQUEST", async () => {
    const tenant = await world.newTenant();
    for (const query of [`?name=${"x".repeat(201)}`, "?name=%20%20", "?name=a%0Ab"]) {
      const response = await publishZip(tenant, "new", { "index.html": "<p>x</p>" }, query);
      expect(response.status, query).toBe(400);
      expect((await errorOf(response)).code).toBe("INVALID_REQUEST");
    }
  });
});

describe("upload only what the server lacks", () => {
  const v1Files = {
    "index.html": '<script src="app.js"></script><p>v1</p>',
    "app.js": "console.log('a large library, unchanged between versions');",
    "data/table.json": '{"rows":[1,2,3]}',
  };

  it("lists the hashes the site lacks, then publishes a manifest with only the changed file sent", async () => {
    const tenant = await world.newTenant();
    const v1 = (await (await publishZip(tenant, "new", v1Files, "?name=dedupe")).json()) as Accepted;
    expect(await settle(tenant, v1.jobId)).toBe("succeeded");

    const v2Files = { ...v1Files, "index.html": '<script src="app.js"></script><p>v2</p>' };
    const manifest = await manifestOf(v2Files);
    const asked = await world.call(tenant, "POST", `/v1/sites/${v1.siteId}/files/missing`, {
      body: JSON.stringify({ files: manifest }),
      headers: { "content-type": "application/json" },
    });
    expect(asked.status).toBe(200);
    const changed = manifest.find((f) => f.path === "index.html");
    expect(await asked.json()).toEqual({ missing: [changed?.hash] });

    const response = await publishForm(
      tenant,
      v1.siteId,
      { "index.html": v2Files["index.html"] },
      { manifest },
    );
    expect(response.status, await response.clone().text()).toBe(202);
    const v2 = (await response.json()) as Accepted & { files: number };
    expect(v2).toMatchObject({ version: 2, files: 3 });
    expect(await settle(tenant, v2.jobId)).toBe("succeeded");
    // The whole bundle went live, the unchanged files taken from the archive.
    const bundle = await world.call(tenant, "GET", `/v1/sites/${v1.siteId}/versions/2/bundle`);
    const { unzipSync, strFromU8 } = await import("fflate");
    const files = unzipSync(new Uint8Array(await bundle.arrayBuffer()));
    expect(Object.fromEntries(Object.entries(files).map(([p, b]) => [p, strFromU8(b)]))).toEqual(v2Files);
  });

  it("refuses a manifest naming a file the site does not store with 409 FILES_MISSING, staging nothing", async () => {
    const tenant = await world.newTenant();
    const v1 = (await (await publishZip(tenant, "new", v1Files)).json()) as Accepted;
    expect(await settle(tenant, v1.jobId)).toBe("succeeded");
    const manifest = [
      ...(await manifestOf(v1Files)),
      ...(await manifestOf({ "never-sent.js": "console.log('nobody uploaded me')" })),
    ];
    const response = await publishForm(tenant, v1.siteId, {}, { manifest });
    expect(response.status).toBe(409);
    const error = await errorOf(response);
    expect(error.code).toBe("FILES_MISSING");
    expect(error.detail).toMatchObject({ count: 1, missing: [{ path: "never-sent.js" }] });
    expect(await world.sql("SELECT number FROM versions WHERE site_id = ?", v1.siteId)).toEqual([
      { number: 1 },
    ]);
    expect(await objectsUnder(`t/${tenant}/uploads/`)).toEqual([]);
  });

  it("never fills a manifest from another site or another tenant's archive", async () => {
    const owner = await world.newTenant();
    const mine = (await (await publishZip(owner, "new", v1Files)).json()) as Accepted;
    expect(await settle(owner, mine.jobId)).toBe("succeeded");
    const manifest = await manifestOf(v1Files);
    // The same tenant's other site, and a new site, have no archive of these files.
    const sibling = (await (
      await publishZip(owner, "new", { "index.html": "<p>sibling</p>" })
    ).json()) as Accepted;
    const stranger = await world.newTenant();
    const strangerSite = (await (
      await publishZip(stranger, "new", { "index.html": "<p>stranger</p>" })
    ).json()) as Accepted;
    for (const [tenant, site] of [
      [owner, sibling.siteId],
      [owner, "new"],
      [stranger, strangerSite.siteId],
    ] as const) {
      const response = await publishForm(tenant, site, { "index.html": v1Files["index.html"] }, { manifest });
      expect(response.status, `${site}`).toBe(409);
      expect((await errorOf(response)).code).toBe("FILES_MISSING");
      if (site === "new") continue;
      const asked = await world.call(tenant, "POST", `/v1/sites/${site}/files/missing`, {
        body: JSON.stringify({ files: manifest }),
        headers: { "content-type": "application/json" },
      });
      expect(((await asked.json()) as { missing: string[] }).missing).toHaveLength(3);
    }
  });

  it("checks the whole bundle, archived files included, and scans what is sent", async () => {
    const tenant = await world.newTenant();
    const v1 = (await (await publishZip(tenant, "new", v1Files)).json()) as Accepted;
    expect(await settle(tenant, v1.jobId)).toBe("succeeded");
    // An archived file named under a path the rules refuse: naming a stored hash skips no rule.
    const renamed = (await manifestOf(v1Files)).map((f) =>
      f.path === "app.js" ? { ...f, path: "__ms/app.js" } : f,
    );
    const reserved = await publishForm(tenant, v1.siteId, {}, { manifest: renamed });
    expect(reserved.status).toBe(422);
    expect(await reserved.json()).toMatchObject({
      error: { code: "BUNDLE_REJECTED", errors: [{ code: "RESERVED_PATH", path: "__ms/app.js" }] },
    });
    // A secret never reaches the archive, so it is always sent — and refused, with its file and line.
    const token = ["ghp", "_", "Q3EGRT7ZKW5MNB2X", "v8Lp0aYc4Hd7Jk9Wm2Rt5Ux"].join("");
    const leaky = { "index.html": "<p>v2</p>", "config.js": `const t = "${token}";` };
    const response = await publishForm(tenant, v1.siteId, leaky, { manifest: await manifestOf(leaky) });
    expect(response.status).toBe(422);
    const error = (await response.json()) as {
      error: { code: string; findings: { path: string; line: number }[] };
    };
    expect(error.error.code).toBe("BUNDLE_REJECTED");
    expect(error.error.findings[0]).toMatchObject({ path: "config.js", line: 1 });
    expect(JSON.stringify(error)).not.toContain(token);
  });

  it("answers a malformed manifest or a stray part with 400, and a republish of the live content as a replay", async () => {
    const tenant = await world.newTenant();
    const v1 = (await (await publishZip(tenant, "new", v1Files)).json()) as Accepted;
    expect(await settle(tenant, v1.jobId)).toBe("succeeded");
    const manifest = await manifestOf(v1Files);
    const form = new FormData();
    form.append("manifest", "{not json");
    const bad = new Request("http://x/", { method: "POST", body: form });
    const malformed = await world.call(tenant, "POST", `/v1/sites/${v1.siteId}/versions`, {
      body: new Uint8Array(await bad.arrayBuffer()),
      headers: { "content-type": bad.headers.get("content-type") as string },
    });
    expect(malformed.status).toBe(400);
    const stray = await publishForm(tenant, v1.siteId, { "extra.txt": "not listed" }, { manifest });
    expect(stray.status).toBe(400);
    expect((await errorOf(stray)).message).toContain("extra.txt");
    // Nothing sent at all: the live version's content, answered with its job.
    const replay = (await (await publishForm(tenant, v1.siteId, {}, { manifest })).json()) as Accepted;
    expect(replay).toMatchObject({ replayed: true, version: 1, jobId: v1.jobId });
    const wrongHash = await world.call(tenant, "POST", `/v1/sites/${v1.siteId}/files/missing`, {
      body: JSON.stringify({ files: [{ path: "a.js", hash: "XYZ", size: 1 }] }),
      headers: { "content-type": "application/json" },
    });
    expect(wrongHash.status).toBe(400);
  });
});
