/**
 * The SSRF guard for monitor targets (DESIGN §3): a monitor makes OUR Worker send requests to a URL
 * a tenant chose, so the URL must never reach something only our network position can reach — the
 * loopback, private (RFC 1918, unique-local), carrier-grade NAT, link-local, cloud metadata
 * (169.254.169.254, metadata.google.internal), multicast or reserved ranges — and never by a detour:
 *
 *   - other spellings of an IP: decimal `2130706433`, hex `0x7f.1`, octal `0177.0.0.1`, short forms
 *     `127.1`: the WHATWG URL parser (the one fetch() uses) turns all of them into dotted decimal, and
 *     the check runs on the parsed host, never on the text;
 *   - IPv6 forms carrying an IPv4 address: mapped `::ffff:127.0.0.1`, compatible `::127.0.0.1`, NAT64
 *     `64:ff9b::…`, 6to4 `2002:…`: the embedded IPv4 address is checked too;
 *   - names: `localhost` and `*.localhost`, `*.internal`, `*.local`, metadata names; a trailing dot;
 *   - redirects: the checker follows redirects itself and runs this guard on every hop;
 *   - DNS: a public name that resolves to a private address. workerd's fetch() does not tell which
 *     address it connected to and has no resolver API, so the control Worker asks DNS-over-HTTPS first
 *     when configured (control/src/monitors/resolve.ts) and runs `checkAddress` on every answer.
 *     A rebinding race between that answer and fetch()'s own lookup remains (documented).
 *
 * Pure: no I/O. Codes are stable (the API, the CLI and the admin page show them).
 */

export const MONITOR_TARGET_REASONS = [
  /** Not a URL at all, or one with parts a monitor never needs (user info). */
  "invalid",
  /** Not http(s); or http where only https is allowed (production). */
  "scheme",
  /** 127.0.0.0/8, ::1, localhost. */
  "loopback",
  /** RFC 1918, unique-local fc00::/7, carrier-grade NAT 100.64.0.0/10. */
  "private",
  /** 169.254.0.0/16, fe80::/10. */
  "link-local",
  /** Cloud metadata endpoints by address or name. */
  "metadata",
  /** Unspecified, multicast, broadcast, documentation, benchmarking and other special-purpose ranges. */
  "reserved",
] as const;

export type MonitorTargetReason = (typeof MONITOR_TARGET_REASONS)[number];

export type MonitorTargetVerdict =
  | { readonly ok: true; readonly url: URL }
  | { readonly ok: false; readonly reason: MonitorTargetReason; readonly message: string };

export interface MonitorTargetPolicy {
  /** Plain http is refused unless this is set (dev and test stacks only; production is https-only). */
  readonly allowHttp?: boolean;
  /** Loopback targets are refused unless this is set (the dev stack's demo service). */
  readonly allowLoopback?: boolean;
}

const METADATA_NAMES = new Set([
  "metadata.google.internal",
  "metadata",
  "metadata.goog",
  "instance-data",
  "instance-data.ec2.internal",
]);

function refuse(reason: MonitorTargetReason, message: string): MonitorTargetVerdict {
  return { ok: false, reason, message };
}

/** An IP address as a URL host (`93.184.216.34`, `[2606:2800::1]`), not a name to resolve. */
export function isIpLiteral(host: string): boolean {
  return host.startsWith("[") || ipv4Bytes(host) !== undefined;
}

/** Parses dotted-decimal IPv4 (as the URL parser leaves it) into 4 bytes. */
function ipv4Bytes(host: string): number[] | undefined {
  const parts = host.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = parts.map((p) => (/^(0|[1-9][0-9]{0,2})$/.test(p) ? Number(p) : Number.NaN));
  return bytes.every((b) => b >= 0 && b <= 255) ? bytes : undefined;
}

/** Parses a bracket-less IPv6 address into 16 bytes (the URL parser has already canonicalised it). */
function ipv6Bytes(host: string): number[] | undefined {
  let text = host;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    const v4 = ipv4Bytes(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = v4;
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0] as string);
  const rest = halves.length === 2 ? groups(halves[1] as string) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  const bytes: number[] = [];
  for (const group of all) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return undefined;
    const value = Number.parseInt(group, 16);
    bytes.push(value >> 8, value & 0xff);
  }
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

const inV4 = (b: number[], prefix: number[], bits: number): boolean => {
  for (let i = 0; i < bits; i++) {
    const byte = Math.floor(i / 8);
    const mask = 0x80 >> (i % 8);
    if (((b[byte] as number) & mask) !== ((prefix[byte] as number) & mask)) return false;
  }
  return true;
};

/** Why an IPv4 address may not be a monitor target, or undefined if it may. */
export function classifyIpv4(b: number[]): MonitorTargetReason | undefined {
  if (b[0] === 169 && b[1] === 254 && b[2] === 169 && b[3] === 254) return "metadata";
  if (inV4(b, [127, 0, 0, 0], 8)) return "loopback";
  if (inV4(b, [10, 0, 0, 0], 8) || inV4(b, [172, 16, 0, 0], 12) || inV4(b, [192, 168, 0, 0], 16))
    return "private";
  if (inV4(b, [100, 64, 0, 0], 10)) return "private";
  if (inV4(b, [169, 254, 0, 0], 16)) return "link-local";
  const reserved: [number[], number][] = [
    [[0, 0, 0, 0], 8], // "this network", incl. 0.0.0.0 (which reaches the local host on Linux)
    [[192, 0, 0, 0], 24], // IETF protocol assignments
    [[192, 0, 2, 0], 24], // documentation
    [[198, 18, 0, 0], 15], // benchmarking
    [[198, 51, 100, 0], 24], // documentation
    [[203, 0, 113, 0], 24], // documentation
    [[192, 88, 99, 0], 24], // 6to4 relay anycast (deprecated)
    [[224, 0, 0, 0], 4], // multicast
    [[240, 0, 0, 0], 4], // reserved, and 255.255.255.255 broadcast
  ];
  return reserved.some(([prefix, bits]) => inV4(b, prefix, bits)) ? "reserved" : undefined;
}

/** Why an IPv6 address may not be a monitor target (embedded IPv4 addresses included). */
export function classifyIpv6(b: number[]): MonitorTargetReason | undefined {
  const zeroUpTo = (n: number) => b.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(15) && b[15] === 1) return "loopback";
  if (zeroUpTo(16)) return "reserved";
  // IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d (deprecated, still parsed by stacks).
  if (zeroUpTo(10) && b[10] === 0xff && b[11] === 0xff) return classifyIpv4(b.slice(12));
  // IPv4-translated ::ffff:0:a.b.c.d (SIIT, RFC 2765) carries one too.
  if (zeroUpTo(8) && b[8] === 0xff && b[9] === 0xff && b[10] === 0 && b[11] === 0)
    return classifyIpv4(b.slice(12)) ?? "reserved";
  if (zeroUpTo(12)) return classifyIpv4(b.slice(12)) ?? "reserved";
  // NAT64 64:ff9b::/96 and the local-use 64:ff9b:1::/48 translate to the embedded IPv4 address.
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b) return classifyIpv4(b.slice(12));
  // 6to4 2002:AABB:CCDD::/48 carries the IPv4 address in bytes 2–5.
  if (b[0] === 0x20 && b[1] === 0x02) return classifyIpv4(b.slice(2, 6));
  const first = b[0] as number;
  if ((first & 0xfe) === 0xfc) return "private"; // fc00::/7 unique-local
  if (first === 0xfe && ((b[1] as number) & 0xc0) === 0x80) return "link-local"; // fe80::/10
  if (first === 0xfe && ((b[1] as number) & 0xc0) === 0xc0) return "private"; // fec0::/10 site-local (deprecated)
  if (first === 0xff) return "reserved"; // multicast
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8) return "reserved"; // documentation
  if (b[0] === 0x01 && b[1] === 0x00 && b.slice(2, 8).every((x) => x === 0)) return "reserved"; // discard 100::/64
  // Teredo 2001:0::/32 hides an obfuscated IPv4 address: refused rather than decoded.
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0 && b[3] === 0) return "reserved";
  return undefined;
}

/**
 * Why an address (as DNS answers it, or as a URL host) may not be a monitor target; undefined if it
 * may. Loopback passes only when the policy allows it (dev).
 */
export function checkAddress(
  address: string,
  policy: MonitorTargetPolicy = {},
): MonitorTargetReason | undefined {
  const bare = address.replace(/^\[|\]$/g, "").toLowerCase();
  let reason: MonitorTargetReason | undefined;
  const v4 = ipv4Bytes(bare);
  if (v4 !== undefined) reason = classifyIpv4(v4);
  else {
    const v6 = ipv6Bytes(bare);
    if (v6 === undefined) return "invalid";
    reason = classifyIpv6(v6);
  }
  if (reason === "loopback" && policy.allowLoopback === true) return undefined;
  return reason;
}

const MESSAGES: Record<MonitorTargetReason, string> = {
  invalid: "is not a URL a monitor can check",
  scheme: "must use https",
  loopback: "points at the loopback interface",
  private: "points at a private network address",
  "link-local": "points at a link-local address",
  metadata: "points at a cloud metadata endpoint",
  reserved: "points at a reserved or special-purpose address",
};

/** Why a target is refused, in words: "points at a private network address". */
export const describeTargetReason = (reason: MonitorTargetReason): string => MESSAGES[reason];

/** Checks a monitor's URL (and every redirect hop's) before any request is made. */
export function checkMonitorUrl(text: string, policy: MonitorTargetPolicy = {}): MonitorTargetVerdict {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return refuse(
      "invalid",
      "The URL is not valid; give a full URL such as https://status.example.com/health.",
    );
  }
  const say = (reason: MonitorTargetReason) =>
    refuse(reason, `${url.protocol}//${url.host} ${MESSAGES[reason]}.`);
  if (url.protocol !== "https:" && url.protocol !== "http:")
    return refuse("scheme", "A monitor URL must be http(s).");
  if (url.protocol === "http:" && policy.allowHttp !== true) return say("scheme");
  if (url.username !== "" || url.password !== "")
    return refuse("invalid", "A monitor URL may not carry a user name or password.");
  // One trailing dot (the root) goes; more are an empty label, refused like any other. A name whose
  // last label is a number is an address the URL parser did not read as one (`127.0.1..`): refused,
  // never left to a resolver that might read it as IPv4.
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (host === "") return refuse("invalid", "The URL has no host.");
  if (!host.startsWith("[") && host.split(".").some((label) => label === ""))
    return refuse("invalid", "The URL's host has an empty label.");
  if (
    !host.startsWith("[") &&
    ipv4Bytes(host) === undefined &&
    /^(?:[0-9]+|0x[0-9a-f]*)$/.test(host.split(".").at(-1) ?? "")
  )
    return refuse("invalid", "The URL's host looks like an IP address but is not one.");
  if (host.startsWith("[")) {
    const reason = checkAddress(host, policy);
    return reason === undefined ? { ok: true, url } : say(reason);
  }
  if (ipv4Bytes(host) !== undefined) {
    const reason = checkAddress(host, policy);
    return reason === undefined ? { ok: true, url } : say(reason);
  }
  if (METADATA_NAMES.has(host)) return say("metadata");
  if (host === "localhost" || host.endsWith(".localhost"))
    return policy.allowLoopback === true ? { ok: true, url } : say("loopback");
  // Names only a private resolver answers: never public services.
  if (
    host.endsWith(".internal") ||
    host.endsWith(".local") ||
    host.endsWith(".lan") ||
    host.endsWith(".home.arpa")
  )
    return say("private");
  if (!host.includes(".")) return say("private");
  return { ok: true, url };
}
