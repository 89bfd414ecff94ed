#!/usr/bin/env node
// The CLI is TypeScript run by Node 22's type stripping (the repo provides Node 22 through its `node`
// devDependency, which `npm run`/`npx` put first on PATH), so there is no build step to forget.
import { main } from "../src/main.ts";

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
