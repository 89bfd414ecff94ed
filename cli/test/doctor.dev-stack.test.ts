/**
 * `mini-sites doctor` against real Workers, its verdicts compared with the truth: the dev stack's own
 * pair agrees (and a grant it mints is accepted by its gateway); a second dispatch Worker with another
 * APP_PSK disagrees (and really refuses that grant with GRANT_KEY_UNKNOWN); one mid-rotation (new
 * APP_PSK, the stack's as APP_PSK_PREVIOUS) agrees and really accepts it; one that lets nobody frame the
 * sites, or everybody, fails the embed check.
 */

import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker, DISPATCH_ENTRY } from "../../dev/src/bundle-worker.ts";
import { requestVia } from "../../dev/src/loopback-http.ts";
import { type SingleWorker, startSingleWorker } from "../../dev/src/single-worker.ts";
import { run, startWorld, type World, writeBundle } from "./support.ts";

let world: World;
let dispatchScript: string;
let appPsk: string;
/** A view URL the stack's control Worker minted for a published site. */
let viewUrl: URL;
const started: SingleWorker[] = [];

interface Report {
  ok: boolean;
  checks: { id: string; verdict: string; summary: string; fix?: string }[];
}

beforeAll(async () => {
  world = await startWorld("doctor");
  dispatchScript = await bundleWorker(DISPATCH_ENTRY);
  appPsk = (
    JSON.parse(await readFile(join(world.dir, ".data", "dev-secrets.json"), "utf8")) as { appPsk: string }
  ).appPsk;
  expect((await run(world, ["login", "--dev"])).code).toBe(0);
  const site = await writeBundle(join(world.dir, "probe"), { "index.html": "<p>probe</p>" });
  const published = await run(world, ["publish", site, "--json"]);
  expect(published.code, published.stderr).toBe(0);
  viewUrl = new URL((JSON.parse(published.stdout) as { url: string }).url);
}, 180_000);

afterAll(async () => {
  for (const worker of started) await worker.dispose().catch(() => undefined);
  await world?.close();
});

/** Another dispatch Worker (the real one) whose own host is `gw.localhost`, with these variables. */
async function dispatchWith(vars: Record<string, string>): Promise<string> {
  const worker = await startSingleWorker({
    script: dispatchScript,
    name: "dispatch",
    bindings: {
      SITES_DOMAIN: "localhost",
      DISPATCH_BASE_URL: "http://gw.localhost",
      APP_PID: "mini-sites-dev",
      EMBED_ANCESTORS: "http://localhost:*",
      ...vars,
    },
  });
  started.push(worker);
  return `http://gw.localhost:${worker.url.port}`;
}

async function doctor(...args: string[]): Promise<{ code: number; report: Report }> {
  const result = await run(world, ["doctor", "--json", ...args]);
  return { code: result.code, report: JSON.parse(result.stdout) as Report };
}

const verdictOf = (report: Report, id: string) => report.checks.find((c) => c.id === id);

/** What the other gateway says to the stack's grant: 303 into the site, or 401 with its code. */
async function enterAt(dispatchUrl: string): Promise<{ status: number; code: string | undefined }> {
  const port = new URL(dispatchUrl).port;
  const reply = await requestVia(`http://127.0.0.1:${port}${viewUrl.pathname}`, {
    host: `${viewUrl.hostname}:${port}`,
  });
  return { status: reply.status, code: reply.headers["x-mini-sites-error"] as string | undefined };
}

describe("mini-sites doctor", () => {
  it("passes every check on the running dev stack, namespace included, by default", async () => {
    const { code, report } = await doctor();
    expect(
      report.checks.filter((c) => c.verdict !== "ok"),
      JSON.stringify(report.checks),
    ).toEqual([]);
    expect(code).toBe(0);
    expect(report.checks.map((c) => c.id)).toEqual([
      "control",
      "dispatch",
      "control-identity",
      "dispatch-identity",
      "identities-agree",
      "sites-domain",
      "secrets",
      "jwks",
      "embed-ancestors",
      "namespace",
    ]);
    const human = await run(world, ["doctor"]);
    expect(human.stdout).toContain("All checks passed.");
    // And the truth: the stack's gateway lets the stack's grant in.
    expect((await enterAt(world.stack.info.dispatchUrl)).status).toBe(303);
  });

  it("says the keys disagree, naming both key ids, when a dispatch Worker has another APP_PSK — which really refuses the grant", async () => {
    const other = await dispatchWith({ APP_PSK: randomBytes(32).toString("base64") });
    const { code, report } = await doctor("--dispatch", other);
    expect(code).toBe(1);
    const agree = verdictOf(report, "identities-agree");
    expect(agree?.verdict).toBe("fail");
    expect(agree?.summary).toMatch(
      /mints grants with key \w+, the dispatch Worker accepts \w+: every viewer gets 401 GRANT_KEY_UNKNOWN/,
    );
    expect(agree?.fix).toContain("APP_PSK");
    expect(await enterAt(other)).toEqual({ status: 401, code: "GRANT_KEY_UNKNOWN" });
  });

  it("passes mid-rotation (the dispatch Worker holds the new secret and the old as previous) — and the grant is really accepted", async () => {
    const rotating = await dispatchWith({
      APP_PSK: randomBytes(32).toString("base64"),
      APP_PSK_PREVIOUS: appPsk,
    });
    const { report } = await doctor("--dispatch", rotating);
    const agree = verdictOf(report, "identities-agree");
    expect(agree?.verdict).toBe("ok");
    expect(agree?.summary).toContain("rotation in progress");
    expect((await enterAt(rotating)).status).toBe(303);
  });

  it("fails a dispatch Worker with no identity, naming the variable to set", async () => {
    const bare = await dispatchWith({});
    const { code, report } = await doctor("--dispatch", bare);
    expect(code).toBe(1);
    expect(verdictOf(report, "dispatch-identity")).toMatchObject({ verdict: "fail" });
    expect(verdictOf(report, "dispatch-identity")?.fix).toContain("wrangler secret put APP_PSK");
    expect(verdictOf(report, "identities-agree")).toBeUndefined();
  });

  it("fails embed ancestors that let nobody frame the sites, or everybody", async () => {
    for (const ancestors of ["'none'", "* http://localhost:*"]) {
      const other = await dispatchWith({ APP_PSK: appPsk, EMBED_ANCESTORS: ancestors });
      const { code, report } = await doctor("--dispatch", other);
      expect(code, ancestors).toBe(1);
      expect(verdictOf(report, "embed-ancestors")?.verdict, ancestors).toBe("fail");
      expect(verdictOf(report, "identities-agree")?.verdict).toBe("ok");
    }
  });

  it("never sends an operator secret given here to a control URL read from a dev.json found on disk", async () => {
    const seen: string[] = [];
    const listener = http.createServer((request, response) => {
      seen.push(String(request.headers["x-mini-sites-secret"] ?? ""));
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    try {
      const port = (listener.address() as AddressInfo).port;
      // A folder someone else prepared, with a dev.json of their choosing above where doctor runs.
      const planted = join(world.dir, "cloned-repo");
      await mkdir(join(planted, ".data"), { recursive: true });
      await mkdir(join(planted, "src"), { recursive: true });
      await writeFile(
        join(planted, ".data", "dev.json"),
        JSON.stringify({ controlUrl: `http://127.0.0.1:${port}`, apiToken: "x" }),
      );
      const secret = "PRODUCTION-OPERATOR-SECRET-0123456789";
      const result = await run(world, ["doctor", "--json"], {
        cwd: join(planted, "src"),
        env: { MINI_SITES_OPERATOR_SECRET: secret },
      });
      expect(result.code).toBe(1);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.filter((s) => s !== "")).toEqual([]);
      // And --secret without --control is refused before anything is sent.
      const refused = await run(world, ["doctor", "--secret", secret], { cwd: join(planted, "src") });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("--secret goes with --control");
    } finally {
      listener.close();
    }
  });

  it("skips the namespace without the operator secret and fails it with a wrong one; fails an unreachable Worker", async () => {
    const control = world.stack.info.controlUrl;
    const dispatch = world.stack.info.dispatchUrl;
    const without = await doctor("--control", control, "--dispatch", dispatch);
    expect(without.code).toBe(0);
    expect(verdictOf(without.report, "namespace")?.verdict).toBe("skipped");
    const wrong = await doctor("--control", control, "--dispatch", dispatch, "--secret", "not-the-secret");
    expect(wrong.code).toBe(1);
    expect(verdictOf(wrong.report, "namespace")?.verdict).toBe("fail");
    const down = await doctor("--control", "http://127.0.0.1:9", "--dispatch", dispatch);
    expect(down.code).toBe(1);
    expect(verdictOf(down.report, "control")?.verdict).toBe("fail");
  });
});
