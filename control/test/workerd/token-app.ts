/**
 * The control app with the token routes mounted the way the entry point mounts them
 * (`app.route("/v1", tokenRoutes)` in createApp; mounted here too while createApp lacks it), behind the REAL authentication middleware and caller resolution
 * of src/index.ts: a request authenticates with the token text in its Authorization header, exactly
 * as the CLI sends it. `asCaller` sets a Caller in process instead (helpers.ts `as`), for credentials
 * the tests cannot mint here (a Forge user, the shared secret).
 */

import { env } from "cloudflare:test";
import { createApp } from "../../src/app/app.ts";
import { resolveCaller } from "../../src/app/caller.ts";
import type { AppEnv, Caller } from "../../src/app/context.ts";
import { issueApiToken } from "../../src/auth/api-tokens.ts";
import { authenticate } from "../../src/auth/index.ts";
import type { Principal } from "../../src/auth/middleware.ts";
import { D1ApiTokenStore } from "../../src/db/api-tokens.ts";
import type { ControlEnv } from "../../src/env.ts";
import { tokenRoutes } from "../../src/routes/tokens.ts";
import { newTenant } from "./helpers.ts";

export type Send = (path: string, init?: RequestInit) => Promise<Response>;

/** Mounts the token routes unless createApp already does (then its own mounting is what gets tested). */
function mountTokenRoutes(app: ReturnType<typeof createApp>): void {
  if (!app.routes.some((route) => route.path === "/v1/tokens")) app.route("/v1", tokenRoutes);
}

/** Requests through createApp + real `authenticate` (API tokens from D1) + `resolveCaller` + the token routes. */
export function tokenApp(bindings: ControlEnv = env): Send {
  const app = createApp({
    authenticate: authenticate<AppEnv>({
      allow: ["fit", "apiToken", "sharedSecret"],
      apiTokens: (c) => new D1ApiTokenStore(c.env.DB),
      onAuthenticated: resolveCaller,
    }),
  });
  mountTokenRoutes(app);
  return async (path, init) => await app.request(`http://control.test${path}`, init, bindings);
}

/** The same app with `principal` and `caller` set in process, as app/caller.ts would set them. */
export function asCaller(principal: Principal, caller: Caller | undefined): Send {
  const app = createApp({
    authenticate: async (c, next) => {
      c.set("principal", principal);
      c.set("caller", caller);
      await next();
    },
  });
  mountTokenRoutes(app);
  return async (path, init) => await app.request(`http://control.test${path}`, init, env);
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
