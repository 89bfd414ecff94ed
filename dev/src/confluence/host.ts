/**
 * The local Confluence (DESIGN §7): Confluence-like pages that render the Mini-Sites macro by loading
 * the app's real built Custom UI from the local CDN (forge/cdn.ts) in a frame on an origin of its own,
 * and the Forge host's side of the bridge — what Atlassian runs, played here:
 *   - `getContext`: the module's context from this server's model (page, space, localId, config,
 *     isEditing, the user's account id, the theme);
 *   - `invoke` with `invokeType: 'ui-remote-fetch'` (invokeRemote): the module's resolver endpoint →
 *     remote base URL, with a FIT signed by the local JWKS (page context + principal) and, when the
 *     endpoint asks for it, the user's own Confluence token in `x-forge-oauth-user`;
 *   - `invoke` with a functionKey: the module's resolver function, run by ForgeFunctions;
 *   - `fetchRemote` (requestRemote): the FIT without the user token; a multipart body is rebuilt from
 *     the bridge's base64 file parts, the only way the bridge carries binary;
 *   - the page-side calls (submit, close, navigate, openModal, emit/on, enableTheming) are answered in
 *     the browser by host-page.js.
 * Sites are told apart by host name: `acme.localhost:<port>` and `globex.localhost:<port>` (Chromium
 * resolves `*.localhost` itself); the bare `localhost:<port>` is a landing page and the dev-only FIT
 * endpoint. Users switch with a cookie. Trash, restore, delete and copy change the model and the REST
 * stand-in at once, and page events reach the app as Forge delivers them (forge/events.ts): after
 * the change, asynchronously, with the event payload Forge documents, to the trigger's endpoint on
 * the control Worker. A Confluence admin can uninstall and reinstall the app on a site (preUninstall,
 * then the installed event) and choose which Marketplace license the site's FITs carry.
 */

import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { FORGE_MODULE_KEYS } from "@mini-sites/core";
import { type ForgeManifest, moduleByKey, remoteOfEndpoint } from "../forge/app.ts";
import type { CustomUiCdn } from "../forge/cdn.ts";
import { type DeliveryRecord, EventDelivery, PRE_UNINSTALL, SCHEDULE_INTERVAL_MS } from "../forge/events.ts";
import { type FitPageContext, signFit } from "../forge/fit.ts";
import type { ForgeFunctions } from "../forge/functions.ts";
import {
  environmentOf,
  type ForgeInstallation,
  fitClaimsFor,
  LICENSE_STATES,
  type LicenseState,
} from "../forge/installation.ts";
import type { FitSigner } from "../forge/signer.ts";
import { HostState } from "./host-state.ts";
import { LOCAL_SITES, type LocalPage, type LocalSite, samplePages } from "./sites.ts";
import { type ConfluenceStandIn, SAMPLE_ACCOUNT_IDS, SAMPLE_ADMINS } from "./standin.ts";

export const USER_COOKIE = "confluence-user";
export const DEFAULT_USER = "editor";
/** The dev-only endpoint that mints FITs with chosen claims (tests, tools). */
export const DEV_FIT_PATH = "/__dev/fit";
/** Bridge calls bigger than this are refused (a chunk is 5 MiB, base64 in JSON ~6.7 MiB). */
const MAX_BRIDGE_BODY = 16 * 1024 * 1024;
/** Forge caps a web trigger's request body; reports are a few hundred bytes. */
const MAX_WEBTRIGGER_BODY = 1024 * 1024;
/** Where the app's web trigger keeps reported states in its KVS (forge-app/src/monitors.ts KVS_STATUS). */
const MONITOR_STATUS_KEY = "monitors:status";
/** Web trigger calls kept for the monitors page and tests. */
const MAX_WEBTRIGGER_LOG = 200;

/** One call of a web trigger and the function's answer. */
export interface WebTriggerCall {
  readonly site: string;
  readonly triggerKey: string;
  readonly statusCode: number;
  readonly at: number;
  /** The function's answer body. */
  readonly body: string;
  /** What was sent (a stand-in's record: tests replay it to prove replays are refused). */
  readonly request: { readonly headers: Readonly<Record<string, string[]>>; readonly body: string };
}

export interface LocalConfluenceOptions {
  readonly port?: number;
  /** Where the host keeps what it remembers across restarts (installed sites, license states). */
  readonly dataDir: string;
  readonly manifest: ForgeManifest;
  readonly signer: FitSigner;
  readonly appId: string;
  readonly confluence: ConfluenceStandIn;
  readonly functions: ForgeFunctions;
  readonly cdn: CustomUiCdn;
  /** Reserved port (the CDN's frame-ancestors and the gateway's EMBED_ANCESTORS must know it). */
  readonly log?: (line: string) => void;
  /** When the scheduled triggers first run after start (default 30 s); then at their intervals. */
  readonly firstScheduledRunMs?: number;
}

export interface LocalConfluence {
  /** `http://localhost:<port>`: the landing page. */
  readonly url: string;
  readonly port: number;
  siteUrl(site: string): string;
  installation(site: string): ForgeInstallation;
  readonly sites: readonly LocalSite[];
  pages(): readonly LocalPage[];
  /** Every product and lifecycle event delivered so far, with the remote's answer. */
  readonly deliveries: readonly DeliveryRecord[];
  /** Every web trigger call so far (the signed monitor reports), with the function's answer. */
  readonly webTriggerCalls: readonly WebTriggerCall[];
  /** Resolves when the events delivered so far have been answered (tests). */
  settled(): Promise<void>;
  /** Runs the app's scheduled triggers (all, or one) on every installed site now. */
  runScheduled(triggerKey?: string): Promise<DeliveryRecord[]>;
  close(): Promise<void>;
}

/** A frame of the host page: which module, on which page and macro. */
interface FrameRef {
  readonly module: "macro" | "config" | "admin";
  readonly pageId?: string;
  readonly localId?: string;
  readonly isEditing?: boolean;
  readonly theme?: "light" | "dark";
  readonly modal?: unknown;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function userOf(request: IncomingMessage): string {
  const cookie = request.headers.cookie ?? "";
  const match = new RegExp(`(?:^|;\\s*)${USER_COOKIE}=([a-z]+)`).exec(cookie);
  const user = match?.[1];
  return user !== undefined && user in SAMPLE_ACCOUNT_IDS ? user : DEFAULT_USER;
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BRIDGE_BODY) throw new HttpError(413, "The call is too large.");
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  return text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
}

function send(response: ServerResponse, status: number, body: unknown, type = "application/json") {
  response.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  response.end(type === "application/json" ? JSON.stringify(body) : String(body));
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function startLocalConfluence(options: LocalConfluenceOptions): Promise<LocalConfluence> {
  const { confluence, manifest } = options;
  const pages = samplePages();
  const hostPageJs = await readFile(new URL("./host-page.js", import.meta.url), "utf8");
  let port = 0;
  const log = options.log ?? (() => {});
  const state = await HostState.load(join(options.dataDir, "forge", "local-confluence.json"));
  const events = new EventDelivery({
    manifest,
    signer: options.signer,
    functions: options.functions,
    log,
    systemToken: (installation) => confluence.systemTokenFor(installation.installationId),
  });

  const webTriggerCalls: WebTriggerCall[] = [];
  const siteByKey = (key: string) => LOCAL_SITES.find((s) => s.key === key);
  const siteUrl = (key: string) => `http://${key}.localhost:${port}`;
  const apiBaseUrl = (site: LocalSite) => `${confluence.url}/ex/confluence/${site.cloudId}`;
  const installation = (key: string): ForgeInstallation => {
    const site = siteByKey(key);
    if (site === undefined) throw new RangeError(`no local site ${key}`);
    return {
      appId: options.appId,
      installationId: site.installationId,
      cloudId: site.cloudId,
      apiBaseUrl: apiBaseUrl(site),
      siteUrl: siteUrl(key),
      license: state.of(key).license,
    };
  };

  /** Tells the REST stand-in about a page and who may do what on it (the model is the truth). */
  const register = (page: LocalPage) => {
    const site = siteByKey(page.site);
    if (site === undefined) return;
    confluence.addContent({
      id: page.id,
      type: page.type,
      title: page.title,
      cloudId: site.cloudId,
      status: page.status,
    });
    for (const [user, operations] of Object.entries(site.users)) {
      const allowed = page.restrictedTo === undefined || page.restrictedTo.includes(user);
      confluence.setPermission(user, page.id, allowed ? operations : []);
    }
  };
  for (const page of pages) register(page);

  const pageById = (site: LocalSite, id: string | undefined) => {
    const page = pages.find((p) => p.id === id && p.site === site.key);
    if (page === undefined) throw new HttpError(404, `No page ${id} on ${site.key}.`);
    return page;
  };
  const can = (user: string, page: LocalPage, operation: "read" | "update") =>
    confluence.operationsOf(user, page.id).includes(operation);

  /** The module context Forge would give this frame (also the FIT's `context`). */
  function contextOf(site: LocalSite, user: string, frame: FrameRef) {
    const accountId = SAMPLE_ACCOUNT_IDS[user as keyof typeof SAMPLE_ACCOUNT_IDS];
    const theme = frame.theme === "dark" ? "dark" : "light";
    const forge = installation(site.key);
    const environment = environmentOf(forge);
    const common = {
      accountId,
      cloudId: site.cloudId,
      siteUrl: siteUrl(site.key),
      locale: "en-US",
      timezone: "UTC",
      environmentType: environment.type,
      environmentId: environment.id.split("/").at(-1),
      ...(forge.license === "none" ? {} : { license: { isActive: forge.license === "active" } }),
      theme: {
        colorMode: theme,
        dark: "dark",
        light: "light",
        spacing: "spacing",
        typography: "typography-adg3",
      },
    };
    if (frame.module === "admin") {
      if (!SAMPLE_ADMINS.includes(user as never) && !confluenceAdmin(user))
        throw new HttpError(403, "Only Confluence administrators can open this page.");
      return {
        ...common,
        localId: `${FORGE_MODULE_KEYS.admin}-global`,
        moduleKey: FORGE_MODULE_KEYS.admin,
        extension: { type: "confluence:globalSettings" },
      };
    }
    const page = pageById(site, frame.pageId);
    // A trashed page can still be opened (read only, with its macros) until it is deleted for good.
    if (!can(user, page, "read") || page.status === "deleted") throw new HttpError(404, "No such page.");
    const block = page.body.find((b) => b.macro?.localId === frame.localId);
    if (block?.macro === undefined) throw new HttpError(404, "No such macro on the page.");
    if (frame.module === "config" && (!can(user, page, "update") || page.status !== "current"))
      throw new HttpError(403, "You can't edit this page.");
    return {
      ...common,
      localId: block.macro.localId,
      moduleKey: block.macro.moduleKey ?? FORGE_MODULE_KEYS.macro,
      extension: {
        type: "macro",
        content: { id: page.id, type: page.type },
        space: { key: page.spaceKey },
        config: block.macro.config,
        isEditing: frame.module === "config" || frame.isEditing === true,
        ...(frame.modal === undefined ? {} : { modal: frame.modal }),
      },
    };
  }
  const confluenceAdmin = (user: string) => SAMPLE_ADMINS.includes(user as never);

  async function fitFor(
    site: LocalSite,
    user: string | undefined,
    context: ReturnType<typeof contextOf> | null,
  ) {
    const page: FitPageContext | null =
      context === null
        ? null
        : {
            localId: context.localId,
            moduleKey: context.moduleKey,
            siteUrl: context.siteUrl,
            extensionType: context.extension.type,
            ...("content" in context.extension ? { content: context.extension.content } : {}),
            ...("space" in context.extension ? { space: context.extension.space } : {}),
            isEditing: "isEditing" in context.extension ? context.extension.isEditing : false,
          };
    return signFit(
      options.signer,
      fitClaimsFor(installation(site.key), {
        ...(user === undefined
          ? {}
          : { principal: SAMPLE_ACCOUNT_IDS[user as keyof typeof SAMPLE_ACCOUNT_IDS] }),
        context: page,
      }),
    );
  }

  function endpointOf(moduleKey: string) {
    const module =
      moduleByKey(manifest, "macro", moduleKey) ??
      moduleByKey(manifest, "confluence:globalSettings", moduleKey);
    const endpointKey = module?.resolver?.endpoint;
    return endpointKey === undefined ? undefined : remoteOfEndpoint(manifest, endpointKey);
  }

  /** The answers of the host-side bridge calls. */
  async function bridge(
    site: LocalSite,
    user: string,
    frame: FrameRef,
    name: string,
    payload: Record<string, unknown>,
  ) {
    const context = contextOf(site, user, frame);
    if (name === "getContext") return context;
    if (name === "invoke" && payload.invokeType === "ui-remote-fetch") {
      const target = endpointOf(context.moduleKey);
      if (target === undefined) throw new HttpError(400, "This module has no remote endpoint.");
      const headers = new Headers(
        Object.entries((payload.headers ?? {}) as Record<string, string>).filter(
          ([key]) => !/^(authorization|x-forge-oauth-user|host|cookie)$/i.test(key),
        ),
      );
      headers.set("authorization", `Bearer ${await fitFor(site, user, context)}`);
      if (target.endpoint.auth?.appUserToken?.enabled === true)
        headers.set("x-forge-oauth-user", confluence.tokenFor(user));
      const body = payload.body;
      const hasBody = body !== undefined && payload.method !== "GET" && payload.method !== "HEAD";
      if (hasBody && typeof body !== "string") headers.set("content-type", "application/json");
      const response = await fetch(target.remote.baseUrl.replace(/\/+$/, "") + String(payload.path), {
        method: String(payload.method ?? "GET"),
        headers,
        ...(hasBody ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
        redirect: "manual",
      });
      const text = await response.text();
      const type = response.headers.get("content-type") ?? "";
      let parsed: unknown = text;
      if (type.includes("json") && text !== "") parsed = JSON.parse(text);
      const answer = {
        status: response.status,
        headers: Object.fromEntries([...response.headers].map(([k, v]) => [k, [v]])),
        body: parsed,
      };
      return response.status < 400 ? { success: true, payload: answer } : { success: false, error: answer };
    }
    if (name === "invoke") {
      const module = moduleByKey(manifest, "macro", context.moduleKey);
      const functionKey = module?.resolver?.function;
      if (functionKey === undefined)
        throw new HttpError(400, "This module's resolver is a remote endpoint: use invokeRemote.");
      return options.functions.invoke(
        installation(site.key),
        functionKey,
        { call: { functionKey: payload.functionKey, payload: payload.payload }, context },
        {
          principal: { accountId: context.accountId },
          installContext: `ari:cloud:confluence::site/${site.cloudId}`,
        },
      );
    }
    if (name === "fetchRemote") {
      const remote = manifest.remotes?.find((r) => r.key === payload.remoteKey);
      if (remote === undefined || !(remote.operations ?? []).includes("fetch"))
        throw new HttpError(400, `No remote "${String(payload.remoteKey)}" with the fetch operation.`);
      const init = (payload.fetchRequestInit ?? {}) as {
        path?: string;
        method?: string;
        headers?: [string, string][];
        body?: string | null;
      };
      const headers = new Headers(
        (init.headers ?? []).filter(
          ([key]) => !/^(authorization|x-forge-oauth-user|content-length|host|cookie)$/i.test(key),
        ),
      );
      // requestRemote carries a FIT but no user token (Forge: "will not include OAuth tokens").
      headers.set("authorization", `Bearer ${await fitFor(site, user, context)}`);
      let body: string | FormData | undefined = init.body ?? undefined;
      if (payload.isMultipartFormData === true && typeof init.body === "string") {
        const parts = JSON.parse(init.body) as Record<string, string>;
        const form = new FormData();
        for (const [key, value] of Object.entries(parts)) {
          if (key.startsWith("__")) continue;
          const fileName = parts[`__${key}Name`];
          if (fileName !== undefined) {
            const base64 = value.includes(";base64,") ? (value.split(",")[1] ?? "") : value;
            form.append(
              key,
              new Blob([Buffer.from(base64, "base64")], { type: parts[`__${key}Type`] ?? "" }),
              fileName,
            );
          } else form.append(key, value);
        }
        headers.delete("content-type");
        body = form;
      }
      const response = await fetch(remote.baseUrl.replace(/\/+$/, "") + (init.path ?? "/"), {
        method: init.method ?? "GET",
        headers,
        ...(body === undefined || init.method === "GET" ? {} : { body }),
        redirect: "manual",
      });
      return {
        status: response.status,
        statusText: response.statusText,
        headers: Object.fromEntries(response.headers),
        body: await response.text(),
        isAttachment: false,
      };
    }
    throw new HttpError(400, `The host does not answer "${name}" on the server.`);
  }

  /** Delivers a product or lifecycle event after the change that caused it, as Forge does. */
  function deliver(site: LocalSite, eventType: string, event: Record<string, unknown>) {
    return events.deliver(installation(site.key), eventType, event);
  }

  /** The installed event Forge sends once per installation (the app's key, version and installer). */
  async function install(site: LocalSite, user: string) {
    const [record] = await deliver(site, "avi:forge:installed:app", {
      id: randomUUID(),
      installerAccountId: SAMPLE_ACCOUNT_IDS[user as keyof typeof SAMPLE_ACCOUNT_IDS],
      app: { id: `ari:cloud:ecosystem::app/${options.appId}`, version: "1.0.0" },
      context: { cloudId: site.cloudId },
    });
    if (record?.ok === true) await state.set(site.key, { installed: true });
    return record;
  }

  function contentEvent(page: LocalPage, user: string) {
    return {
      atlassianId: SAMPLE_ACCOUNT_IDS[user as keyof typeof SAMPLE_ACCOUNT_IDS],
      suppressNotifications: false,
      content: {
        id: page.id,
        type: page.type,
        status: page.status,
        title: page.title,
        space: { key: page.spaceKey },
      },
    };
  }

  async function pageAction(
    site: LocalSite,
    user: string,
    page: LocalPage,
    action: string,
    body: Record<string, unknown>,
  ) {
    if (!can(user, page, "update")) throw new HttpError(403, "You can't edit this page.");
    switch (action) {
      case "copy": {
        const id = String(Math.max(...pages.map((p) => Number(p.id))) + 1);
        // A copy keeps the body — macros, their localIds and configs — and gets a new content id.
        const copy: LocalPage = {
          ...page,
          id,
          title: `Copy of ${page.title}`,
          status: "current",
          body: page.body.map((b) =>
            b.macro === undefined ? { ...b } : { macro: { ...b.macro, config: { ...b.macro.config } } },
          ),
        };
        pages.push(copy);
        register(copy);
        return { id, url: `/wiki/spaces/${copy.spaceKey}/pages/${id}` };
      }
      case "trash":
      case "restore":
      case "delete": {
        const to = action === "trash" ? "trashed" : action === "restore" ? "current" : "deleted";
        if (action === "restore" && page.status !== "trashed")
          throw new HttpError(409, "Only a trashed page can be restored.");
        if (action === "delete" && page.status !== "trashed")
          throw new HttpError(409, "Trash the page first.");
        page.status = to;
        confluence.setStatus(page.id, to);
        const eventType = `avi:confluence:${action === "trash" ? "trashed" : action === "restore" ? "restored" : "deleted"}:${page.type}`;
        // Not awaited: Forge delivers events after the change, and Confluence does not wait for apps.
        void deliver(site, eventType, contentEvent(page, user));
        return { status: to };
      }
      case "insert-macro": {
        const localId = randomUUID();
        page.body.push({ macro: { localId, config: {} } });
        return { localId };
      }
      case "config": {
        const block = page.body.find((b) => b.macro?.localId === body.localId);
        if (block?.macro === undefined) throw new HttpError(404, "No such macro.");
        const config = (body.config ?? {}) as Record<string, unknown>;
        block.macro.config = typeof config === "object" && config !== null ? { ...config } : {};
        return { ok: true };
      }
      default:
        throw new HttpError(404, `No page action ${action}.`);
    }
  }

  /** Runs every scheduledTrigger on every site the app is installed on (Forge runs them per installation). */
  async function runScheduled(triggerKey?: string): Promise<DeliveryRecord[]> {
    const records: DeliveryRecord[] = [];
    for (const trigger of events.scheduledTriggers()) {
      if (triggerKey !== undefined && trigger.key !== triggerKey) continue;
      for (const site of LOCAL_SITES)
        if (state.of(site.key).installed)
          records.push(await events.runScheduled(installation(site.key), trigger.key));
    }
    return records;
  }

  /** What a Confluence admin does to the app on a site: its license, uninstall, install. */
  async function appOnSite(site: LocalSite, user: string, action: string, body: Record<string, unknown>) {
    if (!confluenceAdmin(user)) throw new HttpError(403, "Only a Confluence administrator manages apps.");
    switch (action) {
      case "license": {
        const license = String(body.license) as LicenseState;
        if (!LICENSE_STATES.includes(license))
          throw new HttpError(400, `license is one of ${LICENSE_STATES.join(", ")}.`);
        // The next FIT carries it: Forge reads the license at each invocation, it sends no event.
        await state.set(site.key, { license });
        return { license };
      }
      case "uninstall": {
        const records = await deliver(site, PRE_UNINSTALL, {
          app: { id: `ari:cloud:ecosystem::app/${options.appId}` },
          context: { cloudId: site.cloudId },
        });
        await state.set(site.key, { installed: false });
        return { installed: false, deliveries: records };
      }
      case "scheduled": {
        // Forge runs scheduled triggers by itself; the host's admin can also run them now.
        const records = await runScheduled();
        return { deliveries: records.filter((r) => r.installationId === site.installationId) };
      }
      default: {
        const record = await install(site, user);
        return { installed: record?.ok === true, deliveries: record === undefined ? [] : [record] };
      }
    }
  }

  async function exportPage(site: LocalSite, user: string, page: LocalPage) {
    const out: unknown[] = [];
    const macroModule = moduleByKey(manifest, "macro", FORGE_MODULE_KEYS.macro);
    for (const block of page.body) {
      if (block.macro === undefined || macroModule?.adfExport === undefined) continue;
      if ((block.macro.moduleKey ?? FORGE_MODULE_KEYS.macro) !== FORGE_MODULE_KEYS.macro) continue;
      const context = contextOf(site, user, {
        module: "macro",
        pageId: page.id,
        localId: block.macro.localId,
      });
      out.push(
        await options.functions.invoke(installation(site.key), macroModule.adfExport.function, {
          exportType: "pdf",
          extensionPayload: { config: block.macro.config, exportType: "pdf" },
          context,
        }),
      );
    }
    return out;
  }

  function shell(site: LocalSite, user: string, boot: Record<string, unknown>) {
    const data = {
      ...boot,
      site: { key: site.key, name: site.name, spaces: site.spaces },
      sites: LOCAL_SITES.map((s) => ({ key: s.key, name: s.name, url: siteUrl(s.key) })),
      user,
      users: Object.keys(SAMPLE_ACCOUNT_IDS),
      admin: confluenceAdmin(user),
      app: { ...state.of(site.key), licenses: LICENSE_STATES },
      cdnOrigin: options.cdn.origin,
      resources: Object.fromEntries(
        manifest.resources.map((r) => [r.key, options.cdn.resourceUrl(r.key, "FRAME", siteUrl(site.key))]),
      ),
      // Each macro module's view resource, so a page renders whichever of the app's macros it holds.
      macroResources: Object.fromEntries(
        (manifest.modules.macro ?? []).map((m) => [m.key, m.resource ?? "view"]),
      ),
      pages: pages
        .filter((p) => p.site === site.key && p.status !== "deleted" && can(user, p, "read"))
        .map((p) => ({ id: p.id, title: p.title, spaceKey: p.spaceKey, status: p.status, type: p.type })),
    };
    const json = JSON.stringify(data).replace(/</g, "\\u003c");
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(String(boot.title ?? site.name))} – Confluence (local)</title>
<script type="application/json" id="bootstrap">${json}</script><script type="module" src="/__host/host-page.js"></script></head>
<body><div id="app"></div></body></html>`;
  }

  async function handleSite(site: LocalSite, request: IncomingMessage, response: ServerResponse) {
    const url = new URL(request.url ?? "/", siteUrl(site.key));
    const user = userOf(request);
    const path = url.pathname;
    if (path === "/__host/host-page.js")
      return send(response, 200, hostPageJs, "text/javascript; charset=utf-8");
    if (path === "/__host/session" && request.method === "POST") {
      const body = await readJson(request);
      const next = String(body.user ?? "");
      if (!(next in SAMPLE_ACCOUNT_IDS)) throw new HttpError(400, "No such user.");
      response.setHeader("set-cookie", `${USER_COOKIE}=${next}; Path=/; SameSite=Lax`);
      return send(response, 200, { user: next });
    }
    if (path === "/__host/monitors" || path === "/__host/monitors.json") {
      // What the app's web trigger stored from verified reports (Forge KVS), and every call it got.
      const kvs = await options.functions.kvsOf(installation(site.key)).snapshot();
      const status = (kvs[MONITOR_STATUS_KEY] ?? { monitors: {}, events: [] }) as {
        monitors: Record<
          string,
          { name: string; state: string; at: number; latencyMs: number | null; error: string | null }
        >;
        events: { name: string; from: string; to: string; at: number }[];
      };
      const calls = webTriggerCalls
        .filter((c) => c.site === site.key)
        .map(({ request: _request, ...call }) => call);
      if (path.endsWith(".json")) return send(response, 200, { ...status, webTriggerCalls: calls });
      const rows = Object.values(status.monitors)
        .map(
          (m) =>
            `<tr><td>${escapeHtml(m.name)}</td><td class="${m.state}">${m.state}</td><td>${new Date(m.at).toISOString()}</td><td>${m.latencyMs ?? ""}</td><td>${escapeHtml(m.error ?? "")}</td></tr>`,
        )
        .join("");
      const log = calls
        .slice(-20)
        .reverse()
        .map(
          (c) =>
            `<li>${new Date(c.at).toISOString()} ${c.statusCode} ${escapeHtml(c.body.slice(0, 80))}</li>`,
        )
        .join("");
      return send(
        response,
        200,
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5"><title>Service status – ${escapeHtml(site.name)}</title></head><body><h1>Service status (signed reports received)</h1><table><thead><tr><th>Monitor</th><th>State</th><th>Since</th><th>Latency (ms)</th><th>Error</th></tr></thead><tbody>${rows}</tbody></table><h2>Web trigger calls</h2><ul>${log}</ul></body></html>`,
        "text/html; charset=utf-8",
      );
    }
    if (path === "/__host/bridge" && request.method === "POST") {
      const body = await readJson(request);
      const value = await bridge(
        site,
        user,
        body.frame as FrameRef,
        String(body.name),
        (body.payload ?? {}) as Record<string, unknown>,
      );
      return send(response, 200, { value: value ?? null });
    }
    const appAction = /^\/__host\/app\/(license|uninstall|install|scheduled)$/.exec(path);
    if (appAction !== null && request.method === "POST")
      return send(
        response,
        200,
        await appOnSite(site, user, appAction[1] as string, await readJson(request)),
      );
    const action = /^\/__host\/pages\/([0-9]+)\/([a-z-]+)$/.exec(path);
    if (action !== null && request.method === "POST") {
      const page = pageById(site, action[1]);
      return send(
        response,
        200,
        await pageAction(site, user, page, action[2] as string, await readJson(request)),
      );
    }
    if (path === "/" || path === "/wiki" || path === "/wiki/") {
      const first = pages.find((p) => p.site === site.key && p.status === "current" && can(user, p, "read"));
      response.writeHead(302, {
        location:
          first === undefined ? "/wiki/admin/mini-sites" : `/wiki/spaces/${first.spaceKey}/pages/${first.id}`,
      });
      return response.end();
    }
    if (path === "/wiki/admin/mini-sites")
      return send(
        response,
        200,
        shell(site, user, { view: "admin", title: "Mini-Sites administration" }),
        "text/html; charset=utf-8",
      );
    const pageMatch = /^\/wiki\/spaces\/([A-Z]+)\/(pages|pdfexport)\/([0-9]+)$/.exec(path);
    if (pageMatch !== null) {
      const page = pages.find((p) => p.id === pageMatch[3] && p.site === site.key);
      const visible = page !== undefined && page.status !== "deleted" && can(user, page, "read");
      if (!visible)
        return send(
          response,
          404,
          shell(site, user, { view: "missing", title: "Page not found" }),
          "text/html; charset=utf-8",
        );
      const pageData = {
        id: page.id,
        type: page.type,
        title: page.title,
        spaceKey: page.spaceKey,
        status: page.status,
        canEdit: can(user, page, "update"),
        restricted: page.restrictedTo !== undefined,
        body: page.body,
      };
      if (pageMatch[2] === "pdfexport")
        return send(
          response,
          200,
          shell(site, user, {
            view: "export",
            title: page.title,
            page: pageData,
            export: await exportPage(site, user, page),
          }),
          "text/html; charset=utf-8",
        );
      const editable = pageData.canEdit && page.status === "current";
      const mode = url.searchParams.get("mode") === "edit" && editable ? "edit" : "view";
      return send(
        response,
        200,
        shell(site, user, { view: "page", mode, title: page.title, page: pageData }),
        "text/html; charset=utf-8",
      );
    }
    return send(response, 404, { error: "No such page in the local Confluence." });
  }

  /**
   * A web trigger, as Forge serves one: unauthenticated by design (the function decides), the request
   * handed over as `{method, headers: Record<string, string[]>, body, path, queryParameters}` and the
   * function's `{statusCode, headers, body}` sent back. Every call is kept for the monitors page.
   */
  async function handleWebTrigger(
    installationId: string,
    triggerKey: string,
    request: IncomingMessage,
    response: ServerResponse,
  ) {
    const site = LOCAL_SITES.find((s) => s.installationId === installationId);
    const module = moduleByKey(manifest, "webtrigger", triggerKey);
    if (site === undefined || module?.function === undefined || !state.of(site.key).installed)
      return send(response, 404, { error: "No such web trigger." });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request) {
      size += (chunk as Buffer).length;
      if (size > MAX_WEBTRIGGER_BODY) return send(response, 413, { error: "The body is too large." });
      chunks.push(chunk as Buffer);
    }
    const headers: Record<string, string[]> = {};
    for (let i = 0; i < request.rawHeaders.length; i += 2) {
      const name = (request.rawHeaders[i] as string).toLowerCase();
      headers[name] = [...(headers[name] ?? []), request.rawHeaders[i + 1] as string];
    }
    const url = new URL(request.url ?? "/", `http://localhost:${port}`);
    let answer: { statusCode?: number; headers?: Record<string, string[]>; body?: string } = {};
    const body = Buffer.concat(chunks).toString("utf8");
    try {
      answer = ((await options.functions.invoke(installation(site.key), module.function, {
        method: request.method ?? "GET",
        headers,
        body,
        path: url.pathname,
        queryParameters: Object.fromEntries(
          [...url.searchParams.keys()].map((k) => [k, url.searchParams.getAll(k)]),
        ),
      })) ?? {}) as typeof answer;
    } catch (error) {
      log(`web trigger ${triggerKey} on ${site.key}: ${(error as Error).message}`);
      answer = { statusCode: 500, body: "" };
    }
    const statusCode = answer.statusCode ?? 200;
    webTriggerCalls.push({
      site: site.key,
      triggerKey,
      statusCode,
      at: Date.now(),
      body: answer.body ?? "",
      request: { headers, body },
    });
    webTriggerCalls.splice(0, Math.max(0, webTriggerCalls.length - MAX_WEBTRIGGER_LOG));
    response.writeHead(
      statusCode,
      Object.fromEntries(Object.entries(answer.headers ?? {}).map(([k, v]) => [k, v.join(", ")])),
    );
    response.end(statusCode === 204 ? undefined : (answer.body ?? ""));
  }

  async function handleLanding(request: IncomingMessage, response: ServerResponse) {
    const url = new URL(request.url ?? "/", `http://localhost:${port}`);
    const trigger = /^\/x1\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (trigger !== null)
      return handleWebTrigger(
        decodeURIComponent(trigger[1] as string),
        decodeURIComponent(trigger[2] as string),
        request,
        response,
      );
    if (url.pathname === DEV_FIT_PATH && request.method === "POST") {
      // Dev only: a FIT with chosen claims — any user on any macro, whether or not Confluence would
      // let them see it — for tests and tools (never part of anything that ships).
      const body = await readJson(request);
      const site = siteByKey(String(body.site ?? "acme"));
      if (site === undefined) throw new HttpError(400, "No such site.");
      const user = body.user === undefined ? undefined : String(body.user);
      const page = body.pageId === undefined ? undefined : pages.find((p) => p.id === String(body.pageId));
      const localId = String(
        body.localId ?? page?.body.find((b) => b.macro !== undefined)?.macro?.localId ?? "",
      );
      // The site's installation as it is played (license, environment), unless the caller chose:
      // `license: {isActive}` or `null` (no license claim), `environment: {type, id?}`.
      const played = fitClaimsFor(installation(site.key), { context: null });
      const { license: playedLicense, environment: playedEnvironment, ...base } = played;
      const chosenLicense = body.license as { isActive?: unknown } | null | undefined;
      const chosenEnvironment = body.environment as { type?: unknown; id?: unknown } | undefined;
      const license =
        chosenLicense === undefined
          ? playedLicense
          : chosenLicense === null
            ? undefined
            : { isActive: chosenLicense.isActive === true };
      const environment =
        chosenEnvironment === undefined
          ? playedEnvironment
          : {
              type: String(chosenEnvironment.type),
              id: String(chosenEnvironment.id ?? playedEnvironment?.id ?? ""),
            };
      const fit = await signFit(options.signer, {
        ...base,
        ...(license === undefined ? {} : { license }),
        ...(environment === undefined ? {} : { environment }),
        ...(user === undefined
          ? {}
          : { principal: SAMPLE_ACCOUNT_IDS[user as keyof typeof SAMPLE_ACCOUNT_IDS] ?? user }),
        context:
          page === undefined
            ? body.moduleKey === undefined
              ? null
              : {
                  moduleKey: String(body.moduleKey),
                  siteUrl: siteUrl(site.key),
                  extensionType: "confluence:globalSettings",
                }
            : {
                localId,
                moduleKey: String(body.moduleKey ?? FORGE_MODULE_KEYS.macro),
                siteUrl: siteUrl(site.key),
                content: { id: page.id, type: page.type },
                space: { key: page.spaceKey },
              },
      });
      return send(response, 200, {
        fit,
        userToken: user === undefined ? null : confluence.tokenFor(user),
        apiBaseUrl: apiBaseUrl(site),
      });
    }
    const links = LOCAL_SITES.map(
      (s) => `<li><a href="${siteUrl(s.key)}/wiki/">${escapeHtml(s.name)}</a> <code>${s.cloudId}</code></li>`,
    ).join("");
    return send(
      response,
      200,
      `<!doctype html><meta charset="utf-8"><title>Local Confluence</title><h1>Local Confluence with Mini-Sites</h1><ul>${links}</ul>` +
        `<p>Switch users in the top bar of any page: editor, viewer, admin (Confluence administrator), outsider (works on Globex).</p>`,
      "text/html; charset=utf-8",
    );
  }

  const server = createServer((request, response) => {
    const host = (request.headers.host ?? "").split(":")[0] ?? "";
    const siteKey = host.endsWith(".localhost") ? host.slice(0, -".localhost".length) : undefined;
    const site = siteKey === undefined ? undefined : siteByKey(siteKey);
    const work = site === undefined ? handleLanding(request, response) : handleSite(site, request, response);
    work.catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      if (status === 500) log(`local Confluence: ${(error as Error).stack ?? String(error)}`);
      if (!response.headersSent) send(response, status, { error: (error as Error).message });
      else response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  // Web trigger URLs (webTrigger.getUrl) point here, on loopback as the control Worker reaches it.
  options.functions.webTriggerBaseUrl = `http://127.0.0.1:${port}`;

  // Forge delivers avi:forge:installed:app once per installation: the first start installs the app on
  // every site; later starts remember it (an admin may have uninstalled it since).
  for (const site of LOCAL_SITES) if (!state.has(site.key)) void install(site, "admin");
  // Scheduled triggers: once soon after start (a long-running stack would otherwise wait an hour to
  // show one), then at each trigger's interval, as Forge runs them for every installation.
  const timers = events.scheduledTriggers().flatMap((trigger) => {
    const every = SCHEDULE_INTERVAL_MS[trigger.interval ?? "hour"];
    const run = () =>
      void runScheduled(trigger.key).catch((error: unknown) =>
        log(`scheduled ${trigger.key}: ${String(error)}`),
      );
    return [setTimeout(run, options.firstScheduledRunMs ?? 30_000), setInterval(run, every)];
  });
  for (const timer of timers) timer.unref();

  return {
    url: `http://localhost:${port}`,
    port,
    siteUrl,
    installation,
    sites: LOCAL_SITES,
    pages: () => pages,
    deliveries: events.log,
    webTriggerCalls,
    settled: () => events.settled(),
    runScheduled,
    close() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
