/**
 * What a monitor's host name resolves to, asked of a DNS-over-HTTPS resolver before each request
 * (DESIGN §3: no private, loopback, link-local or metadata targets, "through DNS names that resolve to
 * them where the runtime lets you see that"). workerd's fetch() neither exposes the address it
 * connects to nor offers a DNS API, so the control Worker asks a resolver itself — Cloudflare's
 * JSON API (`GET <MONITOR_DNS_URL>?name=…&type=A|AAAA`, `accept: application/dns-json`; source:
 * https://developers.cloudflare.com/1.1.1.1/encryption/dns-over-https/make-api-requests/dns-json/) —
 * and refuses the target when ANY A or AAAA answer is one the SSRF guard refuses.
 *
 * What it does not close: fetch() resolves the name again, so a name that answers a public address
 * here and a private one a moment later (DNS rebinding) still reaches fetch(); Cloudflare's egress
 * has no private network of ours behind it, which bounds that (docs/security.md §13).
 *
 * A resolver that cannot answer fails the check closed (`dns`): a monitor never sends a request we
 * could not vet. Answers are cached per resolver instance (one cron pass, or one API call), so a
 * pass checking many monitors of one host asks once.
 */

import {
  checkAddress,
  isIpLiteral,
  type MonitorTargetPolicy,
  type MonitorTargetReason,
} from "@mini-sites/core";

/** DNS RR types (RFC 1035, RFC 3596). */
const TYPE_A = 1;
const TYPE_AAAA = 28;
/** DNS RCODEs: NOERROR, NXDOMAIN. */
const NOERROR = 0;
const NXDOMAIN = 3;
/** One lookup waits at most this long. */
export const DNS_TIMEOUT_MS = 3_000;
/** Answers read from one response: a resolver's answer list is small; ours stays bounded. */
const MAX_ANSWERS = 64;

export type ResolveOutcome =
  | { readonly ok: true; readonly addresses: readonly string[] }
  | { readonly ok: false; readonly message: string };

export type Resolver = (hostname: string) => Promise<ResolveOutcome>;

export type HostVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: MonitorTargetReason; readonly address: string }
  | { readonly ok: false; readonly reason: "dns"; readonly message: string };

interface DnsJson {
  readonly Status?: unknown;
  readonly Answer?: unknown;
}

/** A resolver over a DNS-over-HTTPS JSON endpoint, caching answers for its own lifetime. */
export function dohResolver(
  endpoint: string,
  send: (request: Request) => Promise<Response> = (request) => fetch(request),
): Resolver {
  const cache = new Map<string, Promise<ResolveOutcome>>();
  const ask = async (hostname: string, type: number): Promise<ResolveOutcome> => {
    const url = new URL(endpoint);
    url.searchParams.set("name", hostname);
    url.searchParams.set("type", String(type));
    let body: DnsJson;
    try {
      const response = await send(
        new Request(url, {
          headers: { accept: "application/dns-json" },
          signal: AbortSignal.timeout(DNS_TIMEOUT_MS),
        }),
      );
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined);
        return { ok: false, message: `the DNS resolver answered ${response.status}` };
      }
      body = (await response.json()) as DnsJson;
    } catch (error) {
      return { ok: false, message: `the DNS resolver did not answer (${(error as Error).name})` };
    }
    if (body.Status === NXDOMAIN) return { ok: true, addresses: [] };
    if (body.Status !== NOERROR) return { ok: false, message: `DNS status ${String(body.Status)}` };
    const answers: unknown[] = Array.isArray(body.Answer) ? body.Answer : [];
    // Every address is checked or none is trusted: more answers than we read fail closed.
    if (answers.length > MAX_ANSWERS)
      return { ok: false, message: `the DNS answer lists more than ${MAX_ANSWERS} records` };
    const addresses: string[] = [];
    for (const answer of answers) {
      const { type: kind, data } = (answer ?? {}) as { type?: unknown; data?: unknown };
      // CNAMEs and the like lead to the A/AAAA records in the same answer; only addresses matter.
      if ((kind === TYPE_A || kind === TYPE_AAAA) && typeof data === "string") addresses.push(data);
    }
    return { ok: true, addresses };
  };
  return (hostname) => {
    const key = hostname.toLowerCase().replace(/\.$/, "");
    let pending = cache.get(key);
    if (pending === undefined) {
      pending = Promise.all([ask(key, TYPE_A), ask(key, TYPE_AAAA)]).then(([v4, v6]) => {
        if (!v4.ok) return v4;
        if (!v6.ok) return v6;
        return { ok: true, addresses: [...v4.addresses, ...v6.addresses] };
      });
      cache.set(key, pending);
    }
    return pending;
  };
}

/**
 * Resolves a URL's host and runs the SSRF guard on every address it answers. A name with no address
 * (NXDOMAIN, no records) passes here: fetch() will fail on it by itself.
 */
export async function checkResolvedHost(
  url: URL,
  policy: MonitorTargetPolicy,
  resolve: Resolver,
): Promise<HostVerdict> {
  const hostname = url.hostname;
  // An address the URL guard has classified itself (the parser turns every IPv4 spelling into dotted
  // decimal); anything else — even if it looks numeric — is a name, and is resolved.
  if (isIpLiteral(hostname)) return { ok: true };
  const outcome = await resolve(hostname);
  if (!outcome.ok) return { ok: false, reason: "dns", message: outcome.message };
  for (const address of outcome.addresses) {
    const reason = checkAddress(address, policy);
    if (reason !== undefined) return { ok: false, reason, address };
  }
  return { ok: true };
}
