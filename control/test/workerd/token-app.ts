/**
 * The control app as the entry point builds it, called with real API tokens in the Authorization
 * header, exactly as the CLI sends them.
 */

import { env } from "cloudflare:test";
import { createApp } from "../../src/app/app.ts";
import { issueApiToken } from "../../src/auth/api-tokens.ts";
import { D1ApiTokenStore } from "../../src/db/api-tokens.ts";
import type { ControlEnv } from "../../src/env.ts";
import { newTenant } from "./helpers.ts";

export type Send = (path: string, init?: RequestInit) => Promise<Response>;

const app = createApp();

/** Requests through the production app (route policy, API tokens from D1). */
export function tokenApp(bindings: ControlEnv = env): Send {
  return async (path, init) => await app.request(`http://control.test${path}`, init, bindings);
}

export const bearer = (token: string, init: RequestInit = {}): RequestInit => ({
  ...init,
  headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${token}` },
});

export const postJson = (token: string, body: unknown): RequestInit =>
  bearer(token, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

/** A fresh tenant and a token for it with every scope: what `npm run dev` writes into dev.json. */
export async function tenantWithAdminToken(): Promise<{ tenant: string; token: string; tokenId: string }> {
  const tenant = await newTenant();
  const { token, record } = await issueApiToken(new D1ApiTokenStore(env.DB), {
    tenantId: tenant,
    scopes: ["sites:read", "sites:write", "tokens:manage"],
    label: "admin",
  });
  return { tenant, token, tokenId: record.id };
}

export interface NewTokenJson {
  id: string;
  token: string;
  displayPrefix: string;
  scopes: string[];
  label: string;
  createdAt: string;
}

export interface TokenJson {
  id: string;
  displayPrefix: string;
  label: string;
  scopes: string[];
  createdAt: string;
  createdBy: string | null;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}
