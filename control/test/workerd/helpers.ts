/**
 * Test helpers: tenants and sites made through the real data layer, and requests sent through the
 * real app with a principal set the way control/src/auth/ will set it — in process, never through a
 * request header (production code has no way to take a principal from the request).
 */

import { env } from "cloudflare:test";
import type { SiteId, TenantShortId } from "@mini-sites/core";
import { expect } from "vitest";
import { createApp } from "../../src/app/app.ts";
import type { Caller, Scope } from "../../src/app/context.ts";
import { SCOPES } from "../../src/app/context.ts";
import type { D1Database } from "../../src/db/d1.ts";
import { createSite, type Site } from "../../src/db/sites.ts";
import { ensureTenant } from "../../src/db/tenants.ts";
import { insertVersion, transitionVersion, type Version } from "../../src/db/versions.ts";

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

export function principalFor(tenantId: TenantShortId, scopes: readonly Scope[] = SCOPES): Caller {
  return { kind: "api-token", tenantId, actor: `api-token:${unique("tok")}`, scopes };
}

/**
 * Sends `path` through the app as `caller` (or unauthenticated when omitted) — set in process the
 * way app/caller.ts sets it after control/src/auth/ verified a credential.
 */
export function as(caller: Caller | undefined) {
  const app = createApp({
    authenticate: async (c, next) => {
      if (caller !== undefined) {
        c.set("principal", {
          kind: "apiToken",
          tenantId: caller.tenantId,
          tokenId: "tok_test",
          scopes: caller.scopes,
        });
        c.set("caller", caller);
      }
      await next();
    },
  });
  return (path: string, init?: RequestInit) => app.request(`http://control.test${path}`, init, env);
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
