/**
 * Monitors in workerd with the real D1 and the production app: CRUD through the route policy with real
 * API tokens (another tenant's monitor is a 404, SSRF targets are refused with MONITOR_TARGET_FORBIDDEN
 * and a reason, the interval is at least a minute); the cron pass against a fake network (claims so
 * two passes never check one slot twice, follows redirects re-checking each hop, times out, keeps a
 * bounded history, computes uptime, queues a report only on a state change, stored before any push);
 * pushes signed reports that verify with the tenant's public key, and retries failed pushes.
 */

import { type TenantShortId, verifyReport } from "@mini-sites/core";
import { describe, expect, it } from "vitest";
import type { ControlEnv } from "../../src/env.ts";
import { checkDueMonitors, checkMonitor } from "../../src/monitors/checker.ts";
import { registerTenantKey } from "../../src/monitors/keys.ts";
import { pruneReports, pushPendingReports, setReportChannel } from "../../src/monitors/reports.ts";
import { as, expectError, newTenant, principalFor, testEnv } from "./helpers.ts";

const env = testEnv as unknown as ControlEnv;
const JSON_HEADERS = { "content-type": "application/json" };

function admin(tenant: TenantShortId) {
  return as(principalFor(tenant, ["tenant:admin"]));
}

async function addMonitor(tenant: TenantShortId, body: Record<string, unknown>) {
  return admin(tenant)("/v1/monitors", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify(body) });
}

describe("/v1/monitors", () => {
  it("adds, lists, shows and removes a monitor, with defaults and audit entries", async () => {
    const tenant = await newTenant();
    const created = await addMonitor(tenant, { name: "Orders", url: "https://orders.example.com/health" });
    expect(created.status).toBe(201);
    const monitor = (await created.json()) as {
      id: string;
      intervalSeconds: number;
      method: string;
      state: string;
    };
    expect(monitor).toMatchObject({ intervalSeconds: 300, method: "GET", state: "unknown" });
    const list = (await (await admin(tenant)("/v1/monitors")).json()) as { monitors: { id: string }[] };
    expect(list.monitors.map((m) => m.id)).toEqual([monitor.id]);
    const one = await admin(tenant)(`/v1/monitors/${monitor.id}`);
    expect(await one.json()).toMatchObject({ id: monitor.id, history: [] });
    const removed = await admin(tenant)(`/v1/monitors/${monitor.id}`, { method: "DELETE" });
    expect(await removed.json()).toEqual({ deleted: true });
    const { results } = await env.DB.prepare(
      "SELECT action FROM audit_entries WHERE tenant_id = ? ORDER BY seq",
    )
      .bind(tenant)
      .all<{ action: string }>();
    expect(results.map((r) => r.action)).toEqual(
      expect.arrayContaining(["monitor.create", "monitor.delete"]),
    );
  });

  it("refuses SSRF targets with MONITOR_TARGET_FORBIDDEN and the reason, storing nothing", async () => {
    const tenant = await newTenant();
    const cases: [string, string][] = [
      ["http://example.com/", "scheme"],
      ["https://127.0.0.1/", "loopback"],
      ["https://0x7f.1/", "loopback"],
      ["https://[::ffff:10.0.0.1]/", "private"],
      ["https://169.254.169.254/latest/meta-data/", "metadata"],
      ["https://metadata.google.internal/", "metadata"],
      ["https://[fe80::1]/", "link-local"],
      ["file:///etc/passwd", "scheme"],
    ];
    for (const [url, reason] of cases) {
      const refused = await expectError(
        await addMonitor(tenant, { name: url, url }),
        422,
        "MONITOR_TARGET_FORBIDDEN",
      );
      expect((refused.error as unknown as { reason: string }).reason, url).toBe(reason);
    }
    const list = (await (await admin(tenant)("/v1/monitors")).json()) as { monitors: unknown[] };
    expect(list.monitors).toEqual([]);
  });

  it("refuses an interval under a minute, a bad method and an inverted status range", async () => {
    const tenant = await newTenant();
    const base = { name: "x", url: "https://example.com/" };
    await expectError(await addMonitor(tenant, { ...base, intervalSeconds: 59 }), 400, "INVALID_REQUEST");
    await expectError(await addMonitor(tenant, { ...base, method: "POST" }), 400, "INVALID_REQUEST");
    await expectError(
      await addMonitor(tenant, { ...base, expectedStatus: { min: 300, max: 200 } }),
      400,
      "INVALID_REQUEST",
    );
  });

  it("keeps names unique per tenant ignoring case", async () => {
    const tenant = await newTenant();
    expect((await addMonitor(tenant, { name: "API", url: "https://a.example.com/" })).status).toBe(201);
    await expectError(
      await addMonitor(tenant, { name: "api", url: "https://b.example.com/" }),
      409,
      "NAME_TAKEN",
    );
    expect((await addMonitor(await newTenant(), { name: "API", url: "https://a.example.com/" })).status).toBe(
      201,
    );
  });

  it("is invisible to every other tenant: its id reads as missing, its list is empty", async () => {
    const tenant = await newTenant();
    const { id } = (await (
      await addMonitor(tenant, { name: "Secret svc", url: "https://svc.example.com/" })
    ).json()) as {
      id: string;
    };
    const stranger = admin(await newTenant());
    await expectError(await stranger(`/v1/monitors/${id}`), 404, "NOT_FOUND");
    await expectError(await stranger(`/v1/monitors/${id}`, { method: "DELETE" }), 404, "NOT_FOUND");
    const list = await (await stranger("/v1/monitors")).text();
    expect(list).not.toContain(id);
    expect(list).not.toContain("svc.example.com");
    // A narrower token of the owner reads but may not add.
    const reader = as(principalFor(tenant, ["sites:read"]));
    expect((await reader(`/v1/monitors/${id}`)).status).toBe(200);
    await expectError(
      await reader("/v1/monitors", {
        method: "POST",
        headers: JSON_HEADERS,
        body: JSON.stringify({ name: "y", url: "https://y.example.com/" }),
      }),
      403,
      "INSUFFICIENT_SCOPE",
    );
  });
});

describe("PATCH /v1/monitors/{monitor}", () => {
  async function created(tenant: TenantShortId, body: Record<string, unknown>): Promise<string> {
    const response = await addMonitor(tenant, body);
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string }).id;
  }
  const edit = (tenant: TenantShortId, id: string, body: unknown, caller = admin(tenant)) =>
    caller(`/v1/monitors/${id}`, { method: "PATCH", headers: JSON_HEADERS, body: JSON.stringify(body) });

  it("changes the settings it is given, keeps the others, is due at once and audited", async () => {
    const tenant = await newTenant();
    const id = await created(tenant, { name: "Orders", url: "https://orders.example.com/health" });
    await env.DB.prepare("UPDATE monitors SET next_check_at = ? WHERE id = ?")
      .bind(Date.now() + 3_600_000, id)
      .run();
    const before = Date.now();
    const response = await edit(tenant, id, {
      name: "Orders v2",
      url: "https://orders-v2.example.com/health",
      expectedStatus: { min: 200, max: 204 },
      intervalSeconds: 120,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      id,
      name: "Orders v2",
      url: "https://orders-v2.example.com/health",
      method: "GET",
      expectedStatus: { min: 200, max: 204 },
      timeoutSeconds: 10,
      intervalSeconds: 120,
    });
    const row = await env.DB.prepare("SELECT next_check_at FROM monitors WHERE id = ?")
      .bind(id)
      .first<{ next_check_at: number }>();
    expect(row?.next_check_at).toBeLessThanOrEqual(Date.now());
    expect(row?.next_check_at).toBeGreaterThanOrEqual(before);
    const audited = await env.DB.prepare(
      "SELECT detail FROM audit_entries WHERE tenant_id = ? AND action = 'monitor.update'",
    )
      .bind(tenant)
      .first<{ detail: string }>();
    expect(JSON.parse(audited?.detail ?? "{}")).toMatchObject({
      name: "Orders v2",
      url: "https://orders-v2.example.com/health",
    });
  });

  it("refuses an SSRF target with MONITOR_TARGET_FORBIDDEN and changes nothing", async () => {
    const tenant = await newTenant();
    const id = await created(tenant, { name: "Svc", url: "https://svc.example.com/" });
    for (const url of [
      "https://169.254.169.254/latest/meta-data/",
      "https://0x7f.1/",
      "http://svc.example.com/",
    ]) {
      const refused = await expectError(
        await edit(tenant, id, { name: "Moved", url }),
        422,
        "MONITOR_TARGET_FORBIDDEN",
      );
      expect((refused.error as unknown as { reason: string }).reason, url).toBeTruthy();
    }
    const one = (await (await admin(tenant)(`/v1/monitors/${id}`)).json()) as { name: string; url: string };
    expect(one).toMatchObject({ name: "Svc", url: "https://svc.example.com/" });
  });

  it("applies the create rules: an interval under a minute, an inverted range, an unknown field, an empty edit", async () => {
    const tenant = await newTenant();
    const id = await created(tenant, { name: "Rules", url: "https://rules.example.com/" });
    for (const body of [
      { intervalSeconds: 59 },
      { expectedStatus: { min: 300, max: 200 } },
      { method: "POST" },
      { timeoutSeconds: 0 },
      { name: "" },
      { name: "bad\u0007name" },
      { createdBy: "someone" },
      {},
    ])
      await expectError(await edit(tenant, id, body), 400, "INVALID_REQUEST");
  });

  it("keeps names unique per tenant ignoring case", async () => {
    const tenant = await newTenant();
    await created(tenant, { name: "API", url: "https://a.example.com/" });
    const id = await created(tenant, { name: "Web", url: "https://w.example.com/" });
    await expectError(await edit(tenant, id, { name: "api" }), 409, "NAME_TAKEN");
    expect((await edit(tenant, id, { name: "WEB" })).status).toBe(200);
  });

  it("is another tenant's to read as missing, and a reading token's to be refused", async () => {
    const tenant = await newTenant();
    const id = await created(tenant, { name: "Theirs", url: "https://theirs.example.com/" });
    await expectError(
      await edit(tenant, id, { url: "https://attacker.example.com/" }, admin(await newTenant())),
      404,
      "NOT_FOUND",
    );
    await expectError(
      await edit(
        tenant,
        id,
        { url: "https://attacker.example.com/" },
        as(principalFor(tenant, ["sites:read"])),
      ),
      403,
      "INSUFFICIENT_SCOPE",
    );
    const one = (await (await admin(tenant)(`/v1/monitors/${id}`)).json()) as { url: string };
    expect(one.url).toBe("https://theirs.example.com/");
  });
});

/** A fake network: each URL answers what the test says, and every request is recorded. */
function network(answers: Record<string, () => Response | Promise<Response>>) {
  const seen: string[] = [];
  const fetch = async (request: Request) => {
    seen.push(`${request.method} ${request.url}`);
    const answer = answers[request.url];
    if (answer === undefined) throw new TypeError("network error");
    return answer();
  };
  return { fetch, seen };
}

const MONITOR = {
  url: "https://svc.example.com/health",
  method: "GET" as const,
  timeoutMs: 2000,
  expectedMin: 200,
  expectedMax: 399,
};

describe("one check", () => {
  it("follows redirects by hand and refuses a hop to a private address without requesting it", async () => {
    const net = network({
      "https://svc.example.com/health": () =>
        new Response(null, { status: 302, headers: { location: "/moved" } }),
      "https://svc.example.com/moved": () =>
        new Response(null, {
          status: 301,
          headers: { location: "https://169.254.169.254/latest/meta-data/" },
        }),
    });
    const result = await checkMonitor(MONITOR, env, { fetch: net.fetch });
    expect(result).toMatchObject({ ok: false, error: "target:metadata" });
    expect(net.seen).toEqual(["GET https://svc.example.com/health", "GET https://svc.example.com/moved"]);
  });

  it("gives up after 5 redirects, and classifies timeouts, network errors and unexpected statuses", async () => {
    const loop = network({
      "https://svc.example.com/health": () =>
        new Response(null, { status: 307, headers: { location: "/health" } }),
    });
    expect(await checkMonitor(MONITOR, env, { fetch: loop.fetch })).toMatchObject({
      ok: false,
      error: "redirects",
    });
    expect(loop.seen).toHaveLength(6);
    const slow = network({
      "https://svc.example.com/health": () => new Promise<Response>(() => undefined),
    });
    const hanging = async (request: Request) =>
      new Promise<Response>((_, reject) => {
        request.signal.addEventListener("abort", () => reject(request.signal.reason));
        void slow.fetch(request);
      });
    expect(await checkMonitor({ ...MONITOR, timeoutMs: 100 }, env, { fetch: hanging })).toMatchObject({
      ok: false,
      error: "timeout",
    });
    expect(await checkMonitor(MONITOR, env, { fetch: network({}).fetch })).toMatchObject({
      error: "network",
    });
    const failing = network({ "https://svc.example.com/health": () => new Response("no", { status: 503 }) });
    expect(await checkMonitor(MONITOR, env, { fetch: failing.fetch })).toMatchObject({
      ok: false,
      status: 503,
      error: "status",
    });
  });
});

describe("the cron pass and signed pushes", () => {
  async function setUp() {
    const tenant = await newTenant();
    const created = await addMonitor(tenant, { name: "Svc", url: MONITOR.url, intervalSeconds: 60 });
    const { id } = (await created.json()) as { id: string };
    const { keys } = await registerTenantKey(env, tenant, Date.now());
    await setReportChannel(env.DB, tenant, "https://hooks.example.com/x1/trigger", Date.now());
    return { tenant, id, keys };
  }

  it("stores results, reports only state changes, claims each slot once, and pushes signed reports", async () => {
    const { tenant, id, keys } = await setUp();
    let up = true;
    const received: { headers: Headers; body: string }[] = [];
    const net = network({
      [MONITOR.url]: () => new Response("ok", { status: up ? 200 : 500 }),
      "https://hooks.example.com/x1/trigger": async () => new Response(null, { status: 204 }),
    });
    const fetch = async (request: Request) => {
      if (request.url.startsWith("https://hooks."))
        received.push({ headers: request.headers, body: await request.clone().text() });
      return net.fetch(request);
    };
    let clock = Date.now() + 1000;
    const deps = { fetch, now: () => clock };
    const onlyMine = async () => {
      // Other test files' monitors share the database: leave them due but never touch them here.
      await env.DB.prepare(
        "UPDATE monitors SET next_check_at = next_check_at + 31536000000 WHERE tenant_id <> ? AND next_check_at < ?",
      )
        .bind(tenant, clock + 1)
        .run();
    };

    await onlyMine();
    expect(await checkDueMonitors(env, deps)).toEqual({ checked: 1, changed: 1 }); // unknown → up
    // A second pass in the same minute finds nothing due: the slot was claimed.
    expect(await checkDueMonitors(env, deps)).toEqual({ checked: 0, changed: 0 });
    clock += 60_000;
    await onlyMine();
    expect(await checkDueMonitors(env, deps)).toEqual({ checked: 1, changed: 0 }); // up → up
    up = false;
    clock += 60_000;
    await onlyMine();
    expect(await checkDueMonitors(env, deps)).toEqual({ checked: 1, changed: 1 }); // up → down

    const { results } = await env.DB.prepare(
      "SELECT body FROM monitor_reports WHERE tenant_id = ? ORDER BY created_at",
    )
      .bind(tenant)
      .all<{ body: string }>();
    expect(results.map((r) => JSON.parse(r.body)).map((b) => `${b.from}→${b.to}`)).toEqual([
      "unknown→up",
      "up→down",
    ]);

    expect(await pushPendingReports(env, deps)).toMatchObject({ delivered: 2 });
    const mine = received.filter((r) => r.headers.get("x-mini-sites-tenant") === tenant);
    expect(mine).toHaveLength(2);
    for (const report of mine) {
      const verdict = await verifyReport({
        headers: report.headers,
        body: report.body,
        tenant,
        keys: [keys.current],
        nowMs: clock,
        rememberNonce: async () => true,
      });
      expect(verdict.ok).toBe(true);
    }
    // Delivered reports are not sent again.
    expect(await pushPendingReports(env, deps)).toMatchObject({ delivered: 0 });

    const detail = (await (await admin(tenant)(`/v1/monitors/${id}`)).json()) as {
      state: string;
      history: { ok: boolean }[];
      uptime: { day: number };
    };
    expect(detail.state).toBe("down");
    expect(detail.history.map((h) => h.ok)).toEqual([true, true, false]);
  });

  it("retries a failed push with backoff and delivers it later, re-signed", async () => {
    const { tenant } = await setUp();
    let hookUp = false;
    const net = network({
      [MONITOR.url]: () => new Response(null, { status: 200 }),
      "https://hooks.example.com/x1/trigger": () => new Response(null, { status: hookUp ? 200 : 503 }),
    });
    let clock = Date.now() + 1000;
    const deps = { fetch: net.fetch, now: () => clock };
    await env.DB.prepare(
      "UPDATE monitors SET next_check_at = next_check_at + 31536000000 WHERE tenant_id <> ?",
    )
      .bind(tenant)
      .run();
    await checkDueMonitors(env, deps);
    const first = await pushPendingReports(env, deps);
    expect(first.delivered).toBe(0);
    const row = await env.DB.prepare(
      "SELECT attempts, last_error, next_attempt_at FROM monitor_reports WHERE tenant_id = ?",
    )
      .bind(tenant)
      .first<{ attempts: number; last_error: string; next_attempt_at: number }>();
    expect(row).toMatchObject({ attempts: 1, last_error: "http-503" });
    expect(row?.next_attempt_at).toBeGreaterThan(clock);
    hookUp = true;
    clock = (row?.next_attempt_at ?? clock) + 1;
    expect((await pushPendingReports(env, deps)).delivered).toBeGreaterThanOrEqual(1);
  });

  it("keeps a bounded history and computes uptime over 24 h and 7 d", async () => {
    const { tenant, id } = await setUp();
    const now = Date.now();
    const rows: string[] = [];
    // 3 checks in the last day (2 ok), 4 older within the week (all failed), 1 beyond the week.
    const add = (ago: number, ok: number) =>
      rows.push(`('${tenant}', '${id}', ${now - ago}, ${ok}, 200, 5, NULL)`);
    add(60_000, 1);
    add(120_000, 1);
    add(180_000, 0);
    for (let i = 2; i < 6; i++) add(i * 86_400_000, 0);
    add(8 * 86_400_000, 1);
    await env.DB.prepare(
      `INSERT INTO monitor_results (tenant_id, monitor_id, checked_at, ok, status, latency_ms, error) VALUES ${rows.join(",")}`,
    ).run();
    const list = (await (await admin(tenant)("/v1/monitors")).json()) as {
      monitors: { uptime: { day: number; week: number } }[];
    };
    expect(list.monitors[0]?.uptime.day).toBeCloseTo(2 / 3);
    expect(list.monitors[0]?.uptime.week).toBeCloseTo(2 / 7);
    // The next check prunes what is older than the retention.
    await env.DB.prepare(
      "UPDATE monitors SET next_check_at = next_check_at + 31536000000 WHERE tenant_id <> ?",
    )
      .bind(tenant)
      .run();
    await checkDueMonitors(env, { fetch: network({ [MONITOR.url]: () => new Response(null) }).fetch });
    const left = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM monitor_results WHERE tenant_id = ? AND checked_at < ?",
    )
      .bind(tenant, now - 7 * 86_400_000)
      .first<{ n: number }>();
    expect(left?.n).toBe(0);
  });
});

describe("one tenant cannot hurt another's pass (review findings)", () => {
  const HOOK = "https://hooks.example.com/x1/trigger";
  async function tenantWith(count: number, url = MONITOR.url) {
    const tenant = await newTenant();
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const created = await addMonitor(tenant, { name: `m${i}`, url, intervalSeconds: 60 });
      ids.push(((await created.json()) as { id: string }).id);
    }
    await registerTenantKey(env, tenant, Date.now());
    await setReportChannel(env.DB, tenant, HOOK, Date.now());
    return { tenant, ids };
  }
  const onlyThese = async (tenants: TenantShortId[]) => {
    const marks = tenants.map(() => "?").join(", ");
    await env.DB.prepare(
      `UPDATE monitors SET next_check_at = next_check_at + 31536000000 WHERE tenant_id NOT IN (${marks}) AND next_check_at < ?`,
    )
      .bind(...tenants, Date.now() + 10 * 86_400_000)
      .run();
  };

  it("a monitor deleted during its own check does not end the pass for other tenants' monitors", async () => {
    const victim = await tenantWith(1, "https://victim.example.com/");
    const attacker = await tenantWith(1, "https://slow.example.com/");
    await onlyThese([victim.tenant, attacker.tenant]);
    const net = network({
      "https://victim.example.com/": async () => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        return new Response(null, { status: 200 });
      },
      "https://slow.example.com/": async () => {
        // The attacker deletes their monitor while it is being checked.
        await env.DB.prepare("DELETE FROM monitors WHERE tenant_id = ?").bind(attacker.tenant).run();
        return new Response(null, { status: 200 });
      },
    });
    expect(await checkDueMonitors(env, { fetch: net.fetch })).toEqual({ checked: 2, changed: 1 });
    const victimResults = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM monitor_results WHERE tenant_id = ?",
    )
      .bind(victim.tenant)
      .first<{ n: number }>();
    expect(victimResults?.n).toBe(1);
  });

  it("shares a pass round robin between tenants, however many monitors one of them has", async () => {
    const greedy = await tenantWith(12, "https://greedy.example.com/");
    const modest = await tenantWith(1, "https://modest.example.com/");
    await onlyThese([greedy.tenant, modest.tenant]);
    const net = network({
      "https://greedy.example.com/": () => new Response(null, { status: 200 }),
      "https://modest.example.com/": () => new Response(null, { status: 200 }),
    });
    // Make the greedy tenant's monitors the most overdue: oldest-first alone would pick only them.
    await env.DB.prepare("UPDATE monitors SET next_check_at = 1 WHERE tenant_id = ?")
      .bind(greedy.tenant)
      .run();
    const small = { ...env, MONITOR_BATCH: "4" } as ControlEnv;
    expect(await checkDueMonitors(small, { fetch: net.fetch })).toMatchObject({ checked: 4 });
    expect(net.seen.filter((s) => s.includes("modest"))).toHaveLength(1);
  });

  it("sends each report once even when two passes overlap, and prunes the outbox", async () => {
    const { tenant } = await tenantWith(3, "https://flappy.example.com/");
    await onlyThese([tenant]);
    await checkDueMonitors(env, {
      fetch: network({ "https://flappy.example.com/": () => new Response(null) }).fetch,
    });
    let sent = 0;
    const hook = network({
      [HOOK]: async () => {
        sent++;
        await new Promise((resolve) => setTimeout(resolve, 30));
        return new Response(null, { status: 204 });
      },
    });
    await env.DB.prepare("DELETE FROM monitor_reports WHERE tenant_id <> ?").bind(tenant).run();
    const [a, b] = await Promise.all([
      pushPendingReports(env, { fetch: hook.fetch }),
      pushPendingReports(env, { fetch: hook.fetch }),
    ]);
    expect(sent).toBe(3);
    expect((a?.delivered ?? 0) + (b?.delivered ?? 0)).toBe(3);

    // A day later the delivered reports are gone; a pending report of a deleted monitor goes at once.
    await env.DB.prepare(
      "INSERT INTO monitor_reports (tenant_id, id, monitor_id, body, created_at, next_attempt_at) VALUES (?, 'rep_orphan', 'mon_gone', '{}', ?, ?)",
    )
      .bind(tenant, Date.now(), Date.now())
      .run();
    await pruneReports(env, Date.now() + 2 * 86_400_000);
    const left = await env.DB.prepare("SELECT COUNT(*) AS n FROM monitor_reports WHERE tenant_id = ?")
      .bind(tenant)
      .first<{ n: number }>();
    expect(left?.n).toBe(0);
  });

  it("refuses monitor names with text-direction or line-break characters", async () => {
    const tenant = await newTenant();
    for (const name of ["Orders\u202Egnp.exe", "two\u2028lines", "a\u0007b"]) {
      const response = await addMonitor(tenant, { name, url: MONITOR.url });
      expect(response.status, JSON.stringify(name)).toBe(400);
    }
  });
});

describe("DNS lookups within the check", () => {
  it("count against the monitor's own timeout: a resolver that never answers ends the check as a timeout", async () => {
    const never = () => new Promise<never>(() => {});
    const started = Date.now();
    const result = await checkMonitor({ ...MONITOR, timeoutMs: 300 }, env, {
      fetch: network({ [MONITOR.url]: () => new Response(null) }).fetch,
      resolve: never,
    });
    expect(result).toMatchObject({ ok: false, error: "timeout" });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("refuse a hop whose name resolves to a private address, without requesting it", async () => {
    const net = network({ [MONITOR.url]: () => new Response(null) });
    const result = await checkMonitor(MONITOR, env, {
      fetch: net.fetch,
      resolve: async () => ({ ok: true, addresses: ["93.184.216.34", "192.168.0.10"] }),
    });
    expect(result).toMatchObject({ ok: false, error: "target:private" });
    expect(net.seen).toEqual([]);
  });
});
