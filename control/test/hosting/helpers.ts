import {
  assetHash,
  contentTypeFor,
  type ManifestEntry,
  newSiteId,
  newTenantShortId,
  type SiteId,
  siteTag,
  type TenantShortId,
  tenantTag,
  workerNameFor,
} from "@mini-sites/core";
import { type CloudflareWfPConfig, CloudflareWfPProvider } from "../../src/hosting/cloudflare.ts";
import type { CreateWorkerRequest, HostingResult, StaticAssetsConfig } from "../../src/hosting/provider.ts";

const encoder = new TextEncoder();

/** A site version's files in memory, with a `readFile` that records what was read. */
export interface Bundle {
  readonly files: ManifestEntry[];
  readonly reads: string[];
  readFile(entry: ManifestEntry): Promise<Uint8Array>;
}

export async function bundleOf(contents: Record<string, string | Uint8Array>): Promise<Bundle> {
  const bytesByPath = new Map<string, Uint8Array>();
  const files: ManifestEntry[] = [];
  for (const [path, content] of Object.entries(contents)) {
    const bytes = typeof content === "string" ? encoder.encode(content) : content;
    bytesByPath.set(path, bytes);
    files.push({
      path,
      size: bytes.length,
      contentType: contentTypeFor(path),
      hash: await assetHash(path, bytes),
    });
  }
  const reads: string[] = [];
  return {
    files,
    reads,
    async readFile(entry) {
      reads.push(entry.path);
      const bytes = bytesByPath.get(entry.path);
      if (!bytes) throw new Error(`no file ${entry.path}`);
      return bytes;
    },
  };
}

export interface SiteRef {
  readonly tenant: TenantShortId;
  readonly site: SiteId;
}

export function newSite(tenant: TenantShortId = newTenantShortId()): SiteRef {
  return { tenant, site: newSiteId() };
}

export const SPA: StaticAssetsConfig = { notFoundHandling: "single-page-application" };

export function createRequest(
  ref: SiteRef,
  version: number,
  bundle: Bundle,
  extra: Partial<CreateWorkerRequest> = {},
): CreateWorkerRequest {
  return {
    name: workerNameFor(ref.site, version),
    files: bundle.files,
    readFile: (entry) => bundle.readFile(entry),
    tags: [tenantTag(ref.tenant), siteTag(ref.site)],
    assets: SPA,
    ...extra,
  };
}

/** The value of a result that must have succeeded; a readable failure otherwise. */
export function unwrap<T>(result: HostingResult<T>): T {
  if (!result.ok) throw new Error(`expected success, got ${result.error.code}: ${result.error.message}`);
  return result.value;
}

/** A clock and a sleep that advances it, recording every wait: tests never spend wall time. */
export function fakeTime(start = 1_700_000_000_000) {
  let now = start;
  const waits: number[] = [];
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    waits,
    sleep: async (ms: number) => {
      waits.push(ms);
      now += ms;
    },
  };
}

/**
 * A CloudflareWfPProvider for tests: a fake clock and sleep (waits are recorded, never slept) and no
 * jitter, pointed at `target` (a loopback WfP server or the Cloudflare API stand-in).
 */
export function testProvider(
  target: {
    readonly apiBaseUrl: string;
    readonly accountId: string;
    readonly namespace: string;
    readonly apiToken: string;
  },
  extra: Partial<CloudflareWfPConfig> = {},
) {
  const time = fakeTime();
  return {
    time,
    provider: new CloudflareWfPProvider({
      ...target,
      sleep: time.sleep,
      now: time.now,
      random: () => 0.5,
      ...extra,
    }),
  };
}
