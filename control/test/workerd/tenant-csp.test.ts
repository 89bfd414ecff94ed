/**
 * The gateway's copy of a tenant's CSP allow-lists (Workers KV, read by the dispatch Worker) follows
 * D1's record, in workerd with a real KV namespace: a save writes it before answering and fails
 * loudly when it cannot, erasing the tenant deletes it (and waits for it), and a reconcile pass
 * repairs a copy that drifted. Failures are injected by wrapping the real namespace.
 */

import { env } from "cloudflare:test";
import { decodeTenantAllowLists, type TenantShortId } from "@mini-sites/core";
import { describe, expect, it } from "vitest";
import type { ControlEnv, KvNamespace } from "../../src/env.ts";
import { InMemoryHostingProvider } from "../../src/hosting/memory.ts";
import { eraseTenant } from "../../src/lifecycle/erase.ts";
import { reconcilePass } from "../../src/lifecycle/reconcile.ts";
import { as, expectError, newTenant, principalFor } from "./helpers.ts";

const JSON_HEADERS = { "content-type": "application/json" };
const kv = env.TENANT_CSP as KvNamespace;

/** The real namespace, with writes (put and delete) failing while `failing.on` is true. */
function failingWrites(): { store: KvNamespace; failing: { on: boolean } } {
  const failing = { on: true };
  const refuse = async () => {
    if (failing.on) throw new Error("KV PUT failed: 503 Service Unavailable");
  };
  return {
    failing,
    store: {
      get: (key, options) => kv.get(key, options),
      put: async (key, value) => {
        await refuse();
        await kv.put(key, value);
      },
      delete: async (key) => {
        await refuse();
        await kv.delete(key);
      },
    },
  };
}

function save(
  tenant: TenantShortId,
  lists: { cdn: string[]; connect: string[] },
  environment: ControlEnv = env,
) {
  return as(principalFor(tenant, ["tenant:admin"]), environment)("/v1/tenant/settings", {
    method: "PUT",
    headers: JSON_HEADERS,
    body: JSON.stringify({ cdnAllowList: lists.cdn, connectAllowList: lists.connect }),
  });
}

async function copyOf(tenant: TenantShortId) {
  const text = await kv.get(tenant, { type: "text" });
  return text === null ? null : decodeTenantAllowLists(text).lists;
}

async function auditDetails(tenant: TenantShortId, action: string) {
  const { results } = await env.DB.prepare(
    "SELECT detail FROM audit_entries WHERE tenant_id = ? AND action = ? ORDER BY seq",
  )
    .bind(tenant, action)
    .all<{ detail: string }>();
  return results.map((row) => JSON.parse(row.detail) as Record<string, unknown>);
}

describe("saving allow-lists gives the gateway its copy", () => {
  it("writes the tenant's KV entry, keyed by its short id, before answering 200", async () => {
    const tenant = await newTenant();
    const put = await save(tenant, { cdn: ["https://cdn.example.com"], connect: ["wss://live.example.com"] });
    expect(put.status).toBe(200);
    expect(await copyOf(tenant)).toEqual({
      cdn: ["https://cdn.example.com"],
      connect: ["wss://live.example.com"],
    });
    expect(await auditDetails(tenant, "tenant.settings")).toEqual([
      expect.objectContaining({ applied: true }),
    ]);
  });

  it("removes the entry when both lists are emptied: the deployment's policy applies again", async () => {
    const tenant = await newTenant();
    await save(tenant, { cdn: ["https://cdn.example.com"], connect: [] });
    expect((await save(tenant, { cdn: [], connect: [] })).status).toBe(200);
    expect(await kv.get(tenant, { type: "text" })).toBeNull();
  });

  it("never writes what it refuses: a hostile source leaves the copy as it was", async () => {
    const tenant = await newTenant();
    await save(tenant, { cdn: ["https://cdn.example.com"], connect: [] });
    await expectError(
      await save(tenant, { cdn: ["https://cdn.example.com; script-src *"], connect: [] }),
      400,
      "INVALID_REQUEST",
    );
    expect(await copyOf(tenant)).toEqual({ cdn: ["https://cdn.example.com"], connect: [] });
  });

  it("answers SETTINGS_NOT_APPLIED when the copy cannot be written, audits it as not applied, and a reconcile pass applies it", async () => {
    const tenant = await newTenant();
    await save(tenant, { cdn: ["https://old.example.com"], connect: [] });
    const { store, failing } = failingWrites();
    const refused = await expectError(
      await save(tenant, { cdn: ["https://new.example.com"], connect: [] }, { ...env, TENANT_CSP: store }),
      503,
      "SETTINGS_NOT_APPLIED",
    );
    expect(refused.error.message).toMatch(/previous lists/);
    // The gateway still has the previous lists, and the audit log says the change did not apply.
    expect(await copyOf(tenant)).toEqual({ cdn: ["https://old.example.com"], connect: [] });
    expect((await auditDetails(tenant, "tenant.settings")).at(-1)).toMatchObject({ applied: false });

    failing.on = false;
    const hosting = new InMemoryHostingProvider();
    const report = await reconcilePass(
      { ...env, TENANT_CSP: store },
      { hosting: () => hosting },
      Date.now(),
      {
        fromStart: true,
        tenantsPerPass: 100_000,
      },
    );
    expect(report.allowListsRepaired).toContain(tenant);
    expect(await copyOf(tenant)).toEqual({ cdn: ["https://new.example.com"], connect: [] });
    expect(await auditDetails(tenant, "reconcile.tenant_csp")).toHaveLength(1);
  });

  it("refuses with NOT_CONFIGURED, recording nothing, when the namespace is not bound", async () => {
    const tenant = await newTenant();
    const { TENANT_CSP: _unbound, ...unbound } = env;
    await expectError(
      await save(tenant, { cdn: ["https://cdn.example.com"], connect: [] }, unbound as ControlEnv),
      503,
      "NOT_CONFIGURED",
    );
    const settings = await (await as(principalFor(tenant, ["tenant:admin"]))("/v1/tenant/settings")).json();
    expect(settings).toMatchObject({ cdnAllowList: [], updatedAt: null });
  });
});

describe("reconcile keeps the copy in step with the record", () => {
  it("rewrites a copy that was changed or lost behind the product's back, and leaves a matching one alone", async () => {
    const [edited, lost, fine] = [await newTenant(), await newTenant(), await newTenant()];
    for (const tenant of [edited, lost, fine])
      await save(tenant, { cdn: [], connect: ["https://api.example.com"] });
    await kv.put(edited, JSON.stringify({ v: 1, cdn: ["https://injected.example.com"], connect: [] }));
    await kv.delete(lost);
    const hosting = new InMemoryHostingProvider();
    const report = await reconcilePass(env, { hosting: () => hosting }, Date.now(), {
      fromStart: true,
      tenantsPerPass: 100_000,
    });
    expect(report.allowListsRepaired).toEqual(expect.arrayContaining([edited, lost]));
    expect(report.allowListsRepaired).not.toContain(fine);
    for (const tenant of [edited, lost, fine])
      expect(await copyOf(tenant)).toEqual({ cdn: [], connect: ["https://api.example.com"] });
  });
});

describe("erasing a tenant deletes its copy", () => {
  it("deletes the KV entry with the tenant, and keeps the tenant until the delete succeeds", async () => {
    const tenant = await newTenant();
    await save(tenant, { cdn: ["https://cdn.example.com"], connect: [] });
    const hosting = new InMemoryHostingProvider();
    const { store, failing } = failingWrites();
    const pending = await eraseTenant({ ...env, TENANT_CSP: store }, tenant, "test:uninstall", {
      hosting: () => hosting,
    });
    expect(pending).toMatchObject({ state: "pending", allowLists: "pending" });
    expect(await env.DB.prepare("SELECT status FROM tenants WHERE id = ?").bind(tenant).first()).toEqual({
      status: "purging",
    });
    expect(await copyOf(tenant)).not.toBeNull();

    failing.on = false;
    const done = await eraseTenant({ ...env, TENANT_CSP: store }, tenant, "test:uninstall", {
      hosting: () => hosting,
    });
    expect(done).toMatchObject({ state: "deleted", allowLists: "deleted" });
    expect(await kv.get(tenant, { type: "text" })).toBeNull();
    expect(await env.DB.prepare("SELECT 1 FROM tenants WHERE id = ?").bind(tenant).first()).toBeNull();
  });
});
