/**
 * The flip (control/src/publish/store.ts flipLive) re-checks, inside its own transaction, that the
 * version relies on no accepted finding its tenant has since withdrawn (version_acceptances, migration
 * 0012): an admin who withdraws "that was a secret after all" while a publish or a rollback job is
 * provisioning still keeps the version from going live — the request-time check alone would not.
 */

import type { TenantShortId } from "@mini-sites/core";
import { describe, expect, it } from "vitest";
import { flipLive } from "../../src/publish/store.ts";
import { newTenant, siteWithVersions, testEnv } from "./helpers.ts";

const db = testEnv.DB;
const HASH = "c".repeat(64);

async function accept(tenant: TenantShortId) {
  await db
    .prepare(
      "INSERT INTO accepted_findings (tenant_id, rule_id, file_hash, accepted_by, accepted_at) VALUES (?, 'github-token', ?, 'test', 1)",
    )
    .bind(tenant, HASH)
    .run();
}

async function relyOn(tenant: TenantShortId, site: string, version: number) {
  await db
    .prepare(
      "INSERT INTO version_acceptances (tenant_id, site_id, version, rule_id, file_hash) VALUES (?, ?, ?, 'github-token', ?)",
    )
    .bind(tenant, site, version, HASH)
    .run();
}

const liveOf = async (site: string) =>
  (
    await db
      .prepare("SELECT live_version FROM sites WHERE id = ?")
      .bind(site)
      .first<{ live_version: number }>()
  )?.live_version;

describe("flipLive and withdrawn acceptances", () => {
  it("refuses a rollback flip once an acceptance the version relied on is withdrawn, and changes nothing", async () => {
    const tenant = await newTenant();
    const { site } = await siteWithVersions(tenant, 2, { live: 1 });
    await accept(tenant);
    await relyOn(tenant, site.id, 1);
    // v2 goes live (a publish), v1 is superseded: the rollback target.
    await db
      .prepare("UPDATE versions SET status = 'provisioning' WHERE site_id = ? AND number = 2")
      .bind(site.id)
      .run();
    expect(
      await flipLive(
        db,
        tenant,
        site.id,
        2,
        { from: ["provisioning"], onlyForward: true, reason: "publish" },
        2,
      ),
    ).toBe("flipped");

    await db.prepare("DELETE FROM accepted_findings WHERE tenant_id = ?").bind(tenant).run();
    const rollback = { from: ["superseded"] as const, onlyForward: false, reason: "rollback" as const };
    expect(await flipLive(db, tenant, site.id, 1, rollback, 3)).toBe("acceptance-withdrawn");
    expect(await liveOf(site.id)).toBe(2);
    const statuses = await db
      .prepare("SELECT number, status FROM versions WHERE site_id = ? ORDER BY number")
      .bind(site.id)
      .all<{ number: number; status: string }>();
    expect(statuses.results).toEqual([
      { number: 1, status: "superseded" },
      { number: 2, status: "live" },
    ]);

    // Accepted again (by this tenant), the same flip goes through.
    await accept(tenant);
    expect(await flipLive(db, tenant, site.id, 1, rollback, 4)).toBe("flipped");
    expect(await liveOf(site.id)).toBe(1);
  });

  it("refuses a publish flip the same way, and another tenant's acceptance does not count", async () => {
    const tenant = await newTenant();
    const other = await newTenant();
    const { site } = await siteWithVersions(tenant, 1);
    await relyOn(tenant, site.id, 1);
    await accept(other);
    await db
      .prepare("UPDATE versions SET status = 'provisioning' WHERE site_id = ? AND number = 1")
      .bind(site.id)
      .run();
    const publish = { from: ["provisioning"] as const, onlyForward: true, reason: "publish" as const };
    expect(await flipLive(db, tenant, site.id, 1, publish, 2)).toBe("acceptance-withdrawn");
    expect(await liveOf(site.id)).toBeNull();
    await accept(tenant);
    expect(await flipLive(db, tenant, site.id, 1, publish, 3)).toBe("flipped");
  });
});
