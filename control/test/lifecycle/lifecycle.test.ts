/**
 * Lifecycle end to end (DESIGN §3 Lifecycle, Copy semantics): Forge's install and uninstall events
 * and page events, delivered to the control Worker as Forge delivers them to a remote — a FIT without
 * a user, signed by a local JWKS — against the production app in workerd, with the Cloudflare API
 * stand-in and the real dispatch Worker. Grace periods are seconds here, days in production.
 */

import { strToU8, zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ConfluenceStandIn,
  SAMPLE_ACCOUNT_IDS,
  type SampleUser,
  startConfluenceStandIn,
} from "../../../dev/src/confluence/index.ts";
import {
  createEphemeralFitSigner,
  type FitSigner,
  type ForgeJwksServer,
  signFit,
  startForgeJwksServer,
} from "../../../dev/src/forge/index.ts";
import { createApiToken } from "../../src/auth/api-tokens.ts";
import { D1ApiTokenStore } from "../../src/db/api-tokens.ts";
import { APP_ID, CLOUD_ID, INSTALLATION_ID } from "../auth/support.ts";
import { startWorld, type World } from "../publish/harness.ts";

const REINSTALLATION_ID = "5a5a5a5a-6b6b-4c7c-8d8d-9e9e9e9e9e9e";
const OTHER_CLOUD_ID = "33333333-4444-4555-8666-777777777777";
const OTHER_INSTALLATION_ID = "88888888-9999-4aaa-8bbb-cccccccccccc";
const PAGE = { id: "1001", type: "page" } as const;
const SECOND_PAGE = { id: "2001", type: "blogpost" } as const;
const GRACE_SECONDS = 2;

let world: World;
let signer: FitSigner;
let jwks: ForgeJwksServer;
let confluence: ConfluenceStandIn;

beforeAll(async () => {
  signer = await createEphemeralFitSigner();
  jwks = await startForgeJwksServer(signer);
  confluence = await startConfluenceStandIn();
  world = await startWorld({
    FORGE_JWKS_URL: jwks.jwksUrl,
    ALLOWED_FORGE_APP_IDS: APP_ID,
    TENANT_PURGE_GRACE_SECONDS: String(GRACE_SECONDS),
    PAGE_PURGE_GRACE_SECONDS: String(GRACE_SECONDS),
  });
}, 120_000);

afterAll(async () => {
  await world?.dispose();
  await confluence?.close();
  await jwks?.close();
});

interface Install {
  readonly cloudId: string;
  readonly installationId: string;
}
const FIRST: Install = { cloudId: CLOUD_ID, installationId: INSTALLATION_ID };

/** What Forge sends a remote for an event: a FIT without a user or page context. */
async function forgeEvent(path: string, body: unknown, install: Install = FIRST) {
  const fit = await signFit(signer, { appId: APP_ID, ...install, context: null });
  return world.send("POST", path, {
    headers: { authorization: `Bearer ${fit}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function macro(
  user: SampleUser,
  method: string,
  path: string,
  options: {
    body?: unknown;
    content?: { id: string; type: string };
    install?: Install;
    localId?: string;
  } = {},
) {
  const install = options.install ?? FIRST;
  const fit = await signFit(signer, {
    appId: APP_ID,
    ...install,
    apiBaseUrl: confluence.url,
    principal: SAMPLE_ACCOUNT_IDS[user],
    context: {
      localId: options.localId ?? "lifecycle-macro",
      moduleKey: "mini-sites-macro",
      content: options.content ?? PAGE,
    },
  });
  return world.send(method, `/v1/macro${path}`, {
    headers: {
      authorization: `Bearer ${fit}`,
      "x-forge-oauth-user": confluence.tokenFor(user),
      ...(options.body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
}

/** The editor's upload on a page: ticket → chunk → complete → live. */
async function publishOn(
  content: { id: string; type: string },
  localId: string,
  html: string,
  install = FIRST,
) {
  const bundle = zipSync({ "index.html": strToU8(html) });
  const ticket = (await (
    await macro("editor", "POST", "/upload-ticket", {
      body: { size: bundle.length },
      content,
      localId,
      install,
    })
  ).json()) as { uploadPath: string; siteId: string };
  const fit = await signFit(signer, {
    appId: APP_ID,
    ...install,
    apiBaseUrl: confluence.url,
    principal: SAMPLE_ACCOUNT_IDS.editor,
    context: { localId, moduleKey: "mini-sites-macro", content },
  });
  const headers = { authorization: `Bearer ${fit}` };
  expect((await world.send("PUT", `${ticket.uploadPath}/chunks/1`, { headers, body: bundle })).status).toBe(
    200,
  );
  const done = await world.send("POST", `${ticket.uploadPath}/complete`, { headers });
  expect(done.status, await done.clone().text()).toBe(202);
  const { jobId } = (await done.json()) as { jobId: string };
  await waitFor(async () => {
    const [row] = await world.sql<{ state: string }>("SELECT state FROM jobs WHERE id = ?", jobId);
    return row?.state === "succeeded";
  });
  return ticket.siteId;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

const sweep = async (now = Date.now()) =>
  (await (await world.send("POST", `/__test/sweep?now=${now}`)).json()) as {
    tenants: { state: string }[];
    pages: { contentId: string; sitesErased: number }[];
  };

const tenantRow = async (cloudId = CLOUD_ID) =>
  (
    await world.sql<{ id: string; status: string; installation_id: string; purge_after: number | null }>(
      "SELECT id, status, installation_id, purge_after FROM tenants WHERE forge_app_id = ? AND cloud_id = ?",
      APP_ID,
      cloudId,
    )
  )[0];

const serve = async (content = PAGE, install = FIRST) =>
  macro("viewer", "POST", "/serve-url", { content, install });

describe("install", () => {
  it("makes the tenant on avi:forge:installed:app, and a second delivery changes nothing", async () => {
    for (let i = 0; i < 2; i++) {
      const response = await forgeEvent("/v1/lifecycle/installed", { eventType: "avi:forge:installed:app" });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ state: "active" });
    }
    expect(await tenantRow()).toMatchObject({ status: "active", installation_id: INSTALLATION_ID });
  });
});

describe("page events", () => {
  let siteId: string;
  beforeAll(async () => {
    siteId = await publishOn(PAGE, "lifecycle-macro", "<h1>page site</h1>");
  }, 120_000);

  const event = (eventType: string, content = PAGE, install = FIRST) =>
    forgeEvent(
      "/v1/lifecycle/page-events",
      { eventType, atlassianId: SAMPLE_ACCOUNT_IDS.editor, content },
      install,
    );

  it("stops grants while the page is trashed (delivered twice, the same), and serves again once restored", async () => {
    expect((await serve()).status).toBe(200);
    for (let i = 0; i < 2; i++)
      expect(await (await event("avi:confluence:trashed:page")).json()).toEqual({ state: "trashed" });
    const trashed = await serve();
    expect(trashed.status).toBe(409);
    expect(await trashed.json()).toMatchObject({ error: { code: "PAGE_TRASHED" } });
    expect(await (await event("avi:confluence:restored:page")).json()).toEqual({ state: "restored" });
    expect(await (await event("avi:confluence:restored:page")).json()).toEqual({ state: "restored" });
    const served = (await (await serve()).json()) as { state: string; siteId: string };
    expect(served).toMatchObject({ state: "PUBLISHED", siteId });
  });

  it("ignores an event another installation sends about this page: nothing of ours changes", async () => {
    await forgeEvent(
      "/v1/lifecycle/installed",
      {},
      { cloudId: OTHER_CLOUD_ID, installationId: OTHER_INSTALLATION_ID },
    );
    const foreign = await event("avi:confluence:trashed:page", PAGE, {
      cloudId: OTHER_CLOUD_ID,
      installationId: OTHER_INSTALLATION_ID,
    });
    expect(await foreign.json()).toEqual({ state: "ignored" });
    expect((await serve()).status).toBe(200);
  });

  it("erases, after the grace period, the sites shown only on a deleted page — and keeps a site also shown elsewhere", async () => {
    // A second site, shown on the page to be deleted AND (as a fork's source) forked onto a blog post.
    const shared = await publishOn(PAGE, "lifecycle-shared", "<h1>shared</h1>");
    await publishOn(SECOND_PAGE, "lifecycle-elsewhere", "<h1>elsewhere</h1>");
    await world.sql(
      "INSERT INTO macro_bindings (tenant_id, cloud_id, content_id, local_id, site_id, created_by, created_at, updated_at) SELECT tenant_id, cloud_id, ?, 'lifecycle-extra', site_id, created_by, created_at, updated_at FROM macro_bindings WHERE site_id = ?",
      SECOND_PAGE.id,
      shared,
    );
    expect(await (await event("avi:confluence:deleted:page")).json()).toEqual({ state: "deleted" });
    // Within the grace period nothing is erased.
    expect((await sweep()).pages).toEqual([]);
    const later = Date.now() + (GRACE_SECONDS + 1) * 1000;
    const report = await sweep(later);
    expect(report.pages).toContainEqual(expect.objectContaining({ contentId: PAGE.id, sitesErased: 1 }));
    expect(await world.sql("SELECT id FROM sites WHERE id = ?", siteId)).toEqual([]);
    expect(await world.sql("SELECT id FROM sites WHERE id = ?", shared)).toHaveLength(1);
    const workers = world.api.scripts().map((s) => s.name);
    expect(workers.some((name) => name.includes(siteId))).toBe(false);
    expect(workers.some((name) => name.includes(shared))).toBe(true);
    const audit = await world.sql<{ action: string }>(
      "SELECT action FROM audit_entries WHERE target = ?",
      `site:${siteId}`,
    );
    expect(audit.map((a) => a.action)).toContain("site.delete");
  }, 120_000);
});

describe("uninstall", () => {
  let token: string;
  beforeAll(async () => {
    const tenant = (await tenantRow())?.id as string;
    const issued = await createApiToken({
      tenantId: tenant,
      scopes: ["sites:read", "sites:write"],
      label: "ci",
    });
    await new D1ApiTokenStore(world.db).insert(issued.record);
    token = issued.token;
  });

  it("stops grants and tokens at once, and a reinstall within the grace period restores everything", async () => {
    const siteId = await publishOn(PAGE, "uninstall-macro", "<h1>before uninstall</h1>");
    expect(
      (await world.send("GET", "/v1/sites", { headers: { authorization: `Bearer ${token}` } })).status,
    ).toBe(200);
    expect(await (await forgeEvent("/v1/lifecycle/uninstalling", {})).json()).toEqual({ state: "purging" });
    expect(
      (await world.send("GET", "/v1/sites", { headers: { authorization: `Bearer ${token}` } })).status,
    ).toBe(401);
    const refused = await macro("viewer", "POST", "/serve-url", { localId: "uninstall-macro" });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: "TENANT_PURGING" } });
    // Forge gives a reinstall a new installation id; its signed install event restores the tenant.
    const REINSTALLED = { cloudId: CLOUD_ID, installationId: REINSTALLATION_ID };
    expect(await (await forgeEvent("/v1/lifecycle/installed", {}, REINSTALLED)).json()).toEqual({
      state: "restored",
    });
    const served = (await (
      await macro("viewer", "POST", "/serve-url", { localId: "uninstall-macro", install: REINSTALLED })
    ).json()) as { siteId: string };
    expect(served.siteId).toBe(siteId);
    // The replaced installation's FITs reach nothing any more; a late uninstall of it changes nothing.
    expect((await macro("viewer", "POST", "/serve-url", { localId: "uninstall-macro" })).status).toBe(403);
    expect(await (await forgeEvent("/v1/lifecycle/uninstalling", {})).json()).toEqual({ state: "ignored" });
    expect(await tenantRow()).toMatchObject({ status: "active", installation_id: REINSTALLATION_ID });
  }, 120_000);

  it("erases every Worker, object and row after the grace period, retrying through Cloudflare errors, keeping the audit record", async () => {
    const REINSTALLED = { cloudId: CLOUD_ID, installationId: REINSTALLATION_ID };
    const tenant = (await tenantRow())?.id as string;
    // The tenant's monitors, their results and queued reports, its report channel and its key pair
    // (migration 0009) go with it too.
    const MONITOR = "mon_aaaaaaaaaaaaaaaa";
    await world.sql(
      "INSERT INTO report_channels (tenant_id, url, updated_at) VALUES (?, 'https://hooks.example.com/x1', 1)",
      tenant,
    );
    await world.sql(
      `INSERT INTO monitors (tenant_id, id, name, url, method, expected_min, expected_max, timeout_ms,
         interval_seconds, next_check_at, created_by, created_at)
       VALUES (?, ?, 'm', 'https://a.example.com/', 'GET', 200, 399, 5000, 60, 0, 'forge:someone', 0)`,
      tenant,
      MONITOR,
    );
    await world.sql(
      "INSERT INTO monitor_results (tenant_id, monitor_id, checked_at, ok) VALUES (?, ?, 1, 1)",
      tenant,
      MONITOR,
    );
    await world.sql(
      "INSERT INTO monitor_reports (tenant_id, id, monitor_id, body, created_at, next_attempt_at) VALUES (?, 'rep_1', ?, '{}', 0, 0)",
      tenant,
      MONITOR,
    );
    await world.sql(
      `INSERT INTO tenant_keys (tenant_id, key_id, public_key, wrapped_private_key, wrap_key_id, state, created_at)
       VALUES (?, '0123456789abcdef', ?, 'wrapped', 'wrapkey', 'current', 0)`,
      tenant,
      "A".repeat(43),
    );
    expect(await (await forgeEvent("/v1/lifecycle/uninstalling", {}, REINSTALLED)).json()).toEqual({
      state: "purging",
    });
    const later = Date.now() + (GRACE_SECONDS + 1) * 1000;
    // Cloudflare fails the delete-by-tag: the tenant stays purging and nothing is lost track of.
    world.api.faults.failNext({ endpoint: "scripts-delete-by-tag", status: 503, count: 10 });
    const failed = await sweep(later);
    expect(failed.tenants).toContainEqual(expect.objectContaining({ state: "pending" }));
    expect(await tenantRow()).toMatchObject({ status: "purging" });
    world.api.faults.clear();
    const done = await sweep(later);
    expect(done.tenants).toContainEqual(expect.objectContaining({ state: "deleted" }));
    expect(await tenantRow()).toBeUndefined();
    expect(world.api.scripts().filter((s) => s.tags.includes(`tenant-${tenant}`))).toEqual([]);
    const purge = await world.sql<{ action: string }>(
      "SELECT action FROM audit_entries WHERE tenant_id = ? AND action = 'tenant.purge'",
      tenant,
    );
    expect(purge.length).toBeGreaterThanOrEqual(1);
    // No row of the tenant is left in any table but the audit log's own entries (which name people by
    // pseudonyms whose mapping, audit_actors, is gone with the tenant).
    const tables = await world.sql<{ name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%'",
    );
    const left: string[] = [];
    for (const { name } of tables) {
      if (name === "audit_entries" || name === "audit_log") continue;
      const columns = await world.sql<{ name: string }>(`PRAGMA table_info("${name}")`);
      const column = columns.some((c) => c.name === "tenant_id")
        ? "tenant_id"
        : columns.some((c) => c.name === "id") && name === "tenants"
          ? "id"
          : undefined;
      if (column === undefined) continue;
      const [row] = await world.sql<{ n: number }>(
        `SELECT COUNT(*) AS n FROM "${name}" WHERE ${column} = ?`,
        tenant,
      );
      if ((row?.n ?? 0) > 0) left.push(`${name}: ${row?.n}`);
    }
    expect(left).toEqual([]);
    // A later install starts a fresh tenant, with nothing of the old one.
    expect(await (await forgeEvent("/v1/lifecycle/installed", {}, REINSTALLED)).json()).toEqual({
      state: "active",
    });
    const fresh = await tenantRow();
    expect(fresh?.id).not.toBe(tenant);
    expect(
      await (
        await macro("viewer", "POST", "/serve-url", { localId: "uninstall-macro", install: REINSTALLED })
      ).json(),
    ).toEqual({
      state: "NOT_PUBLISHED",
    });
  }, 120_000);
});
