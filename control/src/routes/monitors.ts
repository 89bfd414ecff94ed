/**
 * Monitors, the tenant's health checks (DESIGN §3), for the admin page and the CLI:
 *
 *   GET    /v1/monitors              the tenant's monitors with state, last check and uptime (24 h, 7 d)
 *   POST   /v1/monitors              add one; the URL passes the SSRF guard first
 *   GET    /v1/monitors/{monitor}    one monitor and its recent results (the status chart)
 *   PATCH  /v1/monitors/{monitor}    change its settings; a new URL passes the SSRF guard first
 *   DELETE /v1/monitors/{monitor}    remove it with its history
 *   GET    /v1/status/monitors       the "Service status" macro's board: states, latency, uptime and
 *                                    recent history of every monitor — never their URLs
 *
 * A monitor makes our Worker request a URL of the tenant's choosing, so the URL is checked by the
 * SSRF guard (core/src/monitors/target.ts) here, and again — every redirect hop too — by every check
 * (monitors/checker.ts). Another tenant's monitor id answers 404 (the policy looks it up in the
 * caller's tenant). Adding, editing and removing are audited, and refresh the tenant's feed copy for its
 * opted-in sites (site-feeds.ts; a failed copy never fails the call).
 */

import { type OpenAPIHono, z } from "@hono/zod-openapi";
import {
  checkMonitorUrl,
  describeTargetReason,
  isSafeDisplayText,
  type MonitorTargetReason,
} from "@mini-sites/core";
import { type AppEnv, accessOf, monitorOf, tenantOf } from "../app/context.ts";
import { ApiError } from "../app/errors.ts";
import { audit } from "../audit/log.ts";
import type { ControlEnv } from "../env.ts";
import { MAX_MONITORS_PER_TENANT, MONITOR_DEFAULTS, resolverOf, targetPolicy } from "../monitors/config.ts";
import { tenantFeed } from "../monitors/feed.ts";
import { checkResolvedHost } from "../monitors/resolve.ts";
import {
  type CheckResult,
  createMonitor,
  deleteMonitor,
  listMonitors,
  type Monitor,
  type MonitorChanges,
  recentResults,
  type Uptime,
  updateMonitor,
  uptimeOf,
} from "../monitors/store.ts";
import { refreshTenantFeeds } from "../site-feeds.ts";
import { defineRoute } from "./define.ts";

/** Results shown with one monitor: about the last hour and a half at the shortest interval. */
const HISTORY_LENGTH = 90;

const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });

/** Each setting's rule, the same when a monitor is added and when it is edited. */
const MonitorFields = {
  name: z
    .string()
    .trim()
    .min(1)
    .max(100)
    // Shown to every viewer of a Service status macro: no control or text-direction characters.
    .refine(isSafeDisplayText, "must not contain control, line-break or text-direction characters")
    .openapi({ example: "Orders API" }),
  url: z.string().max(2048).openapi({ example: "https://orders.example.com/health" }),
  method: z.enum(["GET", "HEAD"]),
  expectedStatus: z
    .object({ min: z.number().int().min(100).max(599), max: z.number().int().min(100).max(599) })
    .refine((range) => range.min <= range.max, "min must not be above max")
    .openapi({ description: "Statuses that count as up (inclusive); default 200–399" }),
  timeoutSeconds: z.number().int().min(1).max(MONITOR_DEFAULTS.maxTimeoutSeconds),
  intervalSeconds: z
    .number()
    .int()
    .min(MONITOR_DEFAULTS.minIntervalSeconds, "must be at least 60 (one minute)")
    .max(MONITOR_DEFAULTS.maxIntervalSeconds),
};

const CreateBody = z
  .object({
    ...MonitorFields,
    method: MonitorFields.method.default("GET"),
    expectedStatus: MonitorFields.expectedStatus.default({
      min: MONITOR_DEFAULTS.expectedMin,
      max: MONITOR_DEFAULTS.expectedMax,
    }),
    timeoutSeconds: MonitorFields.timeoutSeconds.default(MONITOR_DEFAULTS.timeoutSeconds),
    intervalSeconds: MonitorFields.intervalSeconds.default(MONITOR_DEFAULTS.intervalSeconds),
  })
  .strict()
  .openapi("CreateMonitorRequest");

const UpdateBody = z
  .object({
    name: MonitorFields.name.optional(),
    url: MonitorFields.url.optional(),
    method: MonitorFields.method.optional(),
    expectedStatus: MonitorFields.expectedStatus.optional(),
    timeoutSeconds: MonitorFields.timeoutSeconds.optional(),
    intervalSeconds: MonitorFields.intervalSeconds.optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, "name at least one setting to change")
  .openapi("UpdateMonitorRequest");

const ResultSchema = z
  .object({
    checkedAt: z.string(),
    ok: z.boolean(),
    status: z.number().int().nullable(),
    latencyMs: z.number().int().nullable(),
    error: z.string().nullable(),
  })
  .openapi("MonitorResult");

const MonitorSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    url: z.string(),
    method: z.enum(["GET", "HEAD"]),
    expectedStatus: z.object({ min: z.number().int(), max: z.number().int() }),
    timeoutSeconds: z.number().int(),
    intervalSeconds: z.number().int(),
    state: z.enum(["unknown", "up", "down"]),
    stateChangedAt: z.string().nullable(),
    lastCheck: ResultSchema.nullable(),
    uptime: z.object({ day: z.number().nullable(), week: z.number().nullable() }),
    createdBy: z.string(),
    createdAt: z.string(),
  })
  .openapi("Monitor");

const MonitorParams = z.object({
  monitor: z.string().openapi({ param: { name: "monitor", in: "path" }, example: "mon_abcdefghijklmnop" }),
});

const listRoute = defineRoute({
  method: "get",
  path: "/v1/monitors",
  summary: "The tenant's monitors: state, last check, uptime over 24 h and 7 d",
  tags: ["monitors"],
  responses: {
    200: {
      description: "The monitors, by name",
      ...json(z.object({ monitors: z.array(MonitorSchema), max: z.number().int() }).openapi("Monitors")),
    },
  },
});

const createRoute = defineRoute(
  {
    method: "post",
    path: "/v1/monitors",
    summary: "Add a monitor (https only; never loopback, private, link-local or metadata addresses)",
    description: "Checked at once, then every `intervalSeconds`. Audited as `monitor.create`.",
    tags: ["monitors"],
    request: { body: { ...json(CreateBody), required: true } },
    responses: { 201: { description: "Added", ...json(MonitorSchema) } },
  },
  "MONITOR_TARGET_FORBIDDEN",
  "QUOTA_MONITORS",
  "NAME_TAKEN",
);

const getRoute = defineRoute(
  {
    method: "get",
    path: "/v1/monitors/{monitor}",
    summary: "One monitor and its recent results",
    tags: ["monitors"],
    request: { params: MonitorParams },
    responses: {
      200: {
        description: "The monitor, with its last results oldest first",
        ...json(MonitorSchema.extend({ history: z.array(ResultSchema) }).openapi("MonitorWithHistory")),
      },
    },
  },
  "INVALID_REQUEST",
);

const updateRoute = defineRoute(
  {
    method: "patch",
    path: "/v1/monitors/{monitor}",
    summary: "Change a monitor's name, URL, method, expected statuses, timeout or interval",
    description:
      "The same rules as adding one: a new URL passes the SSRF guard first. The monitor is checked again at once; its state and history stay until then. Audited as `monitor.update`.",
    tags: ["monitors"],
    request: { params: MonitorParams, body: { ...json(UpdateBody), required: true } },
    responses: { 200: { description: "Changed", ...json(MonitorSchema) } },
  },
  "INVALID_REQUEST",
  "MONITOR_TARGET_FORBIDDEN",
  "NAME_TAKEN",
);

const deleteRoute = defineRoute(
  {
    method: "delete",
    path: "/v1/monitors/{monitor}",
    summary: "Remove a monitor and its history",
    tags: ["monitors"],
    request: { params: MonitorParams },
    responses: {
      200: { description: "Removed", ...json(z.object({ deleted: z.boolean() }).openapi("DeletedMonitor")) },
    },
  },
  "INVALID_REQUEST",
);

const StatusBoard = z
  .object({
    monitors: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        state: z.enum(["unknown", "up", "down"]),
        stateChangedAt: z.string().nullable(),
        latencyMs: z.number().int().nullable(),
        uptime: z.object({ day: z.number().nullable(), week: z.number().nullable() }),
        history: z.array(
          z.object({ at: z.string(), ok: z.boolean(), latencyMs: z.number().int().nullable() }),
        ),
      }),
    ),
  })
  .openapi("StatusBoard");

const statusRoute = defineRoute({
  method: "get",
  path: "/v1/status/monitors",
  summary: "The Service status macro's board: each monitor's state, latency, uptime and recent results",
  description: "Names and states only: a monitor's URL is shown to the tenant's admins, never on a page.",
  tags: ["monitors"],
  responses: { 200: { description: "The board, by monitor name", ...json(StatusBoard) } },
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const resultJson = (r: CheckResult) => ({
  checkedAt: new Date(r.checkedAt).toISOString(),
  ok: r.ok,
  status: r.status,
  latencyMs: r.latencyMs,
  error: r.error,
});

export function monitorJson(m: Monitor, uptime: Uptime | undefined) {
  return {
    id: m.id,
    name: m.name,
    url: m.url,
    method: m.method,
    expectedStatus: { min: m.expectedMin, max: m.expectedMax },
    timeoutSeconds: Math.round(m.timeoutMs / 1000),
    intervalSeconds: m.intervalSeconds,
    state: m.state,
    stateChangedAt: iso(m.stateChangedAt),
    lastCheck:
      m.lastCheckedAt === null
        ? null
        : resultJson({
            checkedAt: m.lastCheckedAt,
            ok: m.lastError === null,
            status: m.lastStatus,
            latencyMs: m.lastLatencyMs,
            error: m.lastError,
          }),
    uptime: uptime ?? { day: null, week: null },
    createdBy: m.createdBy,
    createdAt: new Date(m.createdAt).toISOString(),
  };
}

/**
 * The URL as the checker will request it, or MONITOR_TARGET_FORBIDDEN with the guard's reason: first
 * the URL itself, then (with MONITOR_DNS_URL) every address its host name resolves to. A resolver
 * that cannot answer does not block the change: every check resolves again and fails closed.
 */
async function guardedUrl(url: string, env: ControlEnv): Promise<string> {
  const policy = targetPolicy(env);
  const verdict = checkMonitorUrl(url, policy);
  const refuse = (reason: MonitorTargetReason, message: string) =>
    new ApiError("MONITOR_TARGET_FORBIDDEN", `url: ${message}`, {
      issues: [{ path: "json.url", message }],
      extra: { reason },
    });
  if (!verdict.ok) throw refuse(verdict.reason, verdict.message);
  const resolve = resolverOf(env);
  if (resolve !== undefined) {
    const host = await checkResolvedHost(verdict.url, policy, resolve);
    if (!host.ok && host.reason !== "dns")
      throw refuse(
        host.reason,
        `${verdict.url.hostname} resolves to ${host.address}, which ${describeTargetReason(host.reason)}.`,
      );
  }
  return verdict.url.href;
}

export function registerMonitorRoutes(app: OpenAPIHono<AppEnv>, now: () => number = Date.now): void {
  app.openapi(listRoute, async (c) => {
    const tenant = tenantOf(c).id;
    const [monitors, uptime] = await Promise.all([
      listMonitors(c.env.DB, tenant),
      uptimeOf(c.env.DB, tenant, now()),
    ]);
    return c.json(
      { monitors: monitors.map((m) => monitorJson(m, uptime.get(m.id))), max: MAX_MONITORS_PER_TENANT },
      200,
    );
  });

  app.openapi(createRoute, async (c) => {
    const tenant = tenantOf(c).id;
    const actor = accessOf(c).actor;
    const body = c.req.valid("json");
    const url = await guardedUrl(body.url, c.env);
    const result = await createMonitor(
      c.env.DB,
      tenant,
      {
        name: body.name,
        url,
        method: body.method,
        expectedMin: body.expectedStatus.min,
        expectedMax: body.expectedStatus.max,
        timeoutMs: body.timeoutSeconds * 1000,
        intervalSeconds: body.intervalSeconds,
      },
      actor,
      now(),
    );
    if (result.kind === "full")
      throw new ApiError(
        "QUOTA_MONITORS",
        `The tenant has ${MAX_MONITORS_PER_TENANT} monitors, the most it may; remove some first.`,
      );
    if (result.kind === "nameTaken")
      throw new ApiError("NAME_TAKEN", `A monitor named "${body.name}" exists already (names ignore case).`);
    try {
      await audit(c.env, {
        tenantId: tenant,
        actor,
        action: "monitor.create",
        target: `monitor:${result.monitor.id}`,
        detail: { name: result.monitor.name, url: result.monitor.url },
      });
    } catch (error) {
      // Never a monitor the audit log does not show.
      await deleteMonitor(c.env.DB, tenant, result.monitor.id).catch(() => undefined);
      throw error;
    }
    await refreshTenantFeeds(c.env, [tenant], now());
    return c.json(monitorJson(result.monitor, undefined), 201);
  });

  app.openapi(getRoute, async (c) => {
    const tenant = tenantOf(c).id;
    const monitor = monitorOf(c);
    const [history, uptime] = await Promise.all([
      recentResults(c.env.DB, tenant, monitor.id, HISTORY_LENGTH),
      uptimeOf(c.env.DB, tenant, now()),
    ]);
    return c.json({ ...monitorJson(monitor, uptime.get(monitor.id)), history: history.map(resultJson) }, 200);
  });

  app.openapi(statusRoute, async (c) => c.json(await tenantFeed(c.env.DB, tenantOf(c).id, now()), 200));

  app.openapi(updateRoute, async (c) => {
    const tenant = tenantOf(c).id;
    const monitor = monitorOf(c);
    const body = c.req.valid("json");
    const changes: MonitorChanges = {
      ...(body.name === undefined ? {} : { name: body.name }),
      ...(body.url === undefined ? {} : { url: await guardedUrl(body.url, c.env) }),
      ...(body.method === undefined ? {} : { method: body.method }),
      ...(body.expectedStatus === undefined
        ? {}
        : { expectedMin: body.expectedStatus.min, expectedMax: body.expectedStatus.max }),
      ...(body.timeoutSeconds === undefined ? {} : { timeoutMs: body.timeoutSeconds * 1000 }),
      ...(body.intervalSeconds === undefined ? {} : { intervalSeconds: body.intervalSeconds }),
    };
    const result = await updateMonitor(c.env.DB, tenant, monitor.id, changes, now());
    if (result.kind === "nameTaken")
      throw new ApiError("NAME_TAKEN", `A monitor named "${body.name}" exists already (names ignore case).`);
    if (result.kind === "missing") throw new ApiError("NOT_FOUND", "No such monitor.");
    // Audited after the change, as `monitor.delete` is: the entry names what changed, URLs included
    // (admins see them anyway), so the log shows where a monitor pointed when.
    await audit(c.env, {
      tenantId: tenant,
      actor: accessOf(c).actor,
      action: "monitor.update",
      target: `monitor:${monitor.id}`,
      detail: {
        name: result.monitor.name,
        changed: Object.keys(changes),
        ...(changes.url ? { url: changes.url } : {}),
      },
    });
    await refreshTenantFeeds(c.env, [tenant], now());
    const uptime = await uptimeOf(c.env.DB, tenant, now());
    return c.json(monitorJson(result.monitor, uptime.get(result.monitor.id)), 200);
  });

  app.openapi(deleteRoute, async (c) => {
    const tenant = tenantOf(c).id;
    const monitor = monitorOf(c);
    const deleted = await deleteMonitor(c.env.DB, tenant, monitor.id);
    await audit(c.env, {
      tenantId: tenant,
      actor: accessOf(c).actor,
      action: "monitor.delete",
      target: `monitor:${monitor.id}`,
      detail: { name: monitor.name, deleted },
    });
    await refreshTenantFeeds(c.env, [tenant], now());
    return c.json({ deleted }, 200);
  });
}
