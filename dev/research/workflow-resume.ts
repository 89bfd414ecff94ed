/**
 * Research (not part of `npm test`): does a local Workflow, persisted by Miniflare 5, resume after the
 * process running it is SIGKILLed? DESIGN §7 needs "a restart loses nothing"; TOOLCHAIN.md lists this
 * as unchecked.
 *
 *   npx node dev/research/workflow-resume.ts            # both variants
 *   npx node dev/research/workflow-resume.ts do         # step 2 is a step.do that takes ~3 s
 *   npx node dev/research/workflow-resume.ts sleep      # step 2 is a durable step.sleep("3 seconds")
 *   npx node dev/research/workflow-resume.ts do sigkill # or `sigterm` (Miniflare's exit hook stops workerd)
 *
 * The parent spawns a child that runs Miniflare (and so workerd) in its own process group, creates a
 * Workflow instance, and kills the whole group with SIGKILL while step 2 is under way — the closest a
 * test gets to a crash or `kill -9` of the dev stack. A second child starts Miniflare with the same
 * persistence folder, first waits without touching the instance (does the engine wake by itself?),
 * then asks `instance.status()` until the instance is complete or a deadline passes. Every step body
 * reports to the child's stdout through a Node-side binding, so the log shows which steps ran again.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Miniflare, Response } from "miniflare";

type Variant = "do" | "sleep";
type Stop = "sigkill" | "sigterm";

const WORKFLOW_SOURCE = `
import { WorkflowEntrypoint } from "cloudflare:workers";

export class TwoSteps extends WorkflowEntrypoint {
  async run(event, step) {
    const log = (what) => this.env.LOG.fetch("http://log/" + what);
    const one = await step.do("one", async () => { await log("one"); return 1; });
    if (event.payload.variant === "sleep") {
      await log("sleep-start");
      await step.sleep("nap", "3 seconds");
      await log("sleep-end");
      return { one };
    }
    const two = await step.do("two", async () => {
      await log("two-start");
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await log("two-end");
      return 2;
    });
    return { one, two };
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const id = url.searchParams.get("id");
    if (url.pathname === "/create") {
      const instance = await env.WF.create({ id, params: { variant: url.searchParams.get("variant") } });
      return Response.json({ id: instance.id });
    }
    const instance = await env.WF.get(id);
    if (url.pathname === "/restart") await instance.restart();
    return Response.json(await instance.status());
  },
};
`;

const INSTANCE_ID = "resume-probe";

function say(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ t: Date.now(), ...event })}\n`);
}

function startMiniflare(persistDir: string): Miniflare {
  return new Miniflare({
    port: 0,
    cf: false,
    resourcePersistencePath: persistDir,
    workers: [
      {
        config: {
          name: "wf",
          compatibilityDate: "2026-11-01",
          manifest: { mainModule: "wf.js", modules: { "wf.js": { type: "esm", contents: WORKFLOW_SOURCE } } },
          exports: { TwoSteps: { type: "workflow", name: "two-steps" } },
          env: {
            WF: { type: "workflow", name: "two-steps", worker: "wf", exportName: "TwoSteps" },
            LOG: {
              type: "fetcher",
              handler: (request) => {
                say({ step: new URL(request.url).pathname.slice(1) });
                return new Response("ok");
              },
            },
          },
        },
      },
    ],
  });
}

async function status(mf: Miniflare): Promise<{ status: string }> {
  const response = await mf.dispatchFetch(`http://wf/status?id=${INSTANCE_ID}`);
  return (await response.json()) as { status: string };
}

async function child(phase: string, persistDir: string, variant: Variant): Promise<void> {
  const mf = startMiniflare(persistDir);
  await mf.ready;
  say({ phase, ready: true });
  if (phase === "start") {
    await mf.dispatchFetch(`http://wf/create?id=${INSTANCE_ID}&variant=${variant}`);
    say({ created: INSTANCE_ID });
    // Stay alive until the parent stops us.
    await new Promise(() => {});
  }
  // Resume phase: first do nothing for 8 s, so the log shows whether the engine wakes on its own.
  await new Promise((resolve) => setTimeout(resolve, 8000));
  say({ untouchedFor: "8s" });
  const deadline = Date.now() + 15_000;
  let last = await status(mf);
  say({ status: last });
  while (last.status !== "complete" && last.status !== "errored" && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    last = await status(mf);
  }
  say({ final: last });
  if (last.status === "running") {
    // Workaround probe: does instance.restart() get a stuck instance going again (from step 1)?
    await mf.dispatchFetch(`http://wf/restart?id=${INSTANCE_ID}`);
    const restartDeadline = Date.now() + 10_000;
    do {
      await new Promise((resolve) => setTimeout(resolve, 500));
      last = await status(mf);
    } while (last.status !== "complete" && last.status !== "errored" && Date.now() < restartDeadline);
    say({ afterRestart: last });
  }
  await mf.dispose();
}

function run(args: string[], detached: boolean, onLine: (line: string) => void): ChildProcess {
  const process_ = spawn(process.execPath, [import.meta.filename, ...args], {
    detached,
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (process_.stdout) createInterface({ input: process_.stdout }).on("line", onLine);
  return process_;
}

async function experiment(variant: Variant, stop: Stop): Promise<void> {
  const persistDir = await mkdtemp(join(tmpdir(), `wf-resume-${variant}-`));
  console.log(`\n=== variant "${variant}", stop by ${stop}, persist dir ${persistDir}`);
  const first = run(["child", "start", persistDir, variant], true, (line) => {
    console.log(`[run 1] ${line}`);
    const killAfter = variant === "do" ? '"step":"two-start"' : '"step":"sleep-start"';
    if (line.includes(killAfter)) {
      // Mid-way through step 2: kill Node and workerd together, as a crash would.
      setTimeout(() => {
        if (first.pid === undefined) return;
        if (stop === "sigkill") {
          console.log("[parent] SIGKILL to the process group of run 1 (node + workerd)");
          process.kill(-first.pid, "SIGKILL");
        } else {
          // Miniflare's own exit hook answers SIGTERM: it stops workerd and exits at once (code 143).
          console.log("[parent] SIGTERM to run 1's node process");
          process.kill(first.pid, "SIGTERM");
        }
      }, 1000);
    }
  });
  await new Promise((resolve) => first.on("exit", resolve));
  const second = run(["child", "resume", persistDir, variant], false, (line) =>
    console.log(`[run 2] ${line}`),
  );
  await new Promise((resolve) => second.on("exit", resolve));
  await rm(persistDir, { recursive: true, force: true });
}

const [mode, phase, persistDir, variant] = process.argv.slice(2);
if (mode === "child" && phase !== undefined && persistDir !== undefined) {
  await child(phase, persistDir, variant === "sleep" ? "sleep" : "do");
  process.exit(0);
}
const variants: Variant[] = mode === "do" || mode === "sleep" ? [mode] : ["do", "sleep"];
const stops: Stop[] = phase === "sigkill" || phase === "sigterm" ? [phase] : ["sigkill", "sigterm"];
for (const v of variants) for (const stop of stops) await experiment(v, stop);
