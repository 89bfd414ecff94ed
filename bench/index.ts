/**
 * `npm run bench [-- pipeline grants serve publish]`: runs the benchmarks, each in a process of its
 * own so one's JIT state, heap and child processes never color another's figures.
 */

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const ALL = ["pipeline", "grants", "serve", "publish", "profile"] as const;
const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !(ALL as readonly string[]).includes(name));
if (unknown.length > 0) {
  process.stderr.write(`Unknown benchmark ${unknown.join(", ")}; choose from ${ALL.join(", ")}.\n`);
  process.exit(2);
}
let failed = false;
for (const name of asked.length > 0 ? asked : ALL) {
  process.stdout.write(`\n=== ${name} ===\n`);
  const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  const run = spawnSync(process.execPath, [file], { stdio: "inherit" });
  if (run.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
