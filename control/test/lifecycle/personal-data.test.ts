/**
 * Personal data (issue 12 item 5; control/src/privacy/): the account ids the product stores are
 * reported to Atlassian's personal data reporting API — here the Atlassian stand-in, which validates
 * requests as Atlassian documents them — by the hourly scheduled trigger carrying the app's system
 * token, 90 at a time, at least weekly; a closed account is anonymized in every stored row, audit rows
 * never held it, and the audit chain still verifies. Against the production app in workerd.
 */

import { strToU8, zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ConfluenceStandIn,
  REPORT_ACCOUNTS_LIMIT,
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
import { FORGE_MODULE_KEYS } from "../../src/policy/kinds.ts";
import { ACCOUNT_COLUMNS } from "../../src/privacy/accounts.ts";
import { APP_ID, CLOUD_ID, INSTALLATION_ID } from "../auth/support.ts";
import { startWorld, type World } from "../publish/harness.ts";

const PAGE = { id: "1001", type: "page" } as const;
const CYCLE_SECONDS = 3;

let world: World;
let signer: FitSigner;
let jwks: ForgeJwksServer;
let confluence: ConfluenceStandIn;
let tenantId: string;
let apiToken: string;

beforeAll(async () => {
  signer = await createEphemeralFitSigner();
  jwks = await startForgeJwksServer(signer);
  confluence = await startConfluenceStandIn();
  world = await startWorld({
    FORGE_JWKS_URL: jwks.jwksUrl,
    ALLOWED_FORGE_APP_IDS: APP_ID,
    ATLASSIAN_API_BASE_URL: confluence.url,
    PERSONAL_DATA_CYCLE_SECONDS: String(CYCLE_SECONDS),
  });
  expect((await forgeApp("/v1/lifecycle/installed", {})).status).toBe(200);
  const [row] = await world.sql<{ id: string }>(
    "SELECT id FROM tenants WHERE forge_app_id = ? AND cloud_id = ?",
    APP_ID,
    CLOUD_ID,
  );
  tenantId = row?.id as string;
}, 120_000);

afterAll(async () => {
  await world?.dispose();
  await confluence?.close();
  await jwks?.close();
});

/** What Forge sends the remote for a trigger: a FIT without a user, plus headers of its choosing. */
async function forgeApp(path: string, body: unknown, headers: Record<string, string> = {}) {
  const fit = await signFit(signer, {
    appId: APP_ID,
    cloudId: CLOUD_ID,
    installationId: INSTALLATION_ID,
    context: null,
  });
  return world.send("POST", path, {
    headers: { authorization: `Bearer ${fit}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

/** One run of the hourly trigger, with the app's system token as Forge sends it. */
async function scheduledRun() {
  const response = await forgeApp(
    "/v1/lifecycle/personal-data",
    { context: { cloudId: CLOUD_ID } },
    { "x-forge-oauth-system": confluence.systemTokenFor(INSTALLATION_ID) },
  );
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as { state: string; reported: number; closed: number; updated: number };
}

/** Runs the trigger until the cycle in progress completes. */
async function completeCycle() {
  const runs = [];
  for (let i = 0; i < 20; i++) {
    const run = await scheduledRun();
    runs.push(run);
    if (run.state === "completed") return runs;
  }
  throw new Error(`the cycle did not complete: ${JSON.stringify(runs)}`);
}

/** A call from the app's UI as `user`: the macro on PAGE, or the admin page (no content). */
async function asUser(user: SampleUser, method: string, path: string, body?: unknown) {
  const onAdminPage = !path.startsWith("/v1/macro/");
  const fit = await signFit(signer, {
    appId: APP_ID,
    cloudId: CLOUD_ID,
    installationId: INSTALLATION_ID,
    apiBaseUrl: confluence.url,
    principal: SAMPLE_ACCOUNT_IDS[user],
    context: onAdminPage
      ? { localId: "admin", moduleKey: FORGE_MODULE_KEYS.admin, content: PAGE }
      : { localId: "privacy-macro", moduleKey: FORGE_MODULE_KEYS.macro, content: PAGE },
  });
  return world.send(method, path, {
    headers: {
      authorization: `Bearer ${fit}`,
      "x-forge-oauth-user": confluence.tokenFor(user),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** The editor publishes on the page through the editor's upload (ticket, chunk, complete). */
async function editorPublishes(html: string) {
  const bundle = zipSync({ "index.html": strToU8(html) });
  const ticket = (await (
    await asUser("editor", "POST", "/v1/macro/upload-ticket", { size: bundle.length })
  ).json()) as {
    uploadPath: string;
  };
  const fit = await signFit(signer, {
    appId: APP_ID,
    cloudId: CLOUD_ID,
    installationId: INSTALLATION_ID,
    apiBaseUrl: confluence.url,
    principal: SAMPLE_ACCOUNT_IDS.editor,
    context: { localId: "privacy-macro", moduleKey: "mini-sites-macro", content: PAGE },
  });
  const headers = { authorization: `Bearer ${fit}` };
  expect((await world.send("PUT", `${ticket.uploadPath}/chunks/1`, { headers, body: bundle })).status).toBe(
    200,
  );
  const done = await world.send("POST", `${ticket.uploadPath}/complete`, { headers });
  expect(done.status, await done.clone().text()).toBe(202);
  const { jobId } = (await done.json()) as { jobId: string };
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [row] = await world.sql<{ state: string }>("SELECT state FROM jobs WHERE id = ?", jobId);
    if (row?.state === "succeeded") return;
    if (row?.state === "failed" || Date.now() > deadline) throw new Error(`publish ended ${row?.state}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

/** Every text cell of every table that mentions `needle` (the whole database, not a chosen list). */
/** The application's tables (not SQLite's, D1's or the migrations' own). */
const tablesOf = () =>
  world.sql<{ name: string }>(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name <> 'd1_migrations'",
  );

async function rowsMentioning(needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const { name } of await tablesOf()) {
    const columns = await world.sql<{ name: string }>(`PRAGMA table_info("${name}")`);
    for (const column of columns) {
      const [hit] = await world.sql<{ n: number }>(
        `SELECT COUNT(*) AS n FROM "${name}" WHERE instr(CAST("${column.name}" AS TEXT), ?) > 0`,
        needle,
      );
      if ((hit?.n ?? 0) > 0) found.push(`${name}.${column.name}`);
    }
  }
  return found;
}

async function auditPage() {
  const response = await asUser("admin", "GET", "/v1/audit?limit=200");
  expect(response.status).toBe(200);
  return (await response.json()) as {
    entries: { actor: string; action: string; detail: Record<string, unknown> }[];
    verification: { ok: boolean };
  };
}

/**
 * `*_by` columns whose CHECK constraint allows only fixed words, never an account id: what replaced a
 * version ('publish' | 'rollback'), and what set a tenant's branding ('registration' | 'admin'; who is
 * in the audit log).
 */
const NOT_AN_ACTOR = new Set(["versions.superseded_by", "tenant_branding.updated_by"]);

describe("what is stored", () => {
  it("names every column that holds an actor (a new *_by column must join privacy/accounts.ts)", async () => {
    // The exemptions hold only fixed words: an account id in one fails its CHECK.
    const [check] = await world.sql<{ sql: string }>(
      "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'tenant_branding'",
    );
    expect(check?.sql).toMatch(/updated_by[^,]*CHECK \(updated_by IN \('registration', 'admin'\)\)/);
    const actorColumns: string[] = [];
    for (const { name } of await tablesOf())
      for (const column of await world.sql<{ name: string }>(`PRAGMA table_info("${name}")`))
        if (/_by$/.test(column.name) && !NOT_AN_ACTOR.has(`${name}.${column.name}`))
          actorColumns.push(`${name}.${column.name}`);
    expect(actorColumns.sort()).toEqual(ACCOUNT_COLUMNS.map((c) => `${c.table}.${c.column}`).sort());
  });
});

describe("reporting and anonymizing", () => {
  beforeAll(async () => {
    // The editor publishes on a page (version, binding, upload ticket); the admin saves the tenant's
    // allow-lists and makes an API token: three people's account ids in five tables and the audit log.
    await editorPublishes("<h1>privacy</h1>");
    const settings = await asUser("admin", "PUT", "/v1/tenant/settings", {
      cdnAllowList: ["https://cdn.example.com"],
      connectAllowList: [],
    });
    expect(settings.status, await settings.clone().text()).toBe(200);
    const token = await asUser("admin", "POST", "/v1/tokens", { label: "ci", scopes: ["tenant:admin"] });
    expect(token.status, await token.clone().text()).toBe(201);
    apiToken = ((await token.json()) as { token: string }).token;
  }, 120_000);

  it("writes audit rows by pseudonym, never by account id, and shows them to the tenant as account ids", async () => {
    expect(await rowsMentioning(SAMPLE_ACCOUNT_IDS.editor)).not.toContain("audit_entries.actor");
    const [raw] = await world.sql<{ actor: string }>(
      "SELECT actor FROM audit_entries WHERE tenant_id = ? AND action = 'site.publish'",
      tenantId,
    );
    expect(raw?.actor).toMatch(/^forge:~[0-9a-f]{24}$/);
    const page = await auditPage();
    expect(page.entries.find((e) => e.action === "site.publish")?.actor).toBe(
      `forge:${SAMPLE_ACCOUNT_IDS.editor}`,
    );
    expect(page.verification.ok).toBe(true);
  });

  it("refuses a run without the app's system token, and callers other than Forge's trigger", async () => {
    const withoutToken = await forgeApp("/v1/lifecycle/personal-data", {});
    expect(withoutToken.status).toBe(400);
    expect(await withoutToken.json()).toMatchObject({ error: { code: "SYSTEM_TOKEN_MISSING" } });
    const asToken = await world.send("POST", "/v1/lifecycle/personal-data", {
      headers: {
        authorization: `Bearer ${apiToken}`,
        "content-type": "application/json",
        "x-forge-oauth-system": confluence.systemTokenFor(INSTALLATION_ID),
      },
      body: "{}",
    });
    expect(asToken.status).toBe(403);
    const fromTheMacro = await asUser("editor", "POST", "/v1/lifecycle/personal-data", {});
    expect(fromTheMacro.status).toBe(403);
    expect(confluence.reports.length).toBe(0);
  });

  it("reports every stored account id to Atlassian with when it was stored, then rests until the cycle is due", async () => {
    const runs = await completeCycle();
    const reported = confluence.reports.flatMap((r) => r.accounts.map((a) => a.accountId));
    expect(new Set(reported)).toEqual(new Set([SAMPLE_ACCOUNT_IDS.editor, SAMPLE_ACCOUNT_IDS.admin]));
    expect(confluence.reports.every((r) => r.installationId === INSTALLATION_ID)).toBe(true);
    for (const report of confluence.reports)
      for (const { updatedAt } of report.accounts)
        expect(Date.parse(updatedAt)).toBeLessThanOrEqual(Date.now());
    expect(runs.at(-1)).toMatchObject({ state: "completed" });
    const requests = confluence.reports.length;
    expect(await scheduledRun()).toMatchObject({ state: "current", reported: 0 });
    expect(confluence.reports.length).toBe(requests);
  });

  it("anonymizes an account Atlassian says is closed in every row, keeps the rows and the audit chain whole", async () => {
    await new Promise((resolve) => setTimeout(resolve, CYCLE_SECONDS * 1000 + 100));
    const versionsBefore = await world.sql<{ n: number }>(
      "SELECT COUNT(*) AS n FROM versions WHERE tenant_id = ?",
      tenantId,
    );
    expect(await rowsMentioning(SAMPLE_ACCOUNT_IDS.editor)).not.toEqual([]);
    confluence.closeAccount(SAMPLE_ACCOUNT_IDS.editor);
    const runs = await completeCycle();
    expect(runs.reduce((n, r) => n + r.closed, 0)).toBe(1);

    expect(await rowsMentioning(SAMPLE_ACCOUNT_IDS.editor)).toEqual([]);
    const [version] = await world.sql<{ published_by: string }>(
      "SELECT published_by FROM versions WHERE tenant_id = ?",
      tenantId,
    );
    expect(version?.published_by).toMatch(/^forge:closed~[0-9a-f]{16}$/);
    // The same stand-in value in every table: still one (unknown) person.
    const [binding] = await world.sql<{ created_by: string }>(
      "SELECT created_by FROM macro_bindings WHERE tenant_id = ?",
      tenantId,
    );
    expect(binding?.created_by).toBe(version?.published_by);
    expect(await world.sql("SELECT COUNT(*) AS n FROM versions WHERE tenant_id = ?", tenantId)).toEqual(
      versionsBefore,
    );
    // The site still serves: nothing but the name of its publisher changed.
    expect((await asUser("viewer", "POST", "/v1/macro/serve-url")).status).toBe(200);

    const page = await auditPage();
    expect(page.verification.ok).toBe(true);
    expect(page.entries.find((e) => e.action === "site.publish")?.actor).toBe("forge:closed~account");
    expect(page.entries.some((e) => e.actor === `forge:${SAMPLE_ACCOUNT_IDS.admin}`)).toBe(true);
    expect(page.entries.find((e) => e.action === "privacy.report")?.actor).toMatch(/^forge-app:/);

    // The next cycle no longer reports it: nothing of it is left to report.
    await new Promise((resolve) => setTimeout(resolve, CYCLE_SECONDS * 1000 + 100));
    const before = confluence.reports.length;
    await completeCycle();
    const next = confluence.reports.slice(before).flatMap((r) => r.accounts.map((a) => a.accountId));
    expect(next).toEqual([SAMPLE_ACCOUNT_IDS.admin]);
  });
});

describe("account ids of every shape, and many closing at once", () => {
  it("never lets values that are not account ids push one past the cursor, and anonymizes many closed accounts in one answer", async () => {
    await new Promise((resolve) => setTimeout(resolve, CYCLE_SECONDS * 1000 + 100));
    // A page of ill-formed values sorting before real ids (not ids Atlassian issues: never reported).
    for (let i = 0; i < REPORT_ACCOUNTS_LIMIT + 5; i++)
      await world.sql(
        "INSERT INTO audit_actors (tenant_id, pseudonym, account_id, first_seen_at) VALUES (?, lower(hex(randomblob(12))), ?, ?)",
        tenantId,
        `0bad id ${String(i).padStart(3, "0")}`,
        Date.now(),
      );
    const wellFormed = "1well-formed:account";
    const closing = Array.from({ length: 40 }, (_, i) => `2closing-${String(i).padStart(2, "0")}`);
    for (const accountId of [wellFormed, ...closing])
      await world.sql(
        "INSERT INTO audit_actors (tenant_id, pseudonym, account_id, first_seen_at) VALUES (?, lower(hex(randomblob(12))), ?, ?)",
        tenantId,
        accountId,
        Date.now(),
      );
    for (const accountId of closing) confluence.closeAccount(accountId);
    const before = confluence.reports.length;
    const runs = await completeCycle();
    const sent = confluence.reports.slice(before).flatMap((r) => r.accounts.map((a) => a.accountId));
    expect(sent).toContain(wellFormed);
    expect(sent.filter((id) => id.startsWith("0bad"))).toEqual([]);
    expect(runs.reduce((n, r) => n + r.closed, 0)).toBe(closing.length);
    const left = await world.sql<{ account_id: string }>(
      "SELECT account_id FROM audit_actors WHERE tenant_id = ? AND account_id LIKE '2closing-%'",
      tenantId,
    );
    expect(left).toEqual([]);
    await world.sql("DELETE FROM audit_actors WHERE tenant_id = ? AND account_id LIKE '0bad%'", tenantId);
    await world.sql("DELETE FROM audit_actors WHERE tenant_id = ? AND account_id = ?", tenantId, wellFormed);
  });
});

describe("many accounts, and Atlassian asking to wait", () => {
  it(`reports in requests of at most ${REPORT_ACCOUNTS_LIMIT}, waits out a 429 and continues where it stopped`, async () => {
    await new Promise((resolve) => setTimeout(resolve, CYCLE_SECONDS * 1000 + 100));
    // 250 more people have published on this tenant over time (seeded: the subject here is reporting).
    const accounts = Array.from(
      { length: 250 },
      (_, i) => `557058:00000000-0000-4000-9000-${String(i).padStart(12, "0")}`,
    );
    for (const accountId of accounts)
      await world.sql(
        "INSERT INTO audit_actors (tenant_id, pseudonym, account_id, first_seen_at) VALUES (?, lower(hex(randomblob(12))), ?, ?)",
        tenantId,
        accountId,
        Date.now(),
      );
    const before = confluence.reports.length;
    // Atlassian takes the first request of the cycle, then asks us to wait.
    confluence.refuseReports({ count: 1, status: 429, retryAfterSeconds: 1, after: 1 });
    expect(await scheduledRun()).toMatchObject({ state: "waiting", reported: REPORT_ACCOUNTS_LIMIT });
    expect(await scheduledRun()).toMatchObject({ state: "waiting", reported: 0 });
    expect(confluence.reports.length).toBe(before + 1);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await completeCycle();
    const sent = confluence.reports.slice(before);
    expect(Math.max(...sent.map((r) => r.accounts.length))).toBeLessThanOrEqual(REPORT_ACCOUNTS_LIMIT);
    const all = sent.flatMap((r) => r.accounts.map((a) => a.accountId));
    expect(all.length).toBe(new Set(all).size);
    expect(new Set(all)).toEqual(new Set([...accounts, SAMPLE_ACCOUNT_IDS.admin]));
  });

  it("keeps what it reported when Atlassian fails mid-cycle, and says so with a typed error", async () => {
    await new Promise((resolve) => setTimeout(resolve, CYCLE_SECONDS * 1000 + 100));
    const before = confluence.reports.length;
    // Atlassian takes the first request of the cycle, then fails.
    confluence.refuseReports({ count: 1, status: 503, after: 1 });
    const failed = await forgeApp(
      "/v1/lifecycle/personal-data",
      {},
      { "x-forge-oauth-system": confluence.systemTokenFor(INSTALLATION_ID) },
    );
    expect(failed.status).toBe(503);
    expect(await failed.json()).toMatchObject({ error: { code: "ATLASSIAN_UNAVAILABLE" } });
    expect(confluence.reports.length).toBe(before + 1);
    // What the interrupted run did before the failure is on the audit record, with what stopped it.
    // (Entries come newest first.)
    const interrupted = (await auditPage()).entries.find((e) => e.action === "privacy.report");
    expect(interrupted?.detail).toMatchObject({ state: "interrupted", reported: REPORT_ACCOUNTS_LIMIT });
    await completeCycle();
    // The next run went on from the request that failed: no account was reported twice in the cycle.
    const cycle = confluence.reports.slice(before).flatMap((r) => r.accounts.map((a) => a.accountId));
    expect(cycle.length).toBe(251);
    expect(new Set(cycle).size).toBe(251);
  });
});
