/**
 * The attacker's suite for the control API (DESIGN §6.4): black-box, through the deployed entry point
 * running in workerd, with FITs signed by a local JWKS for each sample user and page and real API
 * tokens. For EVERY operation the running Worker's own OpenAPI document lists, and every kind of
 * caller an attacker can be — no credential, another tenant's token, a narrow token, the viewer of
 * another page, a user who may not read the page, a Forge function without a user, a non-admin on the
 * admin page, a sibling app's FIT, the CI secret — the answer is the documented refusal and carries
 * none of the victim's data: no site id, no grant URL, no bytes, no token.
 *
 * Then the attacks that need more than one request: taking over a site by binding it, replaying an
 * upload ticket, a flood of anonymous requests while a real publish runs and the audit chains are
 * watched, and multipart bodies built to burn CPU.
 *
 * Expectations are written here from the threat model, NOT derived from the policy table, so a
 * table entry that grants too much fails this suite. A new route without an expectation below fails
 * it too (`expectationFor` throws), so every route is attacked before it ships.
 */

import type { TenantShortId } from "@mini-sites/core";
import { assetHash, FORGE_MODULE_KEYS } from "@mini-sites/core";
import { strToU8, zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ConfluenceStandIn,
  RESTRICTED_PAGE_ID,
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
import type { Scope } from "../../src/auth/principal.ts";
import { D1ApiTokenStore } from "../../src/db/api-tokens.ts";
import { ensureTenant } from "../../src/db/tenants.ts";
import { ROUTE_POLICIES } from "../../src/policy/table.ts";
import { APP_ID, CLOUD_ID, INSTALLATION_ID, SIBLING_APP_ID } from "../auth/support.ts";
import { startWorld, type World } from "../publish/harness.ts";

const OTHER_CLOUD_ID = "22222222-3333-4444-8555-666666666666";
const OTHER_INSTALLATION_ID = "77777777-8888-4999-8aaa-bbbbbbbbbbbb";
const REINSTALLED_ID = "99999999-8888-4777-8666-555555555555";
const SECRET = ["attack", "suite", "ci", "secret", "0123456789abcdef"].join("-");
const VICTIM_PAGE = { id: "1001", type: "page" } as const;
const OTHER_PAGE = { id: "2001", type: "blogpost" } as const;
const RESTRICTED_PAGE = { id: RESTRICTED_PAGE_ID, type: "page" } as const;
const MACRO = "victim-macro";

let world: World;
let signer: FitSigner;
let jwks: ForgeJwksServer;
let confluence: ConfluenceStandIn;

/** What the victim tenant holds, which no attack may reveal. */
const victim = {
  tenant: "" as TenantShortId,
  adminToken: "",
  boundSite: "",
  restrictedSite: "",
  cliSite: "",
  jobId: "",
  /** A token of the victim's that the attacks may name (a narrow token may revoke it: that is its job). */
  tokenId: "",
  ticketPath: "",
  monitorId: "",
};
/** The victim's monitor: its URL names an internal service, which no attacker may learn. */
const VICTIM_MONITOR_URL = "https://victim-orders-9d3f.example.com/health";
let attackerToken = "";
let narrowToken = "";
/** A finding the victim's admin accepted: its note must never reach an attacker, nor be withdrawn by one. */
const VICTIM_ACCEPTED = {
  ruleId: "github-token",
  fileHash: "5e6f".repeat(16),
  note: "victim-only note 7c1d",
};

const zipOf = (files: Record<string, string>) =>
  zipSync(Object.fromEntries(Object.entries(files).map(([path, text]) => [path, strToU8(text)])));

async function issueToken(tenant: TenantShortId, scopes: Scope[], label: string) {
  const issued = await createApiToken({ tenantId: tenant, scopes, label });
  await new D1ApiTokenStore(world.db).insert(issued.record);
  return issued;
}

interface FitOptions {
  readonly user?: SampleUser;
  readonly content?: { id: string; type: string };
  readonly localId?: string;
  readonly moduleKey?: string;
  readonly noPrincipal?: boolean;
  /** No user, but the context of one of the app's UI modules on a page (anonymous access). */
  readonly anonymous?: boolean;
  readonly appId?: string;
  readonly installationId?: string;
  readonly cloudId?: string;
}

async function fit(options: FitOptions = {}): Promise<Record<string, string>> {
  const user = options.user ?? "viewer";
  const token = await signFit(signer, {
    appId: options.appId ?? APP_ID,
    installationId: options.installationId ?? INSTALLATION_ID,
    cloudId: options.cloudId ?? CLOUD_ID,
    // A Forge function's FIT has no context: its cloud is read from Forge's own API base URL.
    ...(options.noPrincipal || options.anonymous
      ? {}
      : { apiBaseUrl: confluence.url, principal: SAMPLE_ACCOUNT_IDS[user] }),
    context: options.noPrincipal
      ? null
      : {
          localId: options.localId ?? MACRO,
          moduleKey: options.moduleKey ?? FORGE_MODULE_KEYS.macro,
          content: options.content ?? VICTIM_PAGE,
          space: { key: "ENG" },
        },
  });
  return {
    authorization: `Bearer ${token}`,
    ...(options.noPrincipal || options.anonymous ? {} : { "x-forge-oauth-user": confluence.tokenFor(user) }),
  };
}

async function macroCall(method: string, path: string, headers: Record<string, string>, body?: unknown) {
  return world.send(method, `/v1/macro${path}`, {
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function settle(jobId: string, token: string): Promise<string> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const job = (await (
      await world.send("GET", `/v1/jobs/${jobId}`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { state: string };
    if (job.state === "succeeded" || job.state === "failed" || Date.now() > deadline) return job.state;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The editor's real upload flow on a page: ticket → chunk → complete; returns the site and job. */
async function editorPublishes(
  content: { id: string; type: string },
  localId: string,
  html: string,
  user: SampleUser = "editor",
) {
  const bundle = zipOf({ "index.html": html });
  const editor = await fit({ user, content, localId });
  const ticket = (await (
    await macroCall("POST", "/upload-ticket", editor, { size: bundle.length })
  ).json()) as {
    uploadPath: string;
    siteId: string;
  };
  expect(
    (await world.send("PUT", `${ticket.uploadPath}/chunks/1`, { headers: editor, body: bundle })).status,
  ).toBe(200);
  const done = await world.send("POST", `${ticket.uploadPath}/complete`, { headers: editor });
  expect(done.status, await done.clone().text()).toBe(202);
  const { jobId } = (await done.json()) as { jobId: string };
  return { siteId: ticket.siteId, jobId, ticketPath: ticket.uploadPath };
}

beforeAll(async () => {
  signer = await createEphemeralFitSigner();
  jwks = await startForgeJwksServer(signer);
  confluence = await startConfluenceStandIn();
  world = await startWorld(
    {
      FORGE_JWKS_URL: jwks.jwksUrl,
      ALLOWED_FORGE_APP_IDS: `${APP_ID},${SIBLING_APP_ID}`,
      CONTROL_SHARED_SECRET: SECRET,
    },
    { entry: "production" },
  );
  victim.tenant = (
    await ensureTenant(world.db, { forgeAppId: APP_ID, cloudId: CLOUD_ID, installationId: INSTALLATION_ID })
  ).id;
  const admin = await issueToken(
    victim.tenant,
    ["sites:read", "sites:write", "tokens:manage", "tenant:admin"],
    "victim admin",
  );
  victim.adminToken = admin.token;
  victim.tokenId = (await issueToken(victim.tenant, ["sites:read"], "victim bystander")).record.id;
  narrowToken = (await issueToken(victim.tenant, ["tokens:manage"], "victim narrow")).token;
  const attackerTenant = (
    await ensureTenant(world.db, {
      forgeAppId: APP_ID,
      cloudId: OTHER_CLOUD_ID,
      installationId: OTHER_INSTALLATION_ID,
    })
  ).id;
  attackerToken = (
    await issueToken(
      attackerTenant,
      ["sites:read", "sites:write", "tokens:manage", "tenant:admin"],
      "attacker",
    )
  ).token;

  // The victim's sites: one shown on an ordinary page, one on a page only its editor may read (set up
  // while the editor may, then restricted again), one published from the CLI and shown nowhere.
  const bound = await editorPublishes(VICTIM_PAGE, MACRO, "<h1>victim page site</h1>");
  victim.boundSite = bound.siteId;
  victim.jobId = bound.jobId;
  victim.ticketPath = bound.ticketPath;
  // (By the page's owner, "admin" here: the attacking editor's own Confluence answers must not be
  // cached from the set-up — a revoked permission takes up to 60 s to be seen, by design.)
  confluence.setPermission("admin", RESTRICTED_PAGE_ID, ["read", "update"]);
  const restricted = await editorPublishes(
    RESTRICTED_PAGE,
    "restricted-macro",
    "<h1>restricted site</h1>",
    "admin",
  );
  victim.restrictedSite = restricted.siteId;
  confluence.setPermission("admin", RESTRICTED_PAGE_ID, []);
  const cli = await world.send("POST", "/v1/sites/new/versions", {
    body: zipOf({ "index.html": "<h1>cli site</h1>" }),
    headers: { authorization: `Bearer ${victim.adminToken}`, "content-type": "application/zip" },
  });
  victim.cliSite = ((await cli.json()) as { siteId: string }).siteId;
  const accepted = await world.send("POST", "/v1/tenant/accepted-findings", {
    body: JSON.stringify(VICTIM_ACCEPTED),
    headers: { authorization: `Bearer ${victim.adminToken}`, "content-type": "application/json" },
  });
  expect(accepted.status).toBe(201);
  const monitor = await world.send("POST", "/v1/monitors", {
    body: JSON.stringify({ name: "Victim orders", url: VICTIM_MONITOR_URL }),
    headers: { authorization: `Bearer ${victim.adminToken}`, "content-type": "application/json" },
  });
  expect(monitor.status).toBe(201);
  victim.monitorId = ((await monitor.json()) as { id: string }).id;
  for (const job of [bound.jobId, restricted.jobId])
    expect(await settle(job, victim.adminToken)).toBe("succeeded");
}, 240_000);

afterAll(async () => {
  await world?.dispose();
  await confluence?.close();
  await jwks?.close();
});

// --- Every operation × every kind of attacker -------------------------------------------------------

type Attacker =
  | "none"
  | "otherTenantToken"
  | "narrowToken"
  | "viewerOfOtherPage"
  | "restrictedPageViewer"
  | "noPrincipal"
  | "anonymousMacroViewer"
  | "nonAdminOnAdminPage"
  | "siblingApp"
  | "reinstalledInstallation"
  | "ciSecret";

const ATTACKERS: Attacker[] = [
  "none",
  "otherTenantToken",
  "narrowToken",
  "viewerOfOtherPage",
  "restrictedPageViewer",
  "noPrincipal",
  "anonymousMacroViewer",
  "nonAdminOnAdminPage",
  "siblingApp",
  "reinstalledInstallation",
  "ciSecret",
];

async function credentialOf(attacker: Attacker): Promise<Record<string, string>> {
  switch (attacker) {
    case "none":
      return {};
    case "otherTenantToken":
      return { authorization: `Bearer ${attackerToken}` };
    case "narrowToken":
      return { authorization: `Bearer ${narrowToken}` };
    case "viewerOfOtherPage":
      return fit({ user: "viewer", content: OTHER_PAGE, localId: "other-macro" });
    case "restrictedPageViewer":
      return fit({ user: "viewer", content: RESTRICTED_PAGE, localId: "restricted-macro" });
    case "noPrincipal":
      return fit({ noPrincipal: true });
    case "anonymousMacroViewer":
      // If anonymous access were ever enabled: no user, the macro's context on the victim's page. It
      // must never pass for the app's own function (register, rotate keys, lifecycle).
      return fit({ anonymous: true });
    case "nonAdminOnAdminPage":
      return fit({ user: "editor", moduleKey: FORGE_MODULE_KEYS.admin, localId: "admin" });
    case "siblingApp":
      return fit({ appId: SIBLING_APP_ID });
    case "reinstalledInstallation":
      return fit({ installationId: REINSTALLED_ID });
    case "ciSecret":
      return { "x-mini-sites-secret": SECRET };
  }
}

interface Expectation {
  /** Acceptable statuses; refusals list their codes. */
  readonly status: number[];
  readonly codes?: string[];
}

const refused = (status: number, ...codes: string[]): Expectation => ({ status: [status], codes });
const OK = (status = 200): Expectation => ({ status: [status] });

/**
 * What each attacker must get from each operation, from the threat model. Routes are named as in
 * the OpenAPI document.
 */
/**
 * Every route this suite's expectations were written for. `expectationFor` throws on any other, so a
 * new route fails the suite until someone has thought through who may call it and added it here.
 */
const ATTACKED_ROUTES: ReadonlySet<string> = new Set([
  "GET /v1/whoami",
  "GET /v1/sites",
  "GET /v1/sites/{site}",
  "GET /v1/sites/{site}/versions",
  "GET /v1/jobs/{job}",
  "POST /v1/sites/{site}/view-url",
  "GET /v1/sites/{site}/versions/{n}/bundle",
  "POST /v1/sites/{site}/versions",
  "POST /v1/sites/{site}/files/missing",
  "POST /v1/sites/{site}/rollback",
  "POST /v1/sites/{site}/disable",
  "POST /v1/sites/{site}/enable",
  "PATCH /v1/sites/{site}",
  "DELETE /v1/sites/{site}",
  "POST /v1/tokens",
  "GET /v1/tokens",
  "DELETE /v1/tokens/{token}",
  "GET /v1/audit",
  "GET /v1/tenant/settings",
  "PUT /v1/tenant/settings",
  "GET /v1/tenant/usage",
  "GET /v1/tenant/accepted-findings",
  "POST /v1/tenant/accepted-findings",
  "DELETE /v1/tenant/accepted-findings/{rule}/{fileHash}",
  "GET /v1/monitors",
  "POST /v1/monitors",
  "GET /v1/monitors/{monitor}",
  "PATCH /v1/monitors/{monitor}",
  "DELETE /v1/monitors/{monitor}",
  "GET /v1/status/monitors",
  "POST /v1/tenants/register",
  "POST /v1/tenants/rotate-key",
  "POST /v1/macro/serve-url",
  "GET /v1/macro/state",
  "GET /v1/macro/versions",
  "GET /v1/macro/accepted-findings",
  "POST /v1/macro/rollback",
  "POST /v1/macro/bind",
  "POST /v1/macro/upload-ticket",
  "PUT /v1/macro/uploads/{ticket}/chunks/{n}",
  "POST /v1/macro/uploads/{ticket}/complete",
  "POST /v1/lifecycle/installed",
  "POST /v1/lifecycle/uninstalling",
  "POST /v1/lifecycle/page-events",
  "POST /v1/lifecycle/personal-data",
  "GET /v1/admin/denials",
  "POST /v1/admin/reconcile",
  "GET /v1/admin/diagnostics",
]);

function expectationFor(attacker: Attacker, method: string, path: string): Expectation {
  const route = `${method} ${path}`;
  if (!ATTACKED_ROUTES.has(route))
    throw new Error(
      `${route} has no expectation in the attack suite: add it to ATTACKED_ROUTES and expectationFor.`,
    );
  const macro = path.startsWith("/v1/macro/");
  const upload = path.startsWith("/v1/macro/uploads/");
  const operator = path.startsWith("/v1/admin/");
  const lifecycle = path.startsWith("/v1/lifecycle/");
  // Tenant keys: the app's own function registers and rotates them (a FIT without a user).
  const appOnly = lifecycle || path.startsWith("/v1/tenants/");
  // The Service status macro's board: its own module only (no attacker here speaks for it).
  const statusBoard = path.startsWith("/v1/status/");
  const tenantRoute = !macro && !operator && !appOnly && !statusBoard;
  if (attacker === "none") return refused(401, "AUTH_MISSING");
  if (attacker === "anonymousMacroViewer") return refused(403, "PRINCIPAL_NOT_ALLOWED", "NO_PRINCIPAL");
  if (attacker === "ciSecret") return operator ? OK() : refused(403, "PRINCIPAL_NOT_ALLOWED");
  if (operator) return refused(403, "PRINCIPAL_NOT_ALLOWED");
  // Lifecycle routes are the Forge functions' own: a FIT without a user for THIS installation is the
  // app's backend itself (only Forge can sign one), and nobody else reaches them.
  if (appOnly) {
    if (attacker !== "noPrincipal") return refused(403, "PRINCIPAL_NOT_ALLOWED");
    // The personal data report also needs the app's system token, which only Forge's trigger carries.
    return route === "POST /v1/lifecycle/personal-data" ? refused(400, "SYSTEM_TOKEN_MISSING") : OK();
  }

  if (statusBoard)
    return attacker === "noPrincipal"
      ? refused(403, "NO_PRINCIPAL")
      : refused(403, "PRINCIPAL_NOT_ALLOWED", "INSTALLATION_MISMATCH");
  if (attacker === "otherTenantToken") {
    if (macro) return refused(403, "PRINCIPAL_NOT_ALLOWED");
    // Anything naming the victim's objects reads as missing; the token's own listings are its own.
    if (/\{(site|job|token|monitor)\}/.test(path)) return refused(404, "NOT_FOUND");
    if (
      route === "POST /v1/tokens" ||
      route === "POST /v1/tenant/accepted-findings" ||
      route === "POST /v1/monitors"
    )
      return OK(201);
    return OK();
  }
  if (attacker === "narrowToken") {
    if (macro) return refused(403, "PRINCIPAL_NOT_ALLOWED");
    if (path.startsWith("/v1/tokens")) return route === "POST /v1/tokens" ? OK(201) : OK();
    if (route === "GET /v1/whoami") return OK();
    return refused(403, "INSUFFICIENT_SCOPE");
  }
  if (attacker === "noPrincipal") return refused(403, "NO_PRINCIPAL", "PRINCIPAL_NOT_ALLOWED");
  if (attacker === "siblingApp")
    // Another app's installation on the same site is another tenant: nothing of the victim's.
    return tenantRoute ? refused(403, "PRINCIPAL_NOT_ALLOWED") : macroForStranger(route, upload);
  if (attacker === "reinstalledInstallation")
    return refused(403, "INSTALLATION_MISMATCH", "PRINCIPAL_NOT_ALLOWED");
  if (attacker === "nonAdminOnAdminPage")
    return macro ? refused(403, "PRINCIPAL_NOT_ALLOWED") : adminOnly(route);
  if (tenantRoute) return refused(403, "PRINCIPAL_NOT_ALLOWED");
  if (attacker === "restrictedPageViewer")
    // Confluence says no before anything is looked up; an upload names a ticket that is not theirs.
    return upload ? refused(404, "NOT_FOUND") : refused(403, "NO_ACCESS");
  // The viewer of another page reaches only that page's (empty) macro.
  return macroForStranger(route, upload);
}

/** A macro whose page has no binding, seen by a viewer who may read it but not edit it. */
function macroForStranger(route: string, upload: boolean): Expectation {
  if (upload) return refused(404, "NOT_FOUND");
  if (route === "POST /v1/macro/serve-url" || route === "GET /v1/macro/state") return OK();
  return refused(403, "NO_ACCESS");
}

/** The admin page, opened by a user Confluence does not call an administrator. */
function adminOnly(route: string): Expectation {
  const adminRoutes = [
    "GET /v1/whoami",
    "GET /v1/sites",
    "GET /v1/sites/{site}",
    "GET /v1/sites/{site}/versions",
    "GET /v1/jobs/{job}",
    "POST /v1/sites/{site}/disable",
    "POST /v1/sites/{site}/enable",
    "PATCH /v1/sites/{site}",
    "DELETE /v1/sites/{site}",
    "POST /v1/tokens",
    "GET /v1/tokens",
    "DELETE /v1/tokens/{token}",
    "GET /v1/audit",
    "GET /v1/tenant/settings",
    "PUT /v1/tenant/settings",
    "GET /v1/tenant/usage",
    "GET /v1/tenant/accepted-findings",
    "POST /v1/tenant/accepted-findings",
    "DELETE /v1/tenant/accepted-findings/{rule}/{fileHash}",
    "GET /v1/monitors",
    "POST /v1/monitors",
    "GET /v1/monitors/{monitor}",
    "PATCH /v1/monitors/{monitor}",
    "DELETE /v1/monitors/{monitor}",
  ];
  return adminRoutes.includes(route) ? refused(403, "NO_ACCESS") : refused(403, "PRINCIPAL_NOT_ALLOWED");
}

function concrete(path: string): string {
  return path
    .replace("{site}", victim.boundSite)
    .replace("{job}", victim.jobId)
    .replace("{token}", victim.tokenId)
    .replace("{monitor}", victim.monitorId)
    .replace("{n}", "1")
    .replace("{rule}/{fileHash}", `${VICTIM_ACCEPTED.ruleId}/${VICTIM_ACCEPTED.fileHash}`)
    .replace("/v1/macro/uploads/{ticket}", victim.ticketPath);
}

function bodyFor(method: string, path: string): { body?: string | Uint8Array; type?: string } {
  if (method === "GET" || method === "DELETE") return {};
  if (path === "/v1/sites/{site}/versions")
    return { body: zipOf({ "index.html": "<p>attack</p>" }), type: "application/zip" };
  if (path.endsWith("/chunks/{n}")) return { body: new Uint8Array(3), type: "application/octet-stream" };
  const json: Record<string, unknown> = {
    "/v1/sites/{site}/rollback": { version: 1 },
    "/v1/sites/{site}/files/missing": { files: [] },
    "/v1/sites/{site}": { enabled: false },
    "/v1/tokens": { label: "stolen", scopes: ["tokens:manage"] },
    "/v1/macro/bind": { siteId: victim.boundSite },
    "/v1/macro/rollback": { version: 1 },
    "/v1/macro/upload-ticket": { size: 10 },
    "/v1/macro/serve-url": {},
    "/v1/tenant/settings": { cdnAllowList: ["https://cdn.attacker.example"], connectAllowList: [] },
    "/v1/tenant/accepted-findings": { ruleId: "github-token", fileHash: "a".repeat(64) },
    "/v1/lifecycle/installed": { eventType: "avi:forge:installed:app" },
    "/v1/monitors": { name: "attack", url: "https://attacker.example.com/" },
    // Editing the victim's monitor would point OUR Worker at the attacker's URL.
    "/v1/monitors/{monitor}": { name: "attack", url: "https://attacker.example.com/" },
    "/v1/tenants/register": {},
    "/v1/tenants/rotate-key": {},
    "/v1/lifecycle/page-events": {
      eventType: "avi:confluence:trashed:page",
      content: { id: "9999", type: "page" },
    },
  };
  return path in json ? { body: JSON.stringify(json[path]), type: "application/json" } : {};
}

describe("every operation of the OpenAPI document, against every kind of attacker", () => {
  it("answers each with the documented refusal and none of the victim's data", async () => {
    const doc = (await (await world.send("GET", "/v1/openapi.json")).json()) as {
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => (op.security ?? []).length > 0)
        .map(([method]) => ({ method: method.toUpperCase(), path })),
    );
    // Every route with a policy that names callers is in the document, so every one is attacked.
    expect(operations.length).toBe(ROUTE_POLICIES.filter((p) => !p.allow.public).length);
    const secrets = [
      victim.boundSite,
      victim.restrictedSite,
      victim.cliSite,
      victim.adminToken,
      "/__ms/enter/",
      "PK\u0003\u0004",
      VICTIM_ACCEPTED.note,
      VICTIM_MONITOR_URL,
      victim.monitorId,
    ];
    const failures: string[] = [];
    for (const attacker of ATTACKERS) {
      for (const { method, path } of operations) {
        // The app's own uninstall hook would (rightly) start erasing the victim: attacked separately below.
        if (attacker === "noPrincipal" && path === "/v1/lifecycle/uninstalling") continue;
        const expected = expectationFor(attacker, method, path);
        const { body, type } = bodyFor(method, path);
        const response = await world.send(method, concrete(path), {
          headers: {
            ...(await credentialOf(attacker)),
            ...(type === undefined ? {} : { "content-type": type }),
          },
          ...(body === undefined ? {} : { body }),
        });
        const text = await response.text();
        const label = `${attacker} → ${method} ${path}: ${response.status} ${text.slice(0, 160)}`;
        if (!expected.status.includes(response.status)) failures.push(`status: ${label}`);
        else if (expected.codes !== undefined) {
          const code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? "";
          if (!expected.codes.includes(code)) failures.push(`code: ${label}`);
        }
        for (const secret of secrets)
          if (text.includes(secret)) failures.push(`leak of ${secret.slice(0, 12)}: ${label}`);
      }
    }
    expect(failures.join("\n")).toBe("");
    // And the victim's site is untouched: still enabled, still live, still bound.
    const site = (await (
      await world.send("GET", `/v1/sites/${victim.boundSite}`, {
        headers: { authorization: `Bearer ${victim.adminToken}` },
      })
    ).json()) as { enabled: boolean; liveVersion: number };
    expect(site).toMatchObject({ enabled: true, liveVersion: 1 });
    // … and the victim's accepted finding is still there, and nobody else's was added to it.
    const findings = (await (
      await world.send("GET", "/v1/tenant/accepted-findings", {
        headers: { authorization: `Bearer ${victim.adminToken}` },
      })
    ).json()) as { findings: { fileHash: string }[] };
    expect(findings.findings.map((f) => f.fileHash)).toEqual([VICTIM_ACCEPTED.fileHash]);
    // … and the victim's monitor is still there, alone.
    const monitors = (await (
      await world.send("GET", "/v1/monitors", { headers: { authorization: `Bearer ${victim.adminToken}` } })
    ).json()) as { monitors: { id: string; name: string; url: string }[] };
    expect(monitors.monitors.map((m) => m.id)).toEqual([victim.monitorId]);
    // … unedited: nobody renamed it or pointed it elsewhere.
    expect(monitors.monitors[0]).toMatchObject({ name: "Victim orders", url: VICTIM_MONITOR_URL });
  }, 300_000);
});

describe("accepted findings, as the editor's check reads them", () => {
  it("an editor of the page gets rule and file hash only; a viewer gets nothing", async () => {
    const editor = await fit({ user: "editor", content: VICTIM_PAGE, localId: MACRO });
    const response = await macroCall("GET", "/accepted-findings", editor);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      findings: [{ ruleId: VICTIM_ACCEPTED.ruleId, fileHash: VICTIM_ACCEPTED.fileHash }],
    });
    const viewer = await fit({ user: "viewer", content: VICTIM_PAGE, localId: MACRO });
    const refused = await macroCall("GET", "/accepted-findings", viewer);
    expect(refused.status).toBe(403);
    expect(await refused.text()).not.toContain(VICTIM_ACCEPTED.fileHash);
  });
});

describe("the Service status macro", () => {
  it("shows a viewer of its page the tenant's monitors without their URLs; a restricted page's viewer and another tenant get nothing", async () => {
    const viewer = await fit({ user: "viewer", moduleKey: FORGE_MODULE_KEYS.status, localId: "status" });
    const board = await world.send("GET", "/v1/status/monitors", { headers: viewer });
    expect(board.status).toBe(200);
    const text = await board.text();
    expect(JSON.parse(text)).toMatchObject({ monitors: [{ id: victim.monitorId, name: "Victim orders" }] });
    expect(text).not.toContain(VICTIM_MONITOR_URL);
    const restricted = await fit({
      user: "viewer",
      moduleKey: FORGE_MODULE_KEYS.status,
      content: RESTRICTED_PAGE,
      localId: "status",
    });
    const refusedBoard = await world.send("GET", "/v1/status/monitors", { headers: restricted });
    expect(refusedBoard.status).toBe(403);
    expect(await refusedBoard.text()).not.toContain("Victim orders");
    const stranger = await fit({
      user: "viewer",
      moduleKey: FORGE_MODULE_KEYS.status,
      localId: "status",
      cloudId: OTHER_CLOUD_ID,
      installationId: OTHER_INSTALLATION_ID,
    });
    const theirs = await world.send("GET", "/v1/status/monitors", { headers: stranger });
    expect(theirs.status).toBe(200);
    expect(await theirs.text()).not.toContain("Victim orders");
    // The status macro's FIT reaches nothing else: not the monitors API, not the Macro API.
    for (const [method, path] of [
      ["GET", "/v1/monitors"],
      ["GET", `/v1/monitors/${victim.monitorId}`],
      ["PATCH", `/v1/monitors/${victim.monitorId}`],
      ["GET", "/v1/macro/state"],
      ["GET", "/v1/sites"],
    ] as const)
      expect((await world.send(method, path, { headers: viewer })).status, path).toBe(403);
  });
});

describe("the admin page, for a real Confluence administrator", () => {
  it("manages the tenant's sites and tokens, but gets neither a grant nor the bytes of any site", async () => {
    const admin = await fit({ user: "admin", moduleKey: FORGE_MODULE_KEYS.admin, localId: "admin" });
    const list = await world.send("GET", "/v1/sites", { headers: admin });
    expect(list.status).toBe(200);
    expect(await list.text()).toContain(victim.boundSite);
    for (const [method, path] of [
      ["POST", `/v1/sites/${victim.restrictedSite}/view-url`],
      ["GET", `/v1/sites/${victim.restrictedSite}/versions/1/bundle`],
      ["POST", `/v1/sites/${victim.restrictedSite}/versions`],
    ] as const) {
      const response = await world.send(method, path, { headers: admin });
      expect(response.status, `${method} ${path}`).toBe(403);
      expect(await response.text()).not.toContain("/__ms/");
    }
  });
});

// --- Attacks that take more than one request ------------------------------------------------------

describe("lifecycle events", () => {
  it("cannot be sent for an installation by anyone but that installation's Forge functions", async () => {
    // A user's FIT (any module) and another installation's function FIT cannot uninstall the victim.
    for (const headers of [
      await fit({ user: "admin" }),
      await fit({
        noPrincipal: true,
        cloudId: "55555555-6666-4777-8888-999999999999",
        installationId: REINSTALLED_ID,
      }),
    ]) {
      const response = await world.send("POST", "/v1/lifecycle/uninstalling", { headers });
      expect([403, 200]).toContain(response.status);
    }
    const site = await world.send("GET", `/v1/sites/${victim.boundSite}`, {
      headers: { authorization: `Bearer ${victim.adminToken}` },
    });
    expect(site.status).toBe(200);
  });
});

describe("binding never takes over a site", () => {
  it("refuses to bind a CLI site (shown nowhere) or a site shown only on a page the editor cannot read", async () => {
    const editor = await fit({ user: "editor", content: OTHER_PAGE, localId: "takeover" });
    for (const siteId of [victim.cliSite, victim.restrictedSite]) {
      const response = await macroCall("POST", "/bind", editor, { siteId });
      expect(response.status).toBe(404);
      expect(await response.text()).not.toContain("/__ms/");
    }
    // The editor's macro is still unbound, and an upload through it makes its OWN site.
    const state = (await (await macroCall("GET", "/state", editor)).json()) as { bound: boolean };
    expect(state.bound).toBe(false);
    const ticket = (await (await macroCall("POST", "/upload-ticket", editor, { size: 10 })).json()) as {
      siteId: string;
    };
    expect([victim.cliSite, victim.restrictedSite, victim.boundSite]).not.toContain(ticket.siteId);
  });

  it("forks, never re-points, a site the editor may see on another page", async () => {
    const editor = await fit({ user: "editor", content: OTHER_PAGE, localId: "fork-here" });
    const response = await macroCall("POST", "/bind", editor, { siteId: victim.boundSite });
    expect(response.status).toBe(200);
    const bound = (await response.json()) as { siteId: string; forkedFrom: string };
    expect(bound.forkedFrom).toBe(victim.boundSite);
    expect(bound.siteId).not.toBe(victim.boundSite);
    // The original page still shows the original site.
    const served = (await (await macroCall("POST", "/serve-url", await fit({ user: "viewer" }))).json()) as {
      siteId: string;
    };
    expect(served.siteId).toBe(victim.boundSite);
  });
});

describe("upload tickets", () => {
  it("cannot be replayed by another user, on another page, or across installations", async () => {
    for (const headers of [
      await fit({ user: "viewer" }),
      await fit({ user: "editor", content: OTHER_PAGE }),
      await fit({ user: "editor", cloudId: OTHER_CLOUD_ID, installationId: OTHER_INSTALLATION_ID }),
    ]) {
      const put = await world.send("PUT", `${victim.ticketPath}/chunks/1`, {
        headers,
        body: new Uint8Array(3),
      });
      expect([404, 403]).toContain(put.status);
    }
  });
});

describe("publishing by hash", () => {
  it("never takes another tenant's file by its hash, and does not say whether another tenant has it", async () => {
    const html = "<h1>cli site</h1>";
    const file = {
      path: "index.html",
      hash: await assetHash("index.html", strToU8(html)),
      size: html.length,
    };
    const attacker = { authorization: `Bearer ${attackerToken}` };
    const own = await world.send("POST", "/v1/sites/new/versions", {
      body: zipOf({ "index.html": "<p>attacker's own</p>" }),
      headers: { ...attacker, "content-type": "application/zip" },
    });
    const ownSite = ((await own.json()) as { siteId: string }).siteId;
    const asked = await world.send("POST", `/v1/sites/${ownSite}/files/missing`, {
      body: JSON.stringify({ files: [file] }),
      headers: { ...attacker, "content-type": "application/json" },
    });
    expect(await asked.json()).toEqual({ missing: [file.hash] });
    const form = new FormData();
    form.append("manifest", JSON.stringify([file]));
    const request = new Request("http://x/", { method: "POST", body: form });
    const response = await world.send("POST", `/v1/sites/${ownSite}/versions`, {
      body: new Uint8Array(await request.arrayBuffer()),
      headers: { ...attacker, "content-type": request.headers.get("content-type") as string },
    });
    expect(response.status).toBe(409);
    const text = await response.text();
    expect(JSON.parse(text)).toMatchObject({ error: { code: "FILES_MISSING" } });
    expect(text).not.toContain("cli site");
  });
});

describe("a flood of anonymous requests", () => {
  it("appends nothing to any audit chain and does not stop a real publish running at the same time", async () => {
    const chainRows = async () =>
      (await world.sql<{ n: number }>("SELECT COUNT(*) AS n FROM audit_entries"))[0]?.n ?? 0;
    const before = await chainRows();
    const flood = Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        world.send("GET", "/v1/sites", {
          headers: i % 2 === 0 ? {} : { authorization: `Bearer forged.${i}.token` },
        }),
      ),
    );
    const publish = world.send("POST", `/v1/sites/${victim.cliSite}/versions`, {
      body: zipOf({ "index.html": "<h1>during the flood</h1>" }),
      headers: { authorization: `Bearer ${victim.adminToken}`, "content-type": "application/zip" },
    });
    const [responses, published] = await Promise.all([flood, publish]);
    expect(responses.every((r) => r.status === 401)).toBe(true);
    expect(published.status).toBe(202);
    // Exactly the publish's own records were appended (site.publish), none for the 300 denials.
    const appended = (await chainRows()) - before;
    expect(appended).toBeLessThanOrEqual(2);
    const counts = (await (
      await world.send("GET", "/v1/admin/denials", { headers: { "x-mini-sites-secret": SECRET } })
    ).json()) as { windows: { count: number }[] };
    expect(counts.windows.reduce((n, w) => n + w.count, 0)).toBeGreaterThanOrEqual(1);
    const verification = (await (
      await world.send("GET", "/v1/audit?limit=1", {
        headers: { authorization: `Bearer ${victim.adminToken}` },
      })
    ).json()) as { verification: { ok: boolean } };
    expect(verification.verification.ok).toBe(true);
  }, 120_000);
});

describe("multipart bodies built to burn CPU", () => {
  /**
   * The status the Worker answered, or "cut" when it closed the connection while the rest of the body
   * was still being sent — it refused early, which is the point (the client sees EPIPE/ECONNRESET).
   */
  const post = async (body: Uint8Array, boundary = "x-boundary"): Promise<number | "cut"> => {
    try {
      const response = await world.send("POST", `/v1/sites/${victim.cliSite}/versions`, {
        body,
        headers: {
          authorization: `Bearer ${victim.adminToken}`,
          "content-type": `multipart/form-data; boundary=${boundary}`,
        },
      });
      return response.status;
    } catch (error) {
      const code = (error as { cause?: { code?: string } }).cause?.code;
      if (code === "EPIPE" || code === "ECONNRESET" || code === "UND_ERR_SOCKET") return "cut";
      throw error;
    }
  };
  const refusedEarly = (outcome: number | "cut") => outcome === "cut" || (outcome >= 400 && outcome < 500);

  it("refuses a 16 MiB body with no boundary at once, and a header block that never ends", async () => {
    expect(refusedEarly(await post(new Uint8Array(16 * 1024 * 1024).fill(0x41)))).toBe(true);
    const head = strToU8('--x-boundary\r\nContent-Disposition: form-data; name="a"\r\nX: ');
    const endless = new Uint8Array(head.length + 8 * 1024 * 1024).fill(0x61);
    endless.set(head);
    expect(refusedEarly(await post(endless))).toBe(true);
    // The Worker is still answering normally.
    expect((await world.send("GET", "/healthz")).status).toBe(200);
  }, 120_000);
});
