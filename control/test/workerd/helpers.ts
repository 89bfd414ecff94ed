/**
 * Test helpers: tenants and sites made through the real data layer, and requests sent through the
 * real app with a REAL credential — an API token issued in D1 with the scopes a test asks for — so
 * every request passes the production route policy (control/src/policy).
 */

import { env } from "cloudflare:test";
import type { SiteId, TenantShortId } from "@mini-sites/core";
import { expect } from "vitest";
import { createApp } from "../../src/app/app.ts";
import { issueApiToken } from "../../src/auth/api-tokens.ts";
import { SCOPES, type Scope } from "../../src/auth/principal.ts";
import { D1ApiTokenStore } from "../../src/db/api-tokens.ts";
import type { D1Database } from "../../src/db/d1.ts";
import { createSite, type Site } from "../../src/db/sites.ts";
import { ensureTenant } from "../../src/db/tenants.ts";
import { insertVersion, transitionVersion, type Version } from "../../src/db/versions.ts";
import type { ControlEnv } from "../../src/env.ts";

export const testEnv = env;

let counter = 0;
function unique(label: string): string {
  counter++;
  return `${label}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A fresh tenant (a new installation of a Forge app on a new Confluence site). */
export async function newTenant(db: D1Database = env.DB): Promise<TenantShortId> {
  const tenant = await ensureTenant(db, {
    forgeAppId: unique("app"),
    cloudId: unique("cloud"),
    installationId: unique("install"),
  });
  return tenant.id;
}

/** Who a test request speaks for: an API token of `tenantId` with `scopes`, issued on first use. */
export interface TestCaller {
  readonly tenantId: TenantShortId;
  readonly scopes: readonly Scope[];
}

export function principalFor(tenantId: TenantShortId, scopes: readonly Scope[] = SCOPES): TestCaller {
  return { tenantId, scopes };
}

/** Issues a real API token for `caller` (stored hashed in D1, as the token API stores it). */
export async function tokenFor(caller: TestCaller): Promise<string> {
  const { token } = await issueApiToken(new D1ApiTokenStore(env.DB), {
    tenantId: caller.tenantId,
    scopes: [...caller.scopes],
    label: unique("test"),
  });
  return token;
}

const app = createApp();

/**
 * Sends `path` through the production app as `caller` (with its API token in `Authorization`), or
 * with no credential at all when `caller` is undefined; `environment` replaces the Worker's env (a
 * binding that fails, one that is missing).
 */
export function as(caller: TestCaller | undefined, environment: ControlEnv = env) {
  let token: Promise<string> | undefined;
  return async (path: string, init: RequestInit | Request = {}) => {
    const headers = new Headers(init.headers);
    if (caller !== undefined) {
      token ??= tokenFor(caller);
      headers.set("authorization", `Bearer ${await token}`);
    }
    // A Request (a streamed body) keeps its body; plain init objects are spread.
    const request =
      init instanceof Request
        ? new Request(`http://control.test${path}`, {
            method: init.method,
            headers,
            body: init.body,
            duplex: "half",
          } as RequestInit)
        : new Request(`http://control.test${path}`, { ...init, headers });
    return app.request(request, undefined, environment);
  };
}

/** A 64-hex content hash that differs per call. */
export function contentHash(seed: number | string): string {
  const text = String(seed);
  let out = "";
  for (let i = 0; out.length < 64; i++)
    out += ((text.charCodeAt(i % text.length) * 31 + i) % 16).toString(16);
  return out;
}

export async function siteWithVersions(
  tenantId: TenantShortId,
  count: number,
  options: { name?: string; live?: number } = {},
): Promise<{ site: Site; versions: Version[] }> {
  const site = await createSite(env.DB, tenantId, { name: options.name ?? unique("site") });
  const versions: Version[] = [];
  for (let i = 1; i <= count; i++) {
    const version = await insertVersion(env.DB, tenantId, site.id, {
      contentHash: contentHash(`${site.id}-${i}`),
      message: `release ${i}`,
      sizeBytes: 1000 * i,
      fileCount: i + 1,
      publishedBy: `api-token:publisher-${i}`,
    });
    if (version === undefined) throw new Error("site vanished");
    versions.push(version);
  }
  if (options.live !== undefined) {
    await transitionVersion(env.DB, tenantId, site.id, options.live, { from: "staging", to: "provisioning" });
    await transitionVersion(env.DB, tenantId, site.id, options.live, { from: "provisioning", to: "live" });
    await env.DB.prepare("UPDATE sites SET live_version = ? WHERE tenant_id = ? AND id = ?")
      .bind(options.live, tenantId, site.id)
      .run();
  }
  return { site: { ...site, liveVersion: options.live ?? null }, versions };
}

export interface ErrorJson {
  error: { code: string; message: string; issues?: { path: string; message: string }[]; requestId?: string };
}

/** Asserts the typed error shape and returns it. */
export async function expectError(response: Response, status: number, code: string): Promise<ErrorJson> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  const text = await response.text();
  expect(text).not.toMatch(/\n\s+at |\.ts:\d+/); // never a stack trace
  const body = JSON.parse(text) as ErrorJson;
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  return body;
}

export const NO_SUCH_SITE = "aaaaaaaaaaaaa" as SiteId;
