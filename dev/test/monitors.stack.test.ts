/**
 * Monitors end to end on the whole local stack (DESIGN §3, §7): the app registers its tenant key on
 * install (Forge function → POST /v1/tenants/register, public key into Forge KVS, web trigger URL to
 * the control Worker); the demo monitor watches the demo service on loopback; when the service stops,
 * a signed "down" report reaches the app's web trigger in the local Confluence and is accepted (204)
 * within two monitor intervals; when it starts again, "up" follows the same way. A report without a
 * signature, a replay of a delivered report, and one tenant's report sent to another tenant's web
 * trigger are all refused with 401; an SSRF-style monitor is refused with MONITOR_TARGET_FORBIDDEN.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WebTriggerCall } from "../src/confluence/host.ts";
import { webTriggerPath } from "../src/forge/functions.ts";
import { DEMO_MONITOR_NAME, type DevStack, startDevStack } from "../src/stack.ts";

/** The demo monitor's interval (seconds): the deadline for each state change is two of them. */
const INTERVAL_SECONDS = 60;

let stack: DevStack;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "monitors-stack-"));
  stack = await startDevStack({ dataDir, port: 0, localConfluence: true, monitorCronMs: 2000 });
}, 240_000);

afterAll(async () => {
  await stack?.close();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

const host = () => {
  const local = stack.localConfluence;
  if (local === undefined) throw new Error("the stack runs without the local Confluence");
  return local;
};

function reportOf(call: WebTriggerCall): { name: string; to: string; at: number } | undefined {
  try {
    return JSON.parse(call.request.body) as { name: string; to: string; at: number };
  } catch {
    return undefined;
  }
}

/** Waits for a report of the demo monitor turning `to`, accepted by the web trigger, after `since`. */
async function accepted(to: "up" | "down", since: number, deadlineMs: number): Promise<WebTriggerCall> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const found = host().webTriggerCalls.find((call) => {
      const report = reportOf(call);
      return (
        call.site === "acme" &&
        call.statusCode === 204 &&
        call.at >= since &&
        report?.name === DEMO_MONITOR_NAME &&
        report.to === to
      );
    });
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no accepted "${to}" report within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function registered(installationId: string, deadlineMs = 60_000) {
  const deadline = Date.now() + deadlineMs;
  while (
    !host().deliveries.some(
      (d) => d.installationId === installationId && d.target === "function register-tenant" && d.ok,
    )
  ) {
    if (Date.now() > deadline) throw new Error(`installation ${installationId} never registered`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const triggerUrl = (site: "acme" | "globex") =>
  `http://127.0.0.1:${host().port}${webTriggerPath(host().installation(site).installationId, "monitor-reports")}`;

async function post(url: string, headers: Record<string, string[]>, body: string) {
  const flat = Object.fromEntries(
    Object.entries(headers)
      .filter(([name]) => name.startsWith("x-mini-sites-") || name === "content-type")
      .map(([name, values]) => [name, values.join(", ")]),
  );
  return fetch(url, { method: "POST", headers: flat, body });
}

describe("a monitor on the demo service, reported to Confluence over the signed channel", () => {
  it("reports down, then up, each signed and accepted within two intervals", async () => {
    await registered(host().installation("acme").installationId);
    // The first check finds the service up (reported once the channel is registered).
    await accepted("up", 0, 2 * INTERVAL_SECONDS * 1000);

    const stopped = Date.now();
    await fetch(`${stack.info.demoService.controlUrl}/down`, { method: "POST" });
    const down = await accepted("down", stopped, 2 * INTERVAL_SECONDS * 1000);
    expect(down.at - stopped).toBeLessThanOrEqual(2 * INTERVAL_SECONDS * 1000);
    expect(down.request.headers["x-mini-sites-signature"]).toHaveLength(1);

    const restarted = Date.now();
    await fetch(`${stack.info.demoService.controlUrl}/up`, { method: "POST" });
    const up = await accepted("up", restarted, 2 * INTERVAL_SECONDS * 1000);
    expect(up.at - restarted).toBeLessThanOrEqual(2 * INTERVAL_SECONDS * 1000);

    // The control API agrees, and the local Confluence page shows it.
    const monitors = (await (
      await fetch(`${stack.info.controlUrl}/v1/monitors`, {
        headers: { authorization: `Bearer ${stack.info.apiToken}` },
      })
    ).json()) as { monitors: { name: string; state: string }[] };
    expect(monitors.monitors.find((m) => m.name === DEMO_MONITOR_NAME)?.state).toBe("up");
  }, 400_000);

  it("refuses unsigned, replayed and cross-tenant reports with 401", async () => {
    const delivered = host().webTriggerCalls.findLast(
      (call) => call.site === "acme" && call.statusCode === 204,
    );
    expect(delivered).toBeDefined();
    const { headers, body } = (delivered as WebTriggerCall).request;

    const unsigned = await fetch(triggerUrl("acme"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toEqual({ error: "REPORT_HEADER_MISSING" });

    const replay = await post(triggerUrl("acme"), headers, body);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toEqual({ error: "REPORT_REPLAYED" });

    await registered(host().installation("globex").installationId);
    const crossTenant = await post(triggerUrl("globex"), headers, body);
    expect(crossTenant.status).toBe(401);
    expect(await crossTenant.json()).toEqual({ error: "REPORT_WRONG_TENANT" });
  });

  it("refuses SSRF-style monitors with a clear code", async () => {
    for (const url of [
      "https://169.254.169.254/latest/meta-data/",
      "http://10.0.0.1/",
      "https://[::ffff:a00:1]/",
    ]) {
      const response = await fetch(`${stack.info.controlUrl}/v1/monitors`, {
        method: "POST",
        headers: { authorization: `Bearer ${stack.info.apiToken}`, "content-type": "application/json" },
        body: JSON.stringify({ name: `ssrf ${url}`, url }),
      });
      const answer = (await response.json()) as { error: { code: string; reason: string } };
      expect([response.status, answer.error.code], url).toEqual([422, "MONITOR_TARGET_FORBIDDEN"]);
    }
  });

  it("refuses a public-looking name that resolves to a private address, at creation and — rebound — at check time", async () => {
    const create = (name: string, url: string) =>
      fetch(`${stack.info.controlUrl}/v1/monitors`, {
        method: "POST",
        headers: { authorization: `Bearer ${stack.info.apiToken}`, "content-type": "application/json" },
        body: JSON.stringify({ name, url, intervalSeconds: 60 }),
      });
    stack.dns.setRecords("internal-admin.example.com", ["93.184.216.34", "10.1.2.3"]);
    const refused = await create("sneaky", "http://internal-admin.example.com/health");
    const answer = (await refused.json()) as { error: { code: string; reason: string; message: string } };
    expect([refused.status, answer.error.code, answer.error.reason]).toEqual([
      422,
      "MONITOR_TARGET_FORBIDDEN",
      "private",
    ]);
    expect(answer.error.message).toContain("resolves to 10.1.2.3");
    stack.dns.setRecords("metadata-alias.example.com", ["fd00:ec2::254"]);
    const v6 = (await (await create("v6", "http://metadata-alias.example.com/")).json()) as {
      error: { reason: string };
    };
    expect(v6.error.reason).toBe("private");

    // Public when added; rebound to the cloud metadata address before its check.
    stack.dns.setRecords("rebinding.example.com", ["93.184.216.34"]);
    const added = await create("rebinding", "http://rebinding.example.com/health");
    expect(added.status).toBe(201);
    const { id } = (await added.json()) as { id: string };
    stack.dns.setRecords("rebinding.example.com", ["169.254.169.254"]);
    const deadline = Date.now() + 60_000;
    let errors: (string | null)[] = [];
    while (Date.now() < deadline && !errors.includes("target:metadata")) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const monitor = (await (
        await fetch(`${stack.info.controlUrl}/v1/monitors/${id}`, {
          headers: { authorization: `Bearer ${stack.info.apiToken}` },
        })
      ).json()) as { history: { error: string | null }[] };
      errors = monitor.history.map((h) => h.error);
    }
    // (A check that ran before the rebinding failed on the public address: nothing routes there.)
    expect(errors).toContain("target:metadata");
    expect(stack.dns.queries()).toContain("rebinding.example.com");
    await fetch(`${stack.info.controlUrl}/v1/monitors/${id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${stack.info.apiToken}` },
    });
  }, 90_000);
});
