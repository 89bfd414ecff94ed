/**
 * Accepted findings end to end (DESIGN §5, issue 8 item 3): a publish refused for a secret names the
 * rule and the file's hash; a tenant admin accepts exactly that (audited); the same bytes then publish
 * and go live, reported as accepted — while one changed byte, another file, another tenant or a
 * withdrawn acceptance are refused again. Nothing here is a switch that turns a rule off.
 */

import { createHash } from "node:crypto";
import type { TenantShortId } from "@mini-sites/core";
import { strToU8, zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { secretFixtures } from "../../../core/test/fixtures/secret-fixtures.ts";
import { startWorld, type World } from "./harness.ts";

let world: World;
beforeAll(async () => {
  world = await startWorld({ RATE_PUBLISHES_PER_WINDOW: "100" });
}, 120_000);
afterAll(async () => {
  await world?.dispose();
});

const GITHUB = secretFixtures().find((f) => f.expectRule === "github-token")?.secret as string;
/** A documentation example the author and an admin agree is not a live credential. */
const DOCS_JS = `// Example from the API guide:\nfetch("/x",{headers:{Authorization:"token ${GITHUB}"}});\n`;
const INDEX = '<!doctype html><script src="docs.js"></script><p>docs</p>';

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

interface Finding {
  rule: string;
  path: string;
  fileHash: string;
  severity: string;
}

async function publish(tenant: TenantShortId, site: string, files: Record<string, string>) {
  const body = zipSync(Object.fromEntries(Object.entries(files).map(([p, t]) => [p, strToU8(t)])));
  const response = await world.call(tenant, "POST", `/v1/sites/${site}/versions`, {
    body,
    headers: { "content-type": "application/zip" },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const refusedFindings = (body: Record<string, unknown>) =>
  ((body.error as { code: string; findings: Finding[] }) ?? { findings: [] }).findings;

async function accept(tenant: TenantShortId, ruleId: string, fileHash: string, note?: string) {
  const response = await world.call(tenant, "POST", "/v1/tenant/accepted-findings", {
    body: JSON.stringify({ ruleId, fileHash, ...(note === undefined ? {} : { note }) }),
    headers: { "content-type": "application/json" },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function settled(tenant: TenantShortId, jobId: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const job = (await (await world.call(tenant, "GET", `/v1/jobs/${jobId}`)).json()) as { state: string };
    if (job.state === "succeeded" || job.state === "failed" || Date.now() > deadline) return job.state;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

describe("accepted findings", () => {
  it("a refusal names rule and file hash; accepting exactly that lets those bytes go live, audited", async () => {
    const tenant = await world.newTenant();
    const refused = await publish(tenant, "new", { "index.html": INDEX, "docs.js": DOCS_JS });
    expect(refused.status).toBe(422);
    const [finding] = refusedFindings(refused.body);
    expect(finding).toMatchObject({ rule: "github-token", path: "docs.js", fileHash: sha256(DOCS_JS) });
    expect(JSON.stringify(refused.body)).not.toContain(GITHUB);

    const first = await accept(tenant, "github-token", sha256(DOCS_JS), "Example token from the API guide");
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ ruleId: "github-token", note: "Example token from the API guide" });
    // Accepting again changes nothing and keeps the first acceptance.
    const again = await accept(tenant, "github-token", sha256(DOCS_JS), "another note");
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ note: "Example token from the API guide" });

    const published = await publish(tenant, "new", { "index.html": INDEX, "docs.js": DOCS_JS });
    expect(published.status).toBe(202);
    expect(published.body.accepted).toEqual([
      expect.objectContaining({ rule: "github-token", path: "docs.js", fileHash: sha256(DOCS_JS) }),
    ]);
    expect(JSON.stringify(published.body)).not.toContain(GITHUB);
    expect(await settled(tenant, published.body.jobId as string)).toBe("succeeded");

    const audited = await world.sql<{ action: string; detail: string }>(
      "SELECT action, detail FROM audit_entries WHERE tenant_id = ? AND action LIKE 'finding.%' ORDER BY seq",
      tenant,
    );
    expect(audited.map((a) => a.action)).toEqual(["finding.accept"]);
    // The publish's own audit record names the acceptance that let it through.
    const [publishRecord] = await world.sql<{ detail: string }>(
      "SELECT detail FROM audit_entries WHERE tenant_id = ? AND action = 'site.publish' ORDER BY seq DESC LIMIT 1",
      tenant,
    );
    expect(JSON.parse(publishRecord?.detail ?? "{}").accepted).toEqual([
      { rule: "github-token", path: "docs.js", fileHash: sha256(DOCS_JS) },
    ]);
    expect(JSON.parse(audited[0]?.detail ?? "{}")).toMatchObject({
      ruleId: "github-token",
      fileHash: sha256(DOCS_JS),
    });
  });

  it("is for those exact bytes, in that tenant: a changed byte, another file or another tenant is refused", async () => {
    const tenant = await world.newTenant();
    expect((await accept(tenant, "github-token", sha256(DOCS_JS))).status).toBe(201);

    const changed = `${DOCS_JS} `;
    const oneByte = await publish(tenant, "new", { "index.html": INDEX, "docs.js": changed });
    expect(oneByte.status).toBe(422);
    expect(refusedFindings(oneByte.body)[0]).toMatchObject({ fileHash: sha256(changed) });

    // The accepted file next to another file holding the same token: only the other one refuses.
    const other = `const t = "${GITHUB}";\n`;
    const twoFiles = await publish(tenant, "new", { "index.html": INDEX, "docs.js": DOCS_JS, "x.js": other });
    expect(twoFiles.status).toBe(422);
    expect(refusedFindings(twoFiles.body).map((f) => f.path)).toEqual(["x.js"]);

    const stranger = await world.newTenant();
    expect((await publish(stranger, "new", { "index.html": INDEX, "docs.js": DOCS_JS })).status).toBe(422);
  });

  it("withdrawn, the same bytes are refused again; the withdrawal is audited", async () => {
    const tenant = await world.newTenant();
    const hash = sha256(DOCS_JS);
    await accept(tenant, "github-token", hash);
    // A rule id this release does not know (renamed since) can still be withdrawn.
    await world.sql(
      "INSERT INTO accepted_findings (tenant_id, rule_id, file_hash, accepted_by, accepted_at) VALUES (?, 'retired-rule', ?, 'test', 1)",
      tenant,
      hash,
    );
    const retired = await world.call(tenant, "DELETE", `/v1/tenant/accepted-findings/retired-rule/${hash}`);
    expect(await retired.json()).toEqual({ withdrawn: true });
    const withdrawn = await world.call(tenant, "DELETE", `/v1/tenant/accepted-findings/github-token/${hash}`);
    expect(await withdrawn.json()).toEqual({ withdrawn: true });
    const repeat = await world.call(tenant, "DELETE", `/v1/tenant/accepted-findings/github-token/${hash}`);
    expect(await repeat.json()).toEqual({ withdrawn: false });
    expect((await publish(tenant, "new", { "index.html": INDEX, "docs.js": DOCS_JS })).status).toBe(422);
    const listed = (await (await world.call(tenant, "GET", "/v1/tenant/accepted-findings")).json()) as {
      findings: unknown[];
    };
    expect(listed.findings).toEqual([]);
    const actions = await world.sql<{ action: string }>(
      "SELECT action FROM audit_entries WHERE tenant_id = ? AND action LIKE 'finding.%' ORDER BY seq",
      tenant,
    );
    expect(actions.map((a) => a.action)).toEqual([
      "finding.accept",
      "finding.unaccept",
      "finding.unaccept",
      "finding.unaccept",
    ]);
  });

  it("a version that relied on a since-withdrawn acceptance cannot be rolled back to; accepted again, it can", async () => {
    const tenant = await world.newTenant();
    const hash = sha256(DOCS_JS);
    await accept(tenant, "github-token", hash);
    const first = await publish(tenant, "new", { "index.html": INDEX, "docs.js": DOCS_JS });
    expect(first.status).toBe(202);
    expect(await settled(tenant, first.body.jobId as string)).toBe("succeeded");
    const site = first.body.siteId as string;
    const second = await publish(tenant, site, { "index.html": "<p>without the docs</p>" });
    expect(await settled(tenant, second.body.jobId as string)).toBe("succeeded");
    // A clean version published while the acceptance stood records nothing and rolls back freely.
    const clean = await world.sql<{ n: number }>(
      "SELECT COUNT(*) AS n FROM version_acceptances WHERE tenant_id = ? AND version = 2",
      tenant,
    );
    expect(clean[0]?.n).toBe(0);

    await world.call(tenant, "DELETE", `/v1/tenant/accepted-findings/github-token/${hash}`);
    const rollback = (version: number) =>
      world.call(tenant, "POST", `/v1/sites/${site}/rollback`, {
        body: JSON.stringify({ version }),
        headers: { "content-type": "application/json" },
      });
    const refused = await rollback(1);
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({
      error: {
        code: "ACCEPTANCE_WITHDRAWN",
        detail: { withdrawn: [{ ruleId: "github-token", fileHash: hash }] },
      },
    });
    const [still] = await world.sql<{ live_version: number }>(
      "SELECT live_version FROM sites WHERE id = ?",
      site,
    );
    expect(still?.live_version).toBe(2);

    // Another tenant accepting the same rule and bytes changes nothing for this one.
    await accept(await world.newTenant(), "github-token", hash);
    expect((await rollback(1)).status).toBe(409);

    await accept(tenant, "github-token", hash);
    const allowed = await rollback(1);
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toMatchObject({ version: 1, live: true });
  });

  it("refuses what is not a rule, not a SHA-256, or past the tenant's cap, with typed errors", async () => {
    const tenant = await world.newTenant();
    const hash = sha256(DOCS_JS);
    for (const [ruleId, fileHash] of [
      ["no-such-rule", hash],
      ["github-token", hash.toUpperCase()],
      ["github-token", hash.slice(1)],
      ["github-token", "*"],
    ] as const) {
      const refused = await accept(tenant, ruleId, fileHash);
      expect(refused.status, `${ruleId} ${fileHash}`).toBe(400);
      expect(refused.body).toMatchObject({ error: { code: "INVALID_REQUEST" } });
    }
    const control = await accept(tenant, "github-token", hash, "line\u0007bell");
    expect(control.status).toBe(400);

    // At the cap (filled directly), one more is refused and nothing is written.
    const rows = Array.from({ length: 500 }, (_, i) => sha256(`filler ${i}`));
    for (let i = 0; i < rows.length; i += 50)
      await world.sql(
        `INSERT INTO accepted_findings (tenant_id, rule_id, file_hash, accepted_by, accepted_at) VALUES ${rows
          .slice(i, i + 50)
          .map(() => "(?, 'github-token', ?, 'test', 1)")
          .join(", ")}`,
        ...rows.slice(i, i + 50).flatMap((h) => [tenant, h]),
      );
    const full = await accept(tenant, "github-token", hash);
    expect(full.status).toBe(403);
    expect(full.body).toMatchObject({ error: { code: "QUOTA_ACCEPTED_FINDINGS" } });
    const [count] = await world.sql<{ n: number }>(
      "SELECT COUNT(*) AS n FROM accepted_findings WHERE tenant_id = ?",
      tenant,
    );
    expect(count?.n).toBe(500);
  });
});
