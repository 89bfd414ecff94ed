/**
 * The REGISTER step of signed reports (DESIGN §3): the app's own Forge function (a FIT without a
 * user, for this installation) asks for the tenant's public key, stores it in Forge KVS, and tells
 * us the web trigger URL to push reports to.
 *
 *   POST /v1/tenants/register     idempotent: creates the tenant's key pair once, never replaces it;
 *                                 the app's branding (display name, support link) fills only what
 *                                 the tenant has not set yet — never overwrites the app's, a
 *                                 sibling's or the tenant admin's values
 *   POST /v1/tenants/rotate-key   a new pair; the old public key stays valid for the overlap window
 *
 * Both answer the tenant's current and previous public keys, so a Forge side that lost its stored key
 * (or a rotation's answer) heals by registering again. Key creation and rotation are audited.
 */

import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { checkMonitorUrl } from "@mini-sites/core";
import { type AppEnv, accessOf, tenantOf } from "../app/context.ts";
import { ApiError } from "../app/errors.ts";
import { audit } from "../audit/log.ts";
import { getTenantBranding, proposeTenantBranding } from "../db/tenant-branding.ts";
import type { ControlEnv } from "../env.ts";
import { keyOverlapSeconds, registerTenantKey, rotateTenantKey, type TenantKeys } from "../monitors/keys.ts";
import { setReportChannel } from "../monitors/reports.ts";
import { brandingFields, checkBrandingFields } from "./branding.ts";
import { defineRoute } from "./define.ts";

const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });

const PublicKey = z
  .object({
    keyId: z.string().openapi({ example: "3f2a9c0d1e4b5a67" }),
    publicKey: z.string().openapi({ description: "base64url of the raw 32-byte Ed25519 public key" }),
    acceptUntil: z
      .number()
      .int()
      .optional()
      .openapi({ description: "Previous key only: accepted until (ms)" }),
  })
  .openapi("TenantPublicKey");

const KeysResponse = z
  .object({
    tenant: z.string(),
    current: PublicKey,
    previous: PublicKey.nullable(),
    overlapSeconds: z.number().int(),
  })
  .openapi("TenantKeys");

const RegisterBody = z
  .object({
    webTriggerUrl: z
      .string()
      .max(2048)
      .optional()
      .openapi({ description: "The app's web trigger URL for signed reports (webTrigger.getUrl)" }),
    ...brandingFields,
  })
  .strict()
  .openapi("RegisterTenantRequest");

const registerRoute = defineRoute(
  {
    method: "post",
    path: "/v1/tenants/register",
    summary: "Register the tenant: its report-signing public key, and where reports go",
    description:
      "Idempotent: the first registration creates the tenant's Ed25519 key pair; every later one answers the same key. " +
      "The private key never leaves the control Worker (stored wrapped). `displayName` and `supportUrl` are stored " +
      "only where the tenant has none yet: a registration never overwrites branding set before, by anyone.",
    tags: ["tenant"],
    request: { body: { ...json(RegisterBody), required: true } },
    responses: { 200: { description: "The tenant's public keys", ...json(KeysResponse) } },
  },
  "MONITOR_TARGET_FORBIDDEN",
  "NOT_CONFIGURED",
  "INVALID_REQUEST",
);

const rotateRoute = defineRoute(
  {
    method: "post",
    path: "/v1/tenants/rotate-key",
    summary: "Rotate the tenant's report-signing key; the previous key stays valid for the overlap window",
    tags: ["tenant"],
    request: { body: { ...json(z.object({}).strict().openapi("RotateTenantKeyRequest")), required: true } },
    responses: { 200: { description: "The tenant's public keys after the rotation", ...json(KeysResponse) } },
  },
  "NOT_CONFIGURED",
);

/** The web trigger URL must pass the same guard as a monitor: https, never a private address. */
function checkChannelUrl(env: ControlEnv, url: string): string {
  const dev = env.DEV_ALLOW_LOOPBACK_HTTP === "true";
  const verdict = checkMonitorUrl(url, { allowHttp: dev, allowLoopback: dev });
  if (!verdict.ok)
    throw new ApiError("MONITOR_TARGET_FORBIDDEN", `webTriggerUrl: ${verdict.message}`, {
      extra: { reason: verdict.reason },
    });
  return verdict.url.href;
}

const keysJson = (env: ControlEnv, keys: TenantKeys) => ({
  tenant: keys.tenant,
  current: keys.current,
  previous: keys.previous,
  overlapSeconds: keyOverlapSeconds(env),
});

export function registerTenantKeyRoutes(app: OpenAPIHono<AppEnv>, now: () => number = Date.now): void {
  app.openapi(registerRoute, async (c) => {
    const tenant = tenantOf(c).id;
    const body = c.req.valid("json");
    const channel = body.webTriggerUrl === undefined ? undefined : checkChannelUrl(c.env, body.webTriggerUrl);
    const branding = checkBrandingFields(c.env, body);
    const actor = accessOf(c).actor;
    const { keys, created } = await registerTenantKey(c.env, tenant, now());
    if (channel !== undefined) await setReportChannel(c.env.DB, tenant, channel, now());
    const branded = await proposeTenantBranding(
      c.env.DB,
      tenant,
      { displayName: branding.displayName ?? null, supportUrl: branding.supportUrl ?? null },
      now(),
    );
    if (created)
      await audit(c.env, {
        tenantId: tenant,
        actor,
        action: "tenant.key.create",
        target: `tenant:${tenant}`,
        detail: { keyId: keys.current.keyId },
      });
    if (branded)
      await audit(c.env, {
        tenantId: tenant,
        actor,
        action: "tenant.branding",
        target: `tenant:${tenant}`,
        detail: { ...(await getTenantBranding(c.env.DB, tenant)), source: "registration" },
      });
    return c.json(keysJson(c.env, keys), 200);
  });

  app.openapi(rotateRoute, async (c) => {
    const tenant = tenantOf(c).id;
    const { keys, rotated, retired } = await rotateTenantKey(c.env, tenant, now());
    if (rotated)
      await audit(c.env, {
        tenantId: tenant,
        actor: accessOf(c).actor,
        action: "tenant.key.rotate",
        target: `tenant:${tenant}`,
        detail: { keyId: keys.current.keyId, previousKeyId: retired },
      });
    return c.json(keysJson(c.env, keys), 200);
  });
}
