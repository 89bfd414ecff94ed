/**
 * `npm run dev` — the whole system on one machine (DESIGN §7): control and dispatch Workers and every
 * user Worker on workerd through Miniflare, persisted D1/R2/Workflows, and local stand-ins for the
 * Cloudflare API and for Confluence/Forge.
 *
 * Today only the pieces below it exist (the core, the CLI, and the Miniflare host of user Workers in
 * user-workers.ts, proven by dev/test). The serve path and the stand-ins are issue #3, the control
 * plane issue #4; until they land this says so plainly instead of pretending to run a stack.
 */

const status = `Mini-Sites local stack — not runnable yet.

What works today:
  npx mini-sites validate <folder|zip|file.html>   check a bundle exactly as a publish will
  npx mini-sites scan <folder|zip|file>            look for secrets
  npm test                                         every test (core, CLI, workerd)

Arriving next: the dispatch Worker, grants and the local Cloudflare API stand-in (issue #3), then the
control Worker with D1, R2 and Workflows (issue #4). See docs/architecture.md.
`;

process.stdout.write(status);
