/**
 * The SSRF guard (core/src/monitors/target.ts): every spelling of a loopback, private, link-local,
 * metadata or reserved address is refused with its reason, through IPv4 encodings (decimal, hex,
 * octal, short forms), IPv6 forms that embed IPv4 (mapped, compatible, NAT64, 6to4) and names;
 * public targets pass; http and loopback only where the policy says so.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkAddress, checkMonitorUrl, type MonitorTargetReason } from "../../src/monitors/index.ts";

const reasonOf = (url: string, policy = {}) => {
  const verdict = checkMonitorUrl(url, policy);
  return verdict.ok ? "ok" : verdict.reason;
};

describe("refused targets, by reason", () => {
  const cases: [MonitorTargetReason, string[]][] = [
    [
      "loopback",
      [
        "https://127.0.0.1/",
        "https://127.1/",
        "https://127.0.1/",
        "https://2130706433/",
        "https://0x7f000001/",
        "https://0x7f.0x0.0x0.0x1/",
        "https://0177.0.0.1/",
        "https://017700000001/",
        "https://127.255.255.254/",
        "https://[::1]/",
        "https://[0:0:0:0:0:0:0:1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "https://[::127.0.0.1]/",
        "https://[64:ff9b::127.0.0.1]/",
        "https://[2002:7f00:1::]/",
        "https://localhost/",
        "https://LOCALHOST./",
        "https://s-abc.localhost:8787/",
        "https://%6c%6fcalhost/",
      ],
    ],
    [
      "private",
      [
        "https://10.0.0.1/",
        "https://012.0.0.1/",
        "https://167772161/",
        "https://172.16.0.1/",
        "https://172.31.255.255/",
        "https://192.168.1.1/",
        "https://0xc0.0xa8.1.1/",
        "https://100.64.0.1/",
        "https://[fc00::1]/",
        "https://[fd12:3456::1]/",
        "https://[::ffff:10.1.2.3]/",
        "https://[::ffff:a01:203]/",
        "https://[fec0::1]/",
        "https://db.internal/",
        "https://printer.local/",
        "https://intranet/",
      ],
    ],
    ["link-local", ["https://169.254.1.1/", "https://[fe80::1]/", "https://[::ffff:169.254.0.1]/"]],
    [
      "metadata",
      [
        "https://169.254.169.254/latest/meta-data/",
        "https://2852039166/",
        "https://0xa9fea9fe/",
        "https://0251.0376.0251.0376/",
        "https://[::ffff:169.254.169.254]/",
        "https://[::ffff:a9fe:a9fe]/",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://METADATA.GOOGLE.INTERNAL./",
        "https://metadata/",
      ],
    ],
    [
      "reserved",
      [
        "https://0.0.0.0/",
        "https://0/",
        "https://[::]/",
        "https://224.0.0.1/",
        "https://255.255.255.255/",
        "https://192.0.2.1/",
        "https://198.18.0.1/",
        "https://[ff02::1]/",
        "https://[2001:db8::1]/",
        "https://[2001:0::1]/",
      ],
    ],
    [
      "scheme",
      [
        "http://example.com/",
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://example.com/",
        "data:text/plain,x",
        "javascript:alert(1)",
      ],
    ],
    [
      "invalid",
      ["not a url", "https://user:pass@example.com/", "https://user@example.com/", "//example.com/"],
    ],
  ];
  for (const [reason, urls] of cases)
    it(`refuses ${reason} targets in every spelling`, () => {
      for (const url of urls) expect(`${url} → ${reasonOf(url)}`).toBe(`${url} → ${reason}`);
    });

  it("answers with a message that names the host and never echoes user info", () => {
    const verdict = checkMonitorUrl("https://user:hunter2@10.0.0.1/");
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) expect(verdict.message).not.toContain("hunter2");
    const named = checkMonitorUrl("https://0x7f.1/health");
    if (!named.ok) expect(named.message).toContain("127.0.0.1");
  });
});

describe("hardening found by review", () => {
  it("refuses more than one trailing dot and empty labels, and names that end in a number", () => {
    for (const url of [
      "https://localhost../",
      "https://127.0.0.1../",
      "https://metadata.google.internal.../",
      "https://127.0.1../",
      "https://169.254.43518../",
      "https://10.1../",
      "https://0x7f.1../",
      "https://status.example.123/",
      "https://status.example.0x1/",
    ])
      expect(checkMonitorUrl(url), url).toMatchObject({ ok: false, reason: "invalid" });
    expect(checkMonitorUrl("https://localhost./")).toMatchObject({ ok: false, reason: "loopback" });
    expect(checkMonitorUrl("https://127.0.0.1./")).toMatchObject({ ok: false, reason: "loopback" });
    expect(checkMonitorUrl("https://status..example.com/")).toMatchObject({ ok: false, reason: "invalid" });
    expect(checkMonitorUrl("https://status.example.com./")).toMatchObject({ ok: true });
  });

  it("decodes the IPv4-translated form ::ffff:0:a.b.c.d", () => {
    expect(checkMonitorUrl("https://[::ffff:0:127.0.0.1]/")).toMatchObject({ ok: false, reason: "loopback" });
    expect(checkMonitorUrl("https://[::ffff:0:a00:1]/")).toMatchObject({ ok: false, reason: "private" });
    expect(checkAddress("::ffff:0:169.254.169.254")).toBe("metadata");
    // A public IPv4 address in that form is still not a target anyone needs.
    expect(checkAddress("::ffff:0:93.184.216.34")).toBe("reserved");
  });
});

describe("allowed targets", () => {
  it("lets public https targets through, IPs and names", () => {
    for (const url of [
      "https://status.example.com/health",
      "https://example.com:8443/x?y=1",
      "https://8.8.8.8/",
      "https://[2606:4700::1111]/",
      "https://[::ffff:8.8.8.8]/",
      "https://172.32.0.1/",
      "https://100.128.0.1/",
      "https://169.255.0.1/",
    ])
      expect(`${url} → ${reasonOf(url)}`).toBe(`${url} → ok`);
  });

  it("allows http and loopback only when the policy says so (the dev stack)", () => {
    expect(reasonOf("http://127.0.0.1:9000/", { allowHttp: true })).toBe("loopback");
    expect(reasonOf("http://127.0.0.1:9000/", { allowHttp: true, allowLoopback: true })).toBe("ok");
    expect(reasonOf("http://localhost:9000/", { allowHttp: true, allowLoopback: true })).toBe("ok");
    // Allowing loopback allows nothing else private.
    expect(reasonOf("http://10.0.0.1/", { allowHttp: true, allowLoopback: true })).toBe("private");
    expect(reasonOf("http://169.254.169.254/", { allowHttp: true, allowLoopback: true })).toBe("metadata");
  });
});

describe("addresses as DNS answers them", () => {
  it("classifies A and AAAA answers like URL hosts", () => {
    expect(checkAddress("10.1.2.3")).toBe("private");
    expect(checkAddress("::ffff:169.254.169.254")).toBe("metadata");
    expect(checkAddress("fe80::abcd")).toBe("link-local");
    expect(checkAddress("93.184.215.14")).toBeUndefined();
    expect(checkAddress("2606:2800:21f:cb07:6820:80da:af6b:8b2c")).toBeUndefined();
    expect(checkAddress("not-an-address")).toBe("invalid");
  });

  it("property: every IPv4 address in a refused range is refused in decimal, hex and mapped IPv6 alike", () => {
    const refusedRanges: [number, number][] = [
      [0x7f000000, 8],
      [0x0a000000, 8],
      [0xac100000, 12],
      [0xc0a80000, 16],
      [0xa9fe0000, 16],
      [0x64400000, 10],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...refusedRanges), fc.nat(), ([base, bits], offset) => {
        const address = (base + (offset % 2 ** (32 - bits))) >>> 0;
        const dotted = [24, 16, 8, 0].map((s) => (address >>> s) & 0xff).join(".");
        const hex = `0x${address.toString(16)}`;
        const mapped = `[::ffff:${dotted}]`;
        for (const host of [dotted, String(address), hex, mapped])
          expect(checkMonitorUrl(`https://${host}/`).ok, host).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});
