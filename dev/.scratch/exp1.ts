import { Miniflare } from "miniflare";
import http from "node:http";
function get(url: URL, host: string): Promise<{status:number, ct:string|undefined, body:string}> {
  return new Promise((res, rej) => { const r = http.request({ host: url.hostname, port: url.port, path: url.pathname, headers: { host } }, (resp) => { const c: Buffer[] = []; resp.on("data", (d) => c.push(d)); resp.on("end", () => res({ status: resp.statusCode!, ct: resp.headers["content-type"], body: Buffer.concat(c).toString() })); }); r.on("error", rej); r.end(); });
}
const shim = `
import { WorkerEntrypoint, RpcTarget } from "cloudflare:workers";
class Missing extends RpcTarget { constructor(n){super(); this.n=n;} fetch(){ throw new Error("Worker not found: "+this.n); } }
export class Namespace extends WorkerEntrypoint {
  get(name) { const b = this.env["USER_"+name]; return b ?? new Missing(name); }
}
export default { fetch(){ return new Response("shim"); } };
`;
const router = `
export default { async fetch(req, env) {
  const host = new URL(req.url).hostname; const h = req.headers.get("host") ?? host;
  const m = /^s-([a-z0-9-]+)\\.localhost(:\\d+)?$/.exec(h);
  if (!m) return new Response("no site "+h+" "+req.url+" "+JSON.stringify([...req.headers]), {status:404});
  try { return await env.DISPATCHER.get(m[1]).fetch(req); }
  catch (e) { return new Response("err: "+e.message, {status:404}); }
}};
`;
const cd = "2026-11-01";
const noop = { mainModule: "noop.js", modules: { "noop.js": { type: "esm" as const, contents: "export default { fetch() { return new Response('Not found', { status: 404 }); } };" } } };
const mf = new Miniflare({
  port: 0,
  workers: [
    { config: { name: "router", compatibilityDate: cd, manifest: { mainModule: "r.js", modules: { "r.js": { type: "esm", contents: router } } },
      env: { DISPATCHER: { type: "worker", worker: "ns-shim", exportName: "Namespace" } } } },
    { config: { name: "ns-shim", compatibilityDate: cd, manifest: { mainModule: "s.js", modules: { "s.js": { type: "esm", contents: shim } } },
      env: { USER_a: { type: "worker", worker: "site-a" }, USER_b: { type: "worker", worker: "site-b" } } } },
    { config: { name: "site-a", compatibilityDate: cd, manifest: noop, assets: { directory: import.meta.dirname + "/a", notFoundHandling: "single-page-application" } } },
    { config: { name: "site-b", compatibilityDate: cd, manifest: noop, assets: { directory: import.meta.dirname + "/b", notFoundHandling: "404-page" } } },
  ],
});
const url = await mf.ready;
console.log("ready", url.href);
for (const [h, p] of [["s-a.localhost", "/app.js"], ["s-b.localhost", "/app.js"], ["s-a.localhost", "/"], ["s-b.localhost", "/nope"], ["s-a.localhost", "/nope"], ["s-c.localhost", "/"]]) {
  const r = await get(new URL(p!, url), h!);
  console.log(h, p, r.status, r.ct, JSON.stringify(r.body.slice(0,200)));
}
const wa = await mf.getWorker("site-a");
const r = await wa.fetch("http://x/app.js"); console.log("direct", r.status, await r.text());
try { const du = await mf.unsafeGetDirectURL("site-a"); console.log("directURL", du.href, await (await fetch(new URL("/app.js", du))).text()); } catch (e) { console.log("directURL err", e); }
await mf.dispose();
