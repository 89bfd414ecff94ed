/**
 * Monitor host names resolved through DNS-over-HTTPS (control/src/monitors/resolve.ts) against the
 * local resolver speaking Cloudflare's JSON API (dev/src/dns/doh-standin.ts): a name is refused when
 * ANY address it answers is one the SSRF guard refuses, whatever mix of families and records; a
 * resolver that cannot answer fails closed; IP literals are left to the URL guard; one resolver asks
 * once per name.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DohStandIn, startDohStandIn } from "../../../dev/src/dns/doh-standin.ts";
import { checkResolvedHost, dohResolver } from "../../src/monitors/resolve.ts";

let dns: DohStandIn;
beforeAll(async () => {
  dns = await startDohStandIn();
});
afterAll(async () => {
  await dns?.close();
});

const check = (url: string, policy = {}) => checkResolvedHost(new URL(url), policy, dohResolver(dns.url));

describe("checkResolvedHost through DNS-over-HTTPS", () => {
  it("passes a name whose every address is public, and one with no address at all", async () => {
    dns.setRecords("status.example.com", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]);
    expect(await check("https://status.example.com/health")).toEqual({ ok: true });
    expect(await check("https://nowhere.example.com/")).toEqual({ ok: true });
  });

  it("refuses a name when any one of its addresses is private, loopback, link-local, metadata or reserved", async () => {
    const cases: [string[], string, string][] = [
      [["93.184.216.34", "10.0.0.8"], "private", "10.0.0.8"],
      [["192.168.1.1"], "private", "192.168.1.1"],
      [["2606:2800:220:1::1", "fd12:3456::1"], "private", "fd12:3456::1"],
      [["127.0.0.2"], "loopback", "127.0.0.2"],
      [["::1"], "loopback", "::1"],
      [["169.254.169.254"], "metadata", "169.254.169.254"],
      [["169.254.10.1"], "link-local", "169.254.10.1"],
      [["::ffff:10.0.0.1"], "private", "::ffff:10.0.0.1"],
      [["0.0.0.0"], "reserved", "0.0.0.0"],
    ];
    for (const [index, [addresses, reason, address]] of cases.entries()) {
      const name = `case-${index}.example.com`;
      dns.setRecords(name, addresses);
      expect(await check(`https://${name}/`), addresses.join(",")).toEqual({ ok: false, reason, address });
    }
  });

  it("lets loopback through only where the policy allows it (the dev stack), and nothing else private", async () => {
    dns.setRecords("dev-loop.example.com", ["127.0.0.1"]);
    expect(await check("http://dev-loop.example.com/", { allowLoopback: true })).toEqual({ ok: true });
    dns.setRecords("dev-private.example.com", ["10.9.9.9"]);
    expect(await check("http://dev-private.example.com/", { allowLoopback: true })).toMatchObject({
      ok: false,
      reason: "private",
    });
  });

  it("fails closed on an answer longer than it reads, so no address goes unchecked", async () => {
    const many = Array.from({ length: 64 }, (_, i) => `93.184.${Math.floor(i / 250)}.${(i % 250) + 1}`);
    dns.setRecords("many.example.com", [...many, "10.0.0.1"]);
    expect(await check("https://many.example.com/")).toMatchObject({ ok: false, reason: "dns" });
    dns.setRecords("enough.example.com", many);
    expect(await check("https://enough.example.com/")).toEqual({ ok: true });
  });

  it("fails closed when the resolver cannot answer", async () => {
    dns.setFailing("broken.example.com");
    expect(await check("https://broken.example.com/")).toMatchObject({ ok: false, reason: "dns" });
    const unreachable = await checkResolvedHost(
      new URL("https://any.example.com/"),
      {},
      dohResolver("http://127.0.0.1:9/dns-query"),
    );
    expect(unreachable).toMatchObject({ ok: false, reason: "dns" });
  });

  it("leaves IP literals to the URL guard and asks once per name per resolver", async () => {
    const before = dns.queries().length;
    expect(await check("https://93.184.216.34/")).toEqual({ ok: true });
    expect(await check("https://[2606:2800:220:1::1]/")).toEqual({ ok: true });
    expect(dns.queries().length).toBe(before);

    dns.setRecords("cached.example.com", ["93.184.216.34"]);
    const resolve = dohResolver(dns.url);
    for (let i = 0; i < 5; i++)
      await checkResolvedHost(new URL("https://CACHED.example.com./x"), {}, resolve);
    // One A and one AAAA query for five checks.
    expect(dns.queries().filter((q) => q === "cached.example.com")).toHaveLength(2);
  });
});
