/**
 * The tenant itself, for its admins (the admin page, or a `tenant:admin` token):
 *
 *   GET /v1/tenant/settings   the CSP allow-lists its sites get on top of the deployment's defaults,
 *                             and the tenant's branding (display name, support link)
 *   PUT /v1/tenant/settings   replace the fields given (lists checked source by source, branding by
 *                             core/src/branding.ts; audited); a field left out stays as it is
 *   GET /v1/tenant/usage      sites, stored bytes and publishes against the quotas
 *
 * The allow-lists are checked with core/src/csp.ts: a source is pasted into a response header, so
 * anything but a plain https/wss host source is refused with the index and the reason. A save is
 * answered 200 only once the gateway's copy is written (tenant-csp.ts); sites show the change within
 * the gateway's cache TTL plus Workers KV's propagation (about a minute and a half).
 *
 * Branding is first set by the owning Forge app at registration (tenant-keys.ts), which never
 * overwrites it; what the admin sets here stays until the admin changes it again.
 */

import { type OpenAPIHono, z } from "@hono/zod-openapi";
import {
  cspListProblems,
  MAX_CSP_SOURCE_LENGTH,
  MAX_CSP_SOURCES,
  type TenantShortId,
} from "@mini-sites/core";
import { type AppEnv, accessOf, tenantOf } from "../app/context.ts";
import { ApiError } from "../app/errors.ts";
import { audit } from "../audit/log.ts";
import type { D1Database } from "../db/d1.ts";
import { countSites } from "../db/sites.ts";
import { getTenantBranding, setTenantBranding } from "../db/tenant-branding.ts";
import { getTenantSettings, putTenantSettings } from "../db/tenant-settings.ts";
import { readPublishConfig } from "../publish/config.ts";
import { publishAttemptsSince, storedBytes } from "../publish/store.ts";
import { publishAllowLists, tenantCspStore } from "../tenant-csp.ts";
import { brandingFields, checkBrandingFields } from "./branding.ts";
import { defineRoute } from "./define.ts";

const SourceList = z.array(z.string().max(MAX_CSP_SOURCE_LENGTH)).max(MAX_CSP_SOURCES);

const cdnAllowList = SourceList.openapi({
  description: "Extra sources for scripts, styles, images and fonts: `https://host` or `https://*.host`",
  example: ["https://cdn.example.com"],
});
const connectAllowList = SourceList.openapi({
  description: "Hosts the sites may call (`connect-src`): `https://…` or `wss://…`",
  example: ["https://api.example.com"],
});

const SettingsBody = z
  .object({
    cdnAllowList: cdnAllowList.optional(),
    connectAllowList: connectAllowList.optional(),
    ...brandingFields,
  })
  .strict()
  .openapi("TenantSettingsRequest");

const Settings = z
  .object({
    cdnAllowList,
    connectAllowList,
    displayName: z
      .string()
      .nullable()
      .openapi({ description: "Set by the app at registration, or by an admin" }),
    supportUrl: z.string().nullable(),
    updatedBy: z.string().nullable().openapi({ description: "Who last changed the allow-lists" }),
    updatedAt: z.string().nullable(),
  })
  .openapi("TenantSettings");

const Usage = z
  .object({
    sites: z.object({ count: z.number().int(), max: z.number().int() }),
    storedBytes: z.object({ used: z.number().int(), max: z.number().int() }),
    publishes: z.object({
      inWindow: z.number().int(),
      max: z.number().int(),
      windowSeconds: z.number().int(),
    }),
  })
  .openapi("TenantUsage");

const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });

const getSettingsRoute = defineRoute({
  method: "get",
  path: "/v1/tenant/settings",
  summary: "The tenant's CSP allow-lists for its sites",
  tags: ["tenant"],
  responses: { 200: { description: "The settings", ...json(Settings) } },
});

const putSettingsRoute = defineRoute(
  {
    method: "put",
    path: "/v1/tenant/settings",
    summary:
      "Replace the tenant's CSP allow-lists (every site of the tenant, within about 90 seconds) and/or its branding",
    description:
      "Answers 200 once the gateway has been given the lists; `SETTINGS_NOT_APPLIED` when they were " +
      "recorded but the gateway could not be given them (sites keep the previous lists: save again).",
    tags: ["tenant"],
    request: { body: { ...json(SettingsBody), required: true } },
    responses: { 200: { description: "The settings", ...json(Settings) } },
  },
  "NOT_CONFIGURED",
  "SETTINGS_NOT_APPLIED",
);

const usageRoute = defineRoute({
  method: "get",
  path: "/v1/tenant/usage",
  summary: "Sites, stored bytes and publishes, against the tenant's quotas",
  tags: ["tenant"],
  responses: { 200: { description: "Usage", ...json(Usage) } },
});

async function settingsJson(db: D1Database, tenant: TenantShortId) {
  const [s, branding] = await Promise.all([getTenantSettings(db, tenant), getTenantBranding(db, tenant)]);
  return {
    cdnAllowList: [...s.cdnAllowList],
    connectAllowList: [...s.connectAllowList],
    displayName: branding.displayName,
    supportUrl: branding.supportUrl,
    updatedBy: s.updatedBy,
    updatedAt: s.updatedAt === null ? null : new Date(s.updatedAt).toISOString(),
  };
}

export function registerTenantRoutes(app: OpenAPIHono<AppEnv>, now: () => number = Date.now): void {
  app.openapi(getSettingsRoute, async (c) => c.json(await settingsJson(c.env.DB, tenantOf(c).id), 200));

  app.openapi(putSettingsRoute, async (c) => {
    const tenant = tenantOf(c);
    const body = c.req.valid("json");
    const issues = [
      ...cspListProblems(body.cdnAllowList ?? [], "cdn").map((p) => ({
        path: `json.cdnAllowList.${p.index}`,
        message: p.problem,
      })),
      ...cspListProblems(body.connectAllowList ?? [], "connect").map((p) => ({
        path: `json.connectAllowList.${p.index}`,
        message: p.problem,
      })),
    ];
    const first = issues[0];
    if (first !== undefined) throw new ApiError("INVALID_REQUEST", `${first.path}: ${first.message}`, issues);
    const branding = checkBrandingFields(c.env, body);
    const listsGiven = body.cdnAllowList !== undefined || body.connectAllowList !== undefined;
    // Lists the gateway could never see are refused before anything is recorded.
    const store = listsGiven ? tenantCspStore(c.env) : undefined;
    const actor = accessOf(c).actor;
    if (branding.displayName !== undefined || branding.supportUrl !== undefined) {
      const previous = await getTenantBranding(c.env.DB, tenant.id);
      await setTenantBranding(c.env.DB, tenant.id, branding, now());
      await audit(c.env, {
        tenantId: tenant.id,
        actor,
        action: "tenant.branding",
        target: `tenant:${tenant.id}`,
        detail: { ...branding, previous, source: "admin" },
      });
    }
    if (store === undefined) return c.json(await settingsJson(c.env.DB, tenant.id), 200);
    const before = await getTenantSettings(c.env.DB, tenant.id);
    const lists = {
      cdnAllowList: body.cdnAllowList ?? before.cdnAllowList,
      connectAllowList: body.connectAllowList ?? before.connectAllowList,
    };
    await putTenantSettings(c.env.DB, tenant.id, lists, actor, now());
    const applied = await publishAllowLists(store, c.env.DB, tenant.id).then(
      () => true,
      () => false,
    );
    // The record changed either way, so the change is audited either way, with whether it applies.
    await audit(c.env, {
      tenantId: tenant.id,
      actor,
      action: "tenant.settings",
      target: `tenant:${tenant.id}`,
      detail: {
        cdnAllowList: lists.cdnAllowList,
        connectAllowList: lists.connectAllowList,
        previous: { cdnAllowList: before.cdnAllowList, connectAllowList: before.connectAllowList },
        applied,
      },
    });
    if (!applied)
      throw new ApiError(
        "SETTINGS_NOT_APPLIED",
        "The allow-lists were recorded, but the gateway could not be given them: sites still get the " +
          "previous lists. Save again in a moment; the next maintenance pass also applies them.",
      );
    return c.json(await settingsJson(c.env.DB, tenant.id), 200);
  });

  app.openapi(usageRoute, async (c) => {
    const tenant = tenantOf(c).id;
    const config = readPublishConfig(c.env);
    const [sites, bytes, publishes] = await Promise.all([
      countSites(c.env.DB, tenant),
      storedBytes(c.env.DB, tenant, now()),
      publishAttemptsSince(c.env.DB, tenant, now() - config.rateWindowSeconds * 1000),
    ]);
    return c.json(
      {
        sites: { count: sites, max: config.maxSitesPerTenant },
        storedBytes: { used: bytes, max: config.maxStoredBytesPerTenant },
        publishes: {
          inWindow: publishes.count,
          max: config.publishesPerWindow,
          windowSeconds: config.rateWindowSeconds,
        },
      },
      200,
    );
  });
}
