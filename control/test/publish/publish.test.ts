/**
 * The publish pipeline end to end (DESIGN §3 Publish, §6 invariants 3, 5, 9, 10): upload streamed to
 * R2, checked by the core, staged in D1, provisioned by the ProvisionVersion Workflow through
 * CloudflareWfPProvider against the Cloudflare API stand-in, smoke-checked through the real dispatch
 * Worker, flipped live — and every way that can fail.
 */

import { randomBytes } from "node:crypto";
import http from "node:http";
import type { TenantShortId } from "@mini-sites/core";
import { strFromU8, strToU8, unzipSync, zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorld, type World } from "./harness.ts";

const RATE = 8;
const MAX_UPLOAD = 4 * 1024 * 1024;
const BYTE_QUOTA = 300_000;

let world: World;
beforeAll(async () => {
  world = await startWorld({
    RATE_PUBLISHES_PER_WINDOW: String(RATE),
    PUBLISH_MAX_UPLOAD_BYTES: String(MAX_UPLOAD),
    QUOTA_MAX_SITES: "2",
    QUOTA_MAX_STORED_BYTES: String(BYTE_QUOTA),
    WORKERS_KEPT_PER_SITE: "2",
  });
}, 120_000);
afterAll(async () => {
  await world?.dispose();
});

function zipOf(files: Record<string, string>): Uint8Array {
  return zipSync(Object.fromEntries(Object.entries(files).map(([path, text]) => [path, strToU8(text)])));
}

interface Accepted {
  jobId: string;
  version: number;
  siteId: string;
  statusUrl: string;
  replayed?: boolean;
}

interface JobView {
  state: string;
  step: string | null;
  progress: number;
  error: { code: string; message: string } | null;
}

async function publish(
  tenant: TenantShortId,
  site: string,
  files: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return world.call(tenant, "POST", `/v1/sites/${site}/versions`, {
    body: zipOf(files),
    headers: { "content-type": "application/zip", ...headers },
  });
}

async function accepted(response: Response): Promise<Accepted> {
  const text = await response.text();
  expect(response.status, text).toBe(202);
  return JSON.parse(text) as Accepted;
}

async function settle(tenant: TenantShortId, jobId: string, timeoutMs = 60_000): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await world.call(tenant, "GET", `/v1/jobs/${jobId}`);
    const job = (await response.json()) as JobView;
    if (job.state === "succeeded" || job.state === "failed" || Date.now() > deadline) return job;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

async function siteRow(site: string) {
  const [row] = await world.sql<{ live_version: number | null; enabled: number }>(
    "SELECT live_version, enabled FROM sites WHERE id = ?",
    site,
  );
  return row;
}

async function versionRow(site: string, number: number) {
  const [row] = await world.sql<{ status: string; failure_code: string | null }>(
    "SELECT status, failure_code FROM versions WHERE site_id = ? AND number = ?",
    site,
    number,
  );
  return row;
}

/** The entry page as a viewer gets it: view-url → enter → cookie → `/` through the dispatch Worker. */
async function view(tenant: TenantShortId, site: string): Promise<string> {
  const response = await world.call(tenant, "POST", `/v1/sites/${site}/view-url`);
  const { url } = (await response.json()) as { url: string };
  const entered = await world.viaGateway(url);
  expect(entered.status).toBe(303);
  const cookie = (entered.setCookie ?? "").split(";")[0] as string;
  const page = await world.viaGateway(new URL("/", url).toString(), cookie);
  expect(page.status).toBe(200);
  return page.body;
}

async function publishLive(
  tenant: TenantShortId,
  site: string,
  files: Record<string, string>,
): Promise<Accepted> {
  const staged = await accepted(await publish(tenant, site, files));
  const job = await settle(tenant, staged.jobId);
  expect(job, JSON.stringify(job)).toMatchObject({ state: "succeeded" });
  return staged;
}

describe("publish", () => {
  it("takes a new site from a zip upload to live, served through the dispatch Worker", async () => {
    const tenant = await world.newTenant();
    const staged = await accepted(
      await publish(tenant, "new", { "index.html": "<h1>hello v1</h1>", "app.js": "1" }),
    );
    expect(staged.version).toBe(1);
    expect(staged.statusUrl).toBe(`/v1/jobs/${staged.jobId}`);
    const job = await settle(tenant, staged.jobId);
    expect(job).toMatchObject({ state: "succeeded", progress: 1, error: null });
    expect(await siteRow(staged.siteId)).toMatchObject({ live_version: 1 });
    expect(await versionRow(staged.siteId, 1)).toMatchObject({ status: "live" });
    expect(await view(tenant, staged.siteId)).toContain("hello v1");
  });
});

const workersOf = (site: string) =>
  world.api
    .scripts()
    .filter((s) => s.name.startsWith(`s-${site}-v`))
    .map((s) => s.name);

describe("publish: the same request or the same content is the same job", () => {
  it("answers a retried Idempotency-Key with the same job and version, and makes no second Worker", async () => {
    const tenant = await world.newTenant();
    const first = await publishLive(tenant, "new", { "index.html": "<p>once</p>" });
    const again = await accepted(
      await publish(
        tenant,
        first.siteId,
        { "index.html": "<p>other bytes, same key</p>" },
        { "idempotency-key": "k-1" },
      ),
    );
    const retry = await accepted(
      await publish(
        tenant,
        first.siteId,
        { "index.html": "<p>other bytes, same key</p>" },
        { "idempotency-key": "k-1" },
      ),
    );
    expect(retry).toMatchObject({ jobId: again.jobId, version: again.version, replayed: true });
    await settle(tenant, again.jobId);
    expect(workersOf(first.siteId).sort()).toEqual([`s-${first.siteId}-v1`, `s-${first.siteId}-v2`]);
  });

  it("answers a re-publish of the live content with the live version's job, not a new version", async () => {
    const tenant = await world.newTenant();
    const first = await publishLive(tenant, "new", { "index.html": "<p>same</p>" });
    const same = await accepted(await publish(tenant, first.siteId, { "index.html": "<p>same</p>" }));
    expect(same).toMatchObject({ jobId: first.jobId, version: 1, replayed: true });
    expect(await world.sql("SELECT number FROM versions WHERE site_id = ?", first.siteId)).toHaveLength(1);
    expect(workersOf(first.siteId)).toEqual([`s-${first.siteId}-v1`]);
  });
});

describe("publish: bad input gets a typed error and keeps nothing", () => {
  async function uploadsLeft(tenant: TenantShortId): Promise<number> {
    const bucket = await world.mf.getR2Bucket("BUNDLES", "control");
    return (await bucket.list({ prefix: `t/${tenant}/uploads/` })).objects.length;
  }

  it("refuses a zip with a path-traversal entry with 422 BUNDLE_REJECTED naming the path", async () => {
    const tenant = await world.newTenant();
    const response = await publish(tenant, "new", { "index.html": "<p>x</p>", "../evil.js": "1" });
    expect(response.status).toBe(422);
    const body = (await response.json()) as {
      error: { code: string; errors: { code: string; path: string }[] };
    };
    expect(body.error.code).toBe("BUNDLE_REJECTED");
    expect(body.error.errors).toContainEqual(
      expect.objectContaining({ code: "PATH_TRAVERSAL", path: "../evil.js" }),
    );
    expect(await world.sql("SELECT id FROM sites WHERE tenant_id = ?", tenant)).toHaveLength(0);
    expect(await uploadsLeft(tenant)).toBe(0);
  });

  it("refuses a bundle holding a secret with 422 SECRET_DETECTED and a redacted finding", async () => {
    const tenant = await world.newTenant();
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const token = `${"ghp"}_${Array.from(randomBytes(36), (b) => alphabet[b % alphabet.length]).join("")}`;
    const response = await publish(tenant, "new", {
      "index.html": "<p>x</p>",
      "deploy.js": `fetch("https://api.github.com/x",{headers:{Authorization:"token ${token}"}});\n`,
    });
    expect(response.status).toBe(422);
    const text = await response.text();
    expect(text).not.toContain(token);
    const body = JSON.parse(text) as { error: { errors: { code: string }[]; findings: { path: string }[] } };
    expect(body.error.errors).toContainEqual(
      expect.objectContaining({ code: "SECRET_DETECTED", path: "deploy.js" }),
    );
    expect(body.error.findings[0]).toMatchObject({ path: "deploy.js" });
    expect(await uploadsLeft(tenant)).toBe(0);
  });

  it("publishes a bundle whose only finding is a warning, and returns the warning in the 202", async () => {
    const tenant = await world.newTenant();
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    const key = `${"AIza"}${Array.from(randomBytes(35), (b) => alphabet[b % alphabet.length]).join("")}`;
    const response = await publish(tenant, "new", {
      "index.html": "<p>x</p>",
      "firebase.js": `const firebaseConfig = { apiKey: "${key}", projectId: "demo-app" };\n`,
    });
    const text = await response.text();
    expect(response.status, text).toBe(202);
    expect(text).not.toContain(key);
    const body = JSON.parse(text) as {
      jobId: string;
      warnings: { rule: string; severity: string; path: string }[];
    };
    expect(body.warnings).toEqual([
      expect.objectContaining({ rule: "google-api-key", severity: "warn", path: "firebase.js" }),
    ]);
    // The version goes live like any other (and no job is left running for the next test).
    expect((await settle(tenant, body.jobId)).state).toBe("succeeded");
  });

  it("stops an over-size streamed upload at the cap with 413, without reading the rest", async () => {
    const tenant = await world.newTenant();
    const total = MAX_UPLOAD * 4;
    // Chunked (no Content-Length), so only counting while streaming can catch it.
    const outcome = await new Promise<{ status: number; body: string; written: number }>(
      (resolve, reject) => {
        let written = 0;
        let settled = false;
        const request = http.request(
          {
            host: "127.0.0.1",
            port: world.controlUrl.port,
            path: "/v1/sites/new/versions",
            method: "POST",
            headers: {
              authorization: `Bearer ${world.tokenOf(tenant)}`,
              "content-type": "application/zip",
              "transfer-encoding": "chunked",
            },
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on("data", (c: Buffer) => chunks.push(c));
            response.on("end", () => {
              settled = true;
              resolve({
                status: response.statusCode ?? 0,
                body: Buffer.concat(chunks).toString("utf8"),
                written,
              });
            });
          },
        );
        // The server answers 413 and closes while we are still sending: depending on timing the client
        // reads the answer first, or its next write fails (EPIPE/ECONNRESET) before the answer is
        // parsed. Both mean the server stopped reading; a cut is reported as status 0.
        request.on("error", (error: NodeJS.ErrnoException) => {
          const cut = error.code === "EPIPE" || error.code === "ECONNRESET";
          if (!settled)
            setTimeout(() => {
              if (settled) return;
              settled = true;
              if (cut) resolve({ status: 0, body: "", written });
              else reject(error);
            }, 1_000);
        });
        const chunk = Buffer.alloc(256 * 1024);
        const pump = () => {
          while (!settled && written < total) {
            written += chunk.length;
            if (!request.write(chunk)) return void request.once("drain", pump);
          }
          if (!settled) request.end();
        };
        pump();
      },
    );
    if (outcome.status !== 0) {
      expect(outcome.status).toBe(413);
      expect(JSON.parse(outcome.body)).toMatchObject({ error: { code: "BODY_TOO_LARGE" } });
    }
    expect(outcome.written).toBeLessThan(total);
    expect(await uploadsLeft(tenant)).toBe(0);
  });
});

describe("publish: quotas and rate limits", () => {
  it("refuses a third site with QUOTA_SITES", async () => {
    const tenant = await world.newTenant();
    await accepted(await publish(tenant, "new", { "index.html": "a" }));
    await accepted(await publish(tenant, "new", { "index.html": "b" }));
    const third = await publish(tenant, "new", { "index.html": "c" });
    expect(third.status).toBe(403);
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe("QUOTA_SITES");
  });

  it("refuses a version that would pass the tenant's byte quota with QUOTA_BYTES", async () => {
    const tenant = await world.newTenant();
    const response = await publish(tenant, "new", { "index.html": "x".repeat(BYTE_QUOTA + 1) });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("QUOTA_BYTES");
  });

  it("answers 429 RATE_LIMITED with Retry-After once the tenant's publishes per window are used", async () => {
    const tenant = await world.newTenant();
    const first = await accepted(await publish(tenant, "new", { "index.html": "r0" }));
    for (let i = 1; i < RATE; i++)
      await accepted(await publish(tenant, first.siteId, { "index.html": `r${i}` }));
    const over = await publish(tenant, first.siteId, { "index.html": "one too many" });
    expect(over.status).toBe(429);
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await over.json()) as { error: { code: string } }).error.code).toBe("RATE_LIMITED");
  });
});

describe("publish: a fault at any step leaves the previous version live and the new one failed", () => {
  const cases = [
    {
      step: "asset upload session",
      arm: () => world.api.faults.failNext({ endpoint: "assets-upload-session", status: 500, count: 100 }),
      code: "HOSTING_UNAVAILABLE",
    },
    {
      step: "asset upload",
      arm: () => world.api.faults.failNext({ endpoint: "assets-upload", status: 503, count: 100 }),
      code: "HOSTING_UNAVAILABLE",
    },
    {
      step: "script PUT",
      arm: () => world.api.faults.failNext({ endpoint: "script-put", status: 502, count: 100 }),
      code: "HOSTING_UNAVAILABLE",
    },
    {
      step: "smoke check",
      arm: () => {
        world.smokeFault = true;
      },
      code: "SMOKE_CHECK_FAILED",
    },
    {
      step: "flip",
      arm: () => {
        world.flipFault = true;
      },
      code: "D1_ERROR",
    },
  ];
  for (const { step, arm, code } of cases) {
    it(`keeps v1 serving and fails v2 with ${code} when the ${step} fails`, async () => {
      const tenant = await world.newTenant();
      const v1 = await publishLive(tenant, "new", { "index.html": "<p>v1 serves</p>" });
      arm();
      try {
        const v2 = await accepted(
          await publish(tenant, v1.siteId, { "index.html": "<p>v2 must not serve</p>", "new.js": step }),
        );
        const job = await settle(tenant, v2.jobId);
        expect(job).toMatchObject({ state: "failed", error: { code } });
      } finally {
        world.api.faults.clear();
        world.smokeFault = false;
        world.flipFault = false;
      }
      expect(await siteRow(v1.siteId)).toMatchObject({ live_version: 1 });
      expect(await versionRow(v1.siteId, 1)).toMatchObject({ status: "live" });
      expect(await versionRow(v1.siteId, 2)).toMatchObject({ status: "failed", failure_code: code });
      expect(await view(tenant, v1.siteId)).toContain("v1 serves");
    }, 120_000);
  }
});

describe("rollback", () => {
  it("flips back at once to a version whose Worker is kept", async () => {
    const tenant = await world.newTenant();
    const v1 = await publishLive(tenant, "new", { "index.html": "<p>first</p>" });
    await publishLive(tenant, v1.siteId, { "index.html": "<p>second</p>" });
    const response = await world.call(tenant, "POST", `/v1/sites/${v1.siteId}/rollback`, {
      body: JSON.stringify({ version: 1 }),
      headers: { "content-type": "application/json" },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ version: 1, instant: true });
    expect(await siteRow(v1.siteId)).toMatchObject({ live_version: 1 });
    expect(await versionRow(v1.siteId, 2)).toMatchObject({ status: "superseded" });
    expect(await view(tenant, v1.siteId)).toContain("first");
  });

  it("re-provisions a pruned version from R2, then flips to it", async () => {
    const tenant = await world.newTenant();
    const v1 = await publishLive(tenant, "new", { "index.html": "<p>oldest</p>" });
    await publishLive(tenant, v1.siteId, { "index.html": "<p>middle</p>" });
    await publishLive(tenant, v1.siteId, { "index.html": "<p>newest</p>" });
    expect(workersOf(v1.siteId).sort()).toEqual([`s-${v1.siteId}-v2`, `s-${v1.siteId}-v3`]);
    const response = await world.call(tenant, "POST", `/v1/sites/${v1.siteId}/rollback`, {
      body: JSON.stringify({ version: 1 }),
      headers: { "content-type": "application/json" },
    });
    const started = await accepted(response);
    expect(await settle(tenant, started.jobId)).toMatchObject({ state: "succeeded" });
    expect(await siteRow(v1.siteId)).toMatchObject({ live_version: 1 });
    expect(await view(tenant, v1.siteId)).toContain("oldest");
  });
});

describe("sites: write operations", () => {
  it("stops minting view URLs while a site is disabled, and resumes when enabled", async () => {
    const tenant = await world.newTenant();
    const v1 = await publishLive(tenant, "new", { "index.html": "<p>switch</p>" });
    expect((await world.call(tenant, "POST", `/v1/sites/${v1.siteId}/disable`)).status).toBe(200);
    const refused = await world.call(tenant, "POST", `/v1/sites/${v1.siteId}/view-url`);
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("SITE_DISABLED");
    expect((await world.call(tenant, "POST", `/v1/sites/${v1.siteId}/enable`)).status).toBe(200);
    expect(await view(tenant, v1.siteId)).toContain("switch");
  });

  it("deletes a site's Workers by tag, its R2 objects and its rows", async () => {
    const tenant = await world.newTenant();
    const v1 = await publishLive(tenant, "new", { "index.html": "<p>doomed</p>" });
    await publishLive(tenant, v1.siteId, { "index.html": "<p>doomed 2</p>" });
    const response = await world.call(tenant, "DELETE", `/v1/sites/${v1.siteId}`);
    expect(await response.json()).toMatchObject({ deleted: true, workers: "deleted", bytes: "deleted" });
    expect(workersOf(v1.siteId)).toEqual([]);
    const bucket = await world.mf.getR2Bucket("BUNDLES", "control");
    expect((await bucket.list({ prefix: `t/${tenant}/sites/${v1.siteId}/` })).objects).toHaveLength(0);
    expect(await world.sql("SELECT * FROM versions WHERE site_id = ?", v1.siteId)).toHaveLength(0);
    const audit = await world.sql<{ action: string }>(
      "SELECT action FROM audit_entries WHERE target = ?",
      `site:${v1.siteId}`,
    );
    expect(audit.map((a) => a.action)).toEqual(["site.create", "site.delete"]);
  });

  it("erases a tenant: every Worker, object and row, keeping the audit trail and other tenants", async () => {
    const leaving = await world.newTenant();
    const staying = await world.newTenant();
    const gone = await publishLive(leaving, "new", { "index.html": "<p>uninstalled</p>" });
    const kept = await publishLive(staying, "new", { "index.html": "<p>still here</p>" });
    const erase = (tenant: string) =>
      world.mf.dispatchFetch(`http://control.test/__test/erase-tenant?tenant=${tenant}`, { method: "POST" });

    // Cloudflare down: nothing is forgotten, the tenant stays marked for the next attempt.
    world.api.faults.failNext({ endpoint: "scripts-delete-by-tag", status: 503, count: 10 });
    expect(await (await erase(leaving)).json()).toMatchObject({ state: "pending", workers: "pending" });
    expect(await world.sql("SELECT status FROM tenants WHERE id = ?", leaving)).toEqual([
      { status: "purging" },
    ]);
    world.api.faults.clear();

    expect(await (await erase(leaving)).json()).toMatchObject({ state: "deleted", workers: "deleted" });
    expect(workersOf(gone.siteId)).toEqual([]);
    const bucket = await world.mf.getR2Bucket("BUNDLES", "control");
    expect((await bucket.list({ prefix: `t/${leaving}/` })).objects).toHaveLength(0);
    for (const table of ["tenants", "sites", "versions", "jobs"]) {
      const column = table === "tenants" ? "id" : "tenant_id";
      expect(await world.sql(`SELECT 1 FROM ${table} WHERE ${column} = ?`, leaving), table).toHaveLength(0);
    }
    const trail = await world.sql<{ action: string }>(
      "SELECT action FROM audit_entries WHERE tenant_id = ?",
      leaving,
    );
    expect(trail.map((row) => row.action)).toContain("tenant.purge");
    expect(await view(staying, kept.siteId)).toContain("still here");
  });

  it("downloads a version as a zip holding the published files", async () => {
    const tenant = await world.newTenant();
    const v1 = await publishLive(tenant, "new", { "index.html": "<p>zip me</p>", "data/a.json": '{"a":1}' });
    const response = await world.call(tenant, "GET", `/v1/sites/${v1.siteId}/versions/1/bundle`);
    expect(response.headers.get("content-type")).toBe("application/zip");
    const files = unzipSync(new Uint8Array(await response.arrayBuffer()));
    expect(Object.keys(files).sort()).toEqual(["data/a.json", "index.html"]);
    expect(strFromU8(files["index.html"] as Uint8Array)).toBe("<p>zip me</p>");
  });

  it("publishes a folder sent as multipart/form-data, one part per file", async () => {
    const tenant = await world.newTenant();
    const form = new FormData();
    form.append("message", "from a folder");
    form.append("dist/index.html", new Blob(["<p>folder</p>"]), "dist/index.html");
    form.append("dist/js/app.js", new Blob(["console.log(1)"]), "dist/js/app.js");
    const request = new Request("http://x/", { method: "POST", body: form });
    const staged = await accepted(
      await world.call(tenant, "POST", "/v1/sites/new/versions", {
        body: new Uint8Array(await request.arrayBuffer()),
        headers: { "content-type": request.headers.get("content-type") as string },
      }),
    );
    expect(await settle(tenant, staged.jobId)).toMatchObject({ state: "succeeded" });
    const [row] = await world.sql<{ message: string; file_count: number }>(
      "SELECT message, file_count FROM versions WHERE site_id = ?",
      staged.siteId,
    );
    expect(row).toEqual({ message: "from a folder", file_count: 2 });
    expect(await view(tenant, staged.siteId)).toContain("folder");
  });
});

describe("tenant isolation", () => {
  it("answers 404 to every operation on another tenant's site or job", async () => {
    const owner = await world.newTenant();
    const other = await world.newTenant();
    const v1 = await publishLive(owner, "new", { "index.html": "<p>mine</p>" });
    const site = v1.siteId;
    const attempts: [string, string, string?][] = [
      ["POST", `/v1/sites/${site}/view-url`],
      ["POST", `/v1/sites/${site}/rollback`, JSON.stringify({ version: 1 })],
      ["POST", `/v1/sites/${site}/disable`],
      ["DELETE", `/v1/sites/${site}`],
      ["GET", `/v1/sites/${site}/versions/1/bundle`],
      ["GET", `/v1/jobs/${v1.jobId}`],
    ];
    for (const [method, path, json] of attempts) {
      const response = await world.call(
        other,
        method,
        path,
        json === undefined ? {} : { body: json, headers: { "content-type": "application/json" } },
      );
      expect(response.status, `${method} ${path}`).toBe(404);
    }
    const publishOther = await publish(other, site, { "index.html": "<p>theirs</p>" });
    expect(publishOther.status).toBe(404);
    expect(await siteRow(site)).toMatchObject({ live_version: 1, enabled: 1 });
  });
});

describe("recoverJobs", () => {
  it("starts a staged job whose Workflow never started, and it goes live", async () => {
    const tenant = await world.newTenant();
    const v1 = await publishLive(tenant, "new", { "index.html": "<p>base</p>" });
    const [v] = await world.sql<{ content_hash: string }>(
      "SELECT content_hash FROM versions WHERE site_id = ?",
      v1.siteId,
    );
    const now = Date.now();
    await world.sql(
      `INSERT INTO versions (tenant_id, site_id, number, content_hash, status, size_bytes, file_count, published_by, created_at, status_at)
       VALUES (?, ?, 2, ?, 'staging', 11, 1, 'test', ?, ?)`,
      tenant,
      v1.siteId,
      v?.content_hash,
      now,
      now,
    );
    const jobId = "0123456789abcdef0123456789abcdef";
    await world.sql(
      `INSERT INTO jobs (tenant_id, id, site_id, version, kind, state, progress, created_at, updated_at)
       VALUES (?, ?, ?, 2, 'publish', 'queued', 0, ?, ?)`,
      tenant,
      jobId,
      v1.siteId,
      now,
      now,
    );
    const later = now + 16 * 60 * 1000;
    const report = await (await world.call(tenant, "POST", `/__test/recover?now=${later}`)).json();
    expect(report).toMatchObject({ started: [jobId] });
    expect(await settle(tenant, jobId)).toMatchObject({ state: "succeeded" });
    expect(await siteRow(v1.siteId)).toMatchObject({ live_version: 2 });
  });

  it("fails a job stuck past its restarts with JOB_STUCK, leaving the live version serving", async () => {
    const tenant = await world.newTenant();
    const v1 = await publishLive(tenant, "new", { "index.html": "<p>steady</p>" });
    await world.sql(
      `INSERT INTO versions (tenant_id, site_id, number, content_hash, status, size_bytes, file_count, published_by, created_at, status_at)
       VALUES (?, ?, 2, ?, 'provisioning', 1, 1, 'test', 1, 1)`,
      tenant,
      v1.siteId,
      "f".repeat(64),
    );
    const jobId = "fedcba9876543210fedcba9876543210";
    await world.sql(
      `INSERT INTO jobs (tenant_id, id, site_id, version, kind, state, progress, workflow_instance_id, created_at, updated_at)
       VALUES (?, ?, ?, 2, 'publish', 'running', 0.2, 'lost-instance', 1, 1)`,
      tenant,
      jobId,
      v1.siteId,
    );
    const report = await (await world.call(tenant, "POST", `/__test/recover?now=${Date.now()}`)).json();
    expect(report).toMatchObject({ failed: expect.arrayContaining([jobId]) });
    expect(await settle(tenant, jobId)).toMatchObject({ state: "failed", error: { code: "JOB_STUCK" } });
    expect(await versionRow(v1.siteId, 2)).toMatchObject({ status: "failed", failure_code: "JOB_STUCK" });
    expect(await siteRow(v1.siteId)).toMatchObject({ live_version: 1 });
    expect(await view(tenant, v1.siteId)).toContain("steady");
  });
});
