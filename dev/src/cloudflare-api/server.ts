/**
 * The Cloudflare API stand-in: the Workers-for-Platforms endpoints the control Worker's
 * CloudflareWfPProvider and `wrangler deploy --dispatch-namespace` call, on loopback, answering in
 * Cloudflare's envelope and validating as strictly as Cloudflare documents. A successful script upload
 * is materialized as a folder of static assets and handed to `onScriptsChanged` before the answer, so
 * "success" means the site is servable.
 *
 * Where a request enters: `handle()`. Auth: the API token (Bearer) on every call except
 * `assets/upload`, which takes the upload JWT of its session instead, as Cloudflare's does
 * (developers.cloudflare.com/workers/static-assets/direct-upload). Threats it defends against are a
 * careless client, not an attacker: it listens on 127.0.0.1 only and never logs tokens.
 */

import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ApiError, badRequest, ErrorCode, sendError, sendJson, sendResult } from "./envelope.ts";
import { checkFault, Faults, Stats } from "./faults.ts";
import { signToken, type TokenClaims, verifyToken } from "./jwt.ts";
import { MAX_BUCKET_BYTES, MAX_BUCKET_FILES, MAX_REQUEST_BODY_BYTES, TOKEN_TTL_SECONDS } from "./limits.ts";
import { Store, type UploadSession } from "./store.ts";
import type {
  AssetManifest,
  CloudflareApi,
  CloudflareApiOptions,
  EndpointName,
  NamespaceScript,
} from "./types.ts";
import {
  ASSET_HASH,
  checkScriptName,
  matchesTags,
  parseJson,
  parseScriptMetadata,
  parseTagFilter,
  parseUploadSessionBody,
} from "./validate.ts";

/** Mirrors api.cloudflare.com: `${base}/accounts/…`. */
const API_BASE = "/client/v4";
/** Test-only controls, outside the API base so no Cloudflare client can reach them by accident. */
const CONTROL_BASE = "/__stand-in";

type Params = Readonly<Record<string, string>>;

interface Route {
  readonly pattern: readonly string[];
  readonly methods: Readonly<Partial<Record<string, EndpointName>>>;
}

/** Every API path the stand-in answers. Anything else is logged and answered 404 (code 7000). */
const ROUTES: readonly Route[] = [
  {
    pattern:
      "accounts/:account/workers/dispatch/namespaces/:namespace/scripts/:script/assets-upload-session".split(
        "/",
      ),
    methods: { POST: "assets-upload-session" },
  },
  // The account-level variant wrangler uses without --dispatch-namespace (deploy-helpers `assets.ts`).
  {
    pattern: "accounts/:account/workers/scripts/:script/assets-upload-session".split("/"),
    methods: { POST: "assets-upload-session" },
  },
  { pattern: "accounts/:account/workers/assets/upload".split("/"), methods: { POST: "assets-upload" } },
  {
    pattern: "accounts/:account/workers/dispatch/namespaces/:namespace/scripts/:script".split("/"),
    methods: { PUT: "script-put", GET: "script-get", DELETE: "script-delete" },
  },
  {
    pattern: "accounts/:account/workers/dispatch/namespaces/:namespace/scripts/:script/settings".split("/"),
    methods: { GET: "script-settings" },
  },
  {
    pattern: "accounts/:account/workers/scripts/:script/settings".split("/"),
    methods: { GET: "script-settings" },
  },
  {
    pattern: "accounts/:account/workers/dispatch/namespaces/:namespace/scripts".split("/"),
    methods: { GET: "script-list", DELETE: "scripts-delete-by-tag" },
  },
  {
    pattern: "accounts/:account/workers/dispatch/namespaces/:namespace".split("/"),
    methods: { GET: "namespace-get" },
  },
];

function matchRoute(segments: readonly string[]): { route: Route; params: Params } | undefined {
  for (const route of ROUTES) {
    if (route.pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (const [i, part] of route.pattern.entries()) {
      const segment = segments[i] as string;
      if (part.startsWith(":")) {
        try {
          params[part.slice(1)] = decodeURIComponent(segment);
        } catch {
          ok = false;
        }
      } else if (part !== segment) {
        ok = false;
      }
      if (!ok) break;
    }
    if (ok) return { route, params };
  }
  return undefined;
}

/** Reads a body up to the cap; a larger one is refused with 413 before it is buffered. */
async function readBody(request: IncomingMessage): Promise<Buffer> {
  const declared = Number(request.headers["content-length"] ?? "0");
  if (declared > MAX_REQUEST_BODY_BYTES) {
    throw new ApiError(413, ErrorCode.VALIDATION, `request body over ${MAX_REQUEST_BODY_BYTES} bytes`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request) {
    total += (chunk as Buffer).length;
    if (total > MAX_REQUEST_BODY_BYTES) {
      throw new ApiError(413, ErrorCode.VALIDATION, `request body over ${MAX_REQUEST_BODY_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Multipart parsing by undici's own `Response.formData()`: the parser Node already ships. */
async function readMultipart(request: IncomingMessage): Promise<FormData> {
  const contentType = request.headers["content-type"] ?? "";
  if (!/^multipart\/form-data\s*;/i.test(contentType))
    throw badRequest("Content-Type must be multipart/form-data");
  const body = await readBody(request);
  try {
    return await new Response(body, { headers: { "content-type": contentType } }).formData();
  } catch {
    throw badRequest("the multipart/form-data body could not be parsed");
  }
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const contentType = request.headers["content-type"] ?? "";
  if (!/^application\/json\b/i.test(contentType)) throw badRequest("Content-Type must be application/json");
  return parseJson((await readBody(request)).toString("utf8"), "the request body");
}

/** The bearer token, or the Cloudflare error a missing or malformed Authorization header gets. */
function bearer(request: IncomingMessage): string {
  const header = request.headers.authorization;
  if (header === undefined || header === "") {
    throw new ApiError(
      400,
      ErrorCode.MISSING_AUTH,
      "Missing X-Auth-Key, X-Auth-Email or Authorization headers",
    );
  }
  const match = /^Bearer ([^\s]+)$/.exec(header);
  if (match === null) {
    throw new ApiError(400, ErrorCode.INVALID_HEADERS, "Invalid request headers", {
      chain: [
        { code: ErrorCode.INVALID_AUTHORIZATION_FORMAT, message: "Invalid format for Authorization header" },
      ],
    });
  }
  return match[1] as string;
}

const digest = (text: string): Buffer => createHash("sha256").update(text).digest();

/**
 * Base64 as undici's FormData sends it: standard alphabet, padded. Checked without a repeated group: a
 * backtracking pattern over a multi-megabyte part overflows V8's regex stack.
 */
const isPaddedBase64 = (text: string): boolean =>
  text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text);

/** A module part name becomes a file under the version folder: no way out of it. */
const MODULE_NAME = /^(?!\/)(?!.*(?:^|\/)\.{1,2}(?:\/|$))[A-Za-z0-9._\-/]+$/;

function groupIntoBuckets(manifest: AssetManifest, isStored: (hash: string) => boolean): string[][] {
  const buckets: string[][] = [];
  const seen = new Set<string>();
  let current: string[] = [];
  let bytes = 0;
  for (const { hash, size } of Object.values(manifest)) {
    if (seen.has(hash) || isStored(hash)) continue;
    seen.add(hash);
    if (current.length > 0 && (current.length >= MAX_BUCKET_FILES || bytes + size > MAX_BUCKET_BYTES)) {
      buckets.push(current);
      current = [];
      bytes = 0;
    }
    current.push(hash);
    bytes += size;
  }
  if (current.length > 0) buckets.push(current);
  return buckets;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export async function startCloudflareApi(options: CloudflareApiOptions): Promise<CloudflareApi> {
  const now = options.now ?? Date.now;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const store = new Store(options.dataDir);
  await store.init();
  const secret = await store.tokenSecret(options.jwtSecret);
  const tokenDigest = digest(options.apiToken);
  const faults = new Faults();
  const stats = new Stats();

  const sessions = new Map<string, UploadSession>();
  for (const session of await store.loadSessions(now())) sessions.set(session.sid, session);
  const scripts = new Map<string, NamespaceScript>();
  for (const script of await store.loadScripts(log)) scripts.set(script.name, script);

  const allScripts = (): NamespaceScript[] =>
    [...scripts.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const notify = async (): Promise<void> => {
    await options.onScriptsChanged?.(allScripts());
  };

  /** Script changes run one at a time, so `onScriptsChanged` always sees a state that existed. */
  let mutations: Promise<unknown> = Promise.resolve();
  const serialize = <T>(work: () => Promise<T>): Promise<T> => {
    const next = mutations.then(work, work);
    mutations = next.catch(() => undefined);
    return next;
  };

  const issue = (kind: TokenClaims["kind"], sid: string, expiresAt: number): string =>
    signToken(secret, { kind, sid, iat: Math.floor(now() / 1000), exp: Math.floor(expiresAt / 1000) });

  const sessionComplete = (session: UploadSession): boolean =>
    session.buckets.every((bucket) => bucket.every((hash) => store.hasAsset(hash)));

  // ── handlers ───────────────────────────────────────────────────────────────────────────────────

  async function createUploadSession(
    request: IncomingMessage,
    response: ServerResponse,
    p: Params,
  ): Promise<void> {
    checkScriptName(p.script as string);
    const manifest = parseUploadSessionBody(await readJson(request));
    for (const [sid, session] of sessions) {
      if (session.expiresAt <= now()) {
        sessions.delete(sid);
        await store.deleteSession(sid);
      }
    }
    const session: UploadSession = {
      sid: randomUUID(),
      script: p.script as string,
      namespace: p.namespace ?? null,
      manifest,
      buckets: groupIntoBuckets(manifest, (hash) => store.hasAsset(hash)),
      expiresAt: now() + TOKEN_TTL_SECONDS * 1000,
    };
    await store.saveSession(session);
    sessions.set(session.sid, session);
    // Nothing missing: the upload token is already the completion token (direct-upload guide).
    const kind = session.buckets.length === 0 ? "completion" : "upload";
    sendResult(response, 200, { jwt: issue(kind, session.sid, session.expiresAt), buckets: session.buckets });
  }

  async function uploadAssets(
    request: IncomingMessage,
    response: ServerResponse,
    query: URLSearchParams,
  ): Promise<void> {
    if (query.get("base64") !== "true") throw badRequest("the base64 query parameter must be true");
    const verdict = verifyToken(secret, bearer(request), Math.floor(now() / 1000));
    if (!verdict.ok) {
      const why =
        verdict.reason === "expired" ? "the upload token has expired" : "the upload token is not valid";
      throw new ApiError(401, ErrorCode.AUTHENTICATION, `Authentication error: ${why}`);
    }
    if (verdict.claims.kind !== "upload") {
      throw new ApiError(
        401,
        ErrorCode.AUTHENTICATION,
        "Authentication error: a completion token cannot upload assets",
      );
    }
    const session = sessions.get(verdict.claims.sid);
    if (session === undefined) {
      throw new ApiError(
        401,
        ErrorCode.AUTHENTICATION,
        "Authentication error: the upload session no longer exists",
      );
    }
    const requested = new Set(session.buckets.flat());
    const sizeOf = new Map(Object.values(session.manifest).map(({ hash, size }) => [hash, size]));
    const form = await readMultipart(request);
    const accepted: { hash: string; bytes: Buffer }[] = [];
    const seen = new Set<string>();
    // Everything is checked before anything is stored: a rejected request stores nothing.
    for (const [name, value] of form.entries()) {
      if (!ASSET_HASH.test(name)) {
        throw badRequest(`unknown field ${JSON.stringify(name)}: every part must be named by an asset hash`);
      }
      // A hash the session did not ask for (already stored, or not in the manifest) is refused; a
      // second upload of a requested hash is allowed, because a client retries a bucket whose answer
      // it lost (wrangler retries up to 5 times) and the retry must not fail.
      if (!requested.has(name)) throw badRequest(`hash ${name} is not in this upload session's buckets`);
      if (seen.has(name)) throw badRequest(`hash ${name} appears twice in one upload`);
      seen.add(name);
      if (typeof value === "string" || value.type === "") {
        throw badRequest(`part ${name} must be a file part carrying the asset's Content-Type`);
      }
      const text = await value.text();
      if (!isPaddedBase64(text)) throw badRequest(`part ${name} is not base64 (base64=true was requested)`);
      const bytes = Buffer.from(text, "base64");
      const expected = sizeOf.get(name);
      if (bytes.length !== expected) {
        throw badRequest(`part ${name} decodes to ${bytes.length} bytes but the manifest says ${expected}`);
      }
      accepted.push({ hash: name, bytes });
    }
    if (accepted.length === 0) throw badRequest("the upload has no parts");
    await store.writeAssets(accepted);
    stats.countAssets(
      accepted.length,
      accepted.reduce((sum, a) => sum + a.bytes.length, 0),
    );
    if (sessionComplete(session)) {
      sendResult(response, 201, { jwt: issue("completion", session.sid, session.expiresAt) });
    } else {
      sendResult(response, 202, {});
    }
  }

  /** The session a completion token stands for, checked against the script being uploaded. */
  function completedSession(jwt: string, script: string, namespace: string): UploadSession {
    const verdict = verifyToken(secret, jwt, Math.floor(now() / 1000));
    if (!verdict.ok) {
      throw badRequest(
        verdict.reason === "expired"
          ? "metadata.assets.jwt has expired: start a new upload session"
          : "metadata.assets.jwt is not a valid completion token",
      );
    }
    const session = sessions.get(verdict.claims.sid);
    if (verdict.claims.kind !== "completion" || session === undefined) {
      throw badRequest("metadata.assets.jwt is not a completion token of a live upload session");
    }
    if (session.script !== script || session.namespace !== namespace) {
      throw badRequest(
        `metadata.assets.jwt belongs to the upload session of another script (${session.script})`,
      );
    }
    if (!sessionComplete(session)) throw badRequest("the assets of this upload session are not all uploaded");
    return session;
  }

  async function putScript(request: IncomingMessage, response: ServerResponse, p: Params): Promise<void> {
    const name = p.script as string;
    const namespace = p.namespace as string;
    checkScriptName(name);
    const form = await readMultipart(request);
    const metadataPart = form.get("metadata");
    if (metadataPart === null) throw badRequest("the multipart body needs a metadata part");
    const metadataText = typeof metadataPart === "string" ? metadataPart : await metadataPart.text();
    const metadata = parseScriptMetadata(parseJson(metadataText, "metadata"));
    const modules = new Map<string, Uint8Array>();
    for (const [partName, value] of form.entries()) {
      if (partName === "metadata") continue;
      if (metadata.mainModule === undefined) {
        throw badRequest(
          `unexpected part ${JSON.stringify(partName)}: an assets-only Worker has only metadata`,
        );
      }
      if (!MODULE_NAME.test(partName))
        throw badRequest(`module name ${JSON.stringify(partName)} is not a safe relative path`);
      modules.set(
        partName,
        typeof value === "string" ? Buffer.from(value) : new Uint8Array(await value.arrayBuffer()),
      );
    }
    if (metadata.mainModule !== undefined && !modules.has(metadata.mainModule)) {
      throw badRequest(`main_module ${metadata.mainModule} has no part of that name`);
    }
    const session =
      metadata.assets === undefined ? undefined : completedSession(metadata.assets.jwt, name, namespace);

    const script = await serialize(async () => {
      const previous = scripts.get(name);
      let manifest: AssetManifest = session?.manifest ?? {};
      let config = metadata.assets?.config ?? {};
      if (session === undefined && metadata.keepAssets) {
        if (previous === undefined) throw badRequest("keep_assets needs an existing Worker with assets");
        manifest = previous.assets.manifest;
        config = previous.assets.config;
      }
      const stamp = iso(now());
      const created = await store.materialize({
        name,
        // Tags are a setting of the script, not of a version: an upload without tags keeps them
        // (wrangler changes them through the settings endpoint instead).
        tags: metadata.tags ?? previous?.tags ?? [],
        manifest,
        config,
        createdOn: previous?.createdOn ?? stamp,
        modifiedOn: stamp,
        ...(metadata.compatibilityDate === undefined
          ? {}
          : { compatibilityDate: metadata.compatibilityDate }),
        ...(metadata.mainModule === undefined ? {} : { mainModule: metadata.mainModule }),
        modules,
      });
      await store.activate(name, created.versionId);
      scripts.set(name, created);
      try {
        await notify();
      } catch (error) {
        // Not servable means not uploaded: put the previous state back, on disk and in memory.
        if (previous === undefined) {
          await store.deactivate(name);
          scripts.delete(name);
        } else {
          await store.activate(name, previous.versionId);
          scripts.set(name, previous);
        }
        await notify().catch(() => undefined);
        await store.pruneVersions(name, previous?.versionId);
        if (previous === undefined) await store.removeScript(name);
        log(`cloudflare-api: onScriptsChanged failed for ${name}: ${String(error)}`);
        throw new ApiError(
          500,
          ErrorCode.INTERNAL,
          "the Worker was stored but could not be made servable; nothing changed",
        );
      }
      await store.pruneVersions(name, created.versionId);
      return created;
    });
    sendResult(response, 200, {
      ...scriptObject(script),
      startup_time_ms: 0,
      deployment_id: script.versionId,
    });
  }

  function scriptObject(s: NamespaceScript): Record<string, unknown> {
    return {
      id: s.name,
      tags: s.tags,
      etag: s.etag,
      created_on: s.createdOn,
      modified_on: s.modifiedOn,
      compatibility_date: s.compatibilityDate,
      compatibility_flags: [],
      has_assets: Object.keys(s.assets.manifest).length > 0,
      has_modules: s.mainModule !== undefined,
      handlers: s.mainModule === undefined ? [] : ["fetch"],
      usage_model: "standard",
      logpush: false,
      last_deployed_from: "api",
    };
  }

  /** "Worker Details" of a namespace script: the script object wrapped with namespace facts. */
  function workerDetails(s: NamespaceScript): Record<string, unknown> {
    return {
      created_on: s.createdOn,
      modified_on: s.modifiedOn,
      dispatch_namespace: options.namespace,
      has_assets: Object.keys(s.assets.manifest).length > 0,
      has_modules: s.mainModule !== undefined,
      script: scriptObject(s),
    };
  }

  function namespaceScript(name: string): NamespaceScript {
    const script = scripts.get(name);
    if (script === undefined) {
      throw new ApiError(
        404,
        ErrorCode.NAMESPACE_WORKER_NOT_FOUND,
        `Worker ${name} not found in dispatch namespace ${options.namespace}`,
      );
    }
    return script;
  }

  function settings(s: NamespaceScript): Record<string, unknown> {
    return {
      tags: s.tags,
      bindings: Object.keys(s.assets.manifest).length > 0 ? [{ type: "assets", name: "ASSETS" }] : [],
      compatibility_date: s.compatibilityDate,
      compatibility_flags: [],
      logpush: false,
      observability: { enabled: false },
      placement: {},
      tail_consumers: [],
      usage_model: "standard",
    };
  }

  async function deleteScripts(names: readonly string[]): Promise<void> {
    await serialize(async () => {
      const removed = names
        .map((name) => scripts.get(name))
        .filter((s): s is NamespaceScript => s !== undefined);
      for (const s of removed) {
        await store.deactivate(s.name);
        scripts.delete(s.name);
      }
      try {
        await notify();
      } catch (error) {
        for (const s of removed) {
          await store.activate(s.name, s.versionId);
          scripts.set(s.name, s);
        }
        await notify().catch(() => undefined);
        log(`cloudflare-api: onScriptsChanged failed on delete: ${String(error)}`);
        throw new ApiError(
          500,
          ErrorCode.INTERNAL,
          "the Workers could not be taken offline; nothing changed",
        );
      }
      for (const s of removed) await store.removeScript(s.name);
    });
  }

  async function route(
    endpoint: EndpointName,
    request: IncomingMessage,
    response: ServerResponse,
    p: Params,
    query: URLSearchParams,
  ): Promise<void> {
    if (endpoint !== "assets-upload") {
      const given = digest(bearer(request));
      if (!timingSafeEqual(given, tokenDigest))
        throw new ApiError(403, ErrorCode.AUTHENTICATION, "Authentication error");
    }
    if (p.account !== options.accountId) {
      throw new ApiError(
        404,
        ErrorCode.UNKNOWN_OBJECT,
        `Could not route to /accounts/${p.account}, perhaps your object identifier is invalid?`,
      );
    }
    if (p.namespace !== undefined && p.namespace !== options.namespace) {
      throw new ApiError(
        404,
        ErrorCode.UNKNOWN_OBJECT,
        `Could not route to dispatch namespace ${p.namespace}, perhaps your object identifier is invalid?`,
      );
    }
    switch (endpoint) {
      case "assets-upload-session":
        return createUploadSession(request, response, p);
      case "assets-upload":
        return uploadAssets(request, response, query);
      case "script-put":
        return putScript(request, response, p);
      case "script-get":
        return sendResult(response, 200, workerDetails(namespaceScript(p.script as string)));
      case "script-settings":
        if (p.namespace === undefined) {
          // The stand-in hosts a dispatch namespace only; namespace Workers are not account Workers.
          throw new ApiError(404, ErrorCode.WORKER_NOT_FOUND, "This Worker does not exist on your account.");
        }
        return sendResult(response, 200, settings(namespaceScript(p.script as string)));
      case "script-delete":
        namespaceScript(p.script as string);
        await deleteScripts([p.script as string]);
        return sendResult(response, 200, null);
      case "script-list": {
        const filter = parseTagFilter(query.get("tags"));
        return sendResult(
          response,
          200,
          allScripts()
            .filter((s) => matchesTags(s.tags, filter))
            .map(scriptObject),
        );
      }
      case "scripts-delete-by-tag": {
        // Refusing an unfiltered delete: one missing query parameter must not empty the namespace.
        const filter = parseTagFilter(query.get("tags"));
        if (filter === undefined || filter.required.length === 0) {
          throw badRequest("deleting scripts needs a tags filter with at least one <tag>:yes");
        }
        await deleteScripts(
          allScripts()
            .filter((s) => matchesTags(s.tags, filter))
            .map((s) => s.name),
        );
        return sendResult(response, 200, null);
      }
      case "namespace-get":
        return sendResult(response, 200, {
          namespace_id: createHash("sha256").update(options.namespace).digest("hex").slice(0, 32),
          namespace_name: options.namespace,
          script_count: scripts.size,
          trusted_workers: false,
        });
      default:
        throw new ApiError(404, ErrorCode.NO_ROUTE, "No route for that URI");
    }
  }

  async function control(request: IncomingMessage, response: ServerResponse, path: string): Promise<void> {
    if (path === `${CONTROL_BASE}/faults`) {
      if (request.method === "GET") return sendJson(response, 200, { faults: faults.pending() });
      if (request.method === "DELETE") {
        faults.clear();
        return sendJson(response, 200, { faults: [] });
      }
      if (request.method === "POST") {
        // JSON only: a web page cannot send this cross-origin without a preflight we never grant.
        const body = await readJson(request);
        try {
          for (const spec of Array.isArray(body) ? body : [body]) faults.failNext(checkFault(spec));
        } catch (error) {
          throw badRequest((error as Error).message);
        }
        return sendJson(response, 200, { faults: faults.pending() });
      }
    }
    if (path === `${CONTROL_BASE}/stats`) {
      if (request.method === "GET") return sendJson(response, 200, stats.snapshot());
      if (request.method === "DELETE") {
        stats.reset();
        return sendJson(response, 200, stats.snapshot());
      }
    }
    throw new ApiError(404, ErrorCode.NO_ROUTE, "No such stand-in control");
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://stand-in");
    const method = request.method ?? "GET";
    let endpoint: EndpointName = "unknown";
    try {
      if (url.pathname.startsWith(`${CONTROL_BASE}/`)) return await control(request, response, url.pathname);
      const matched = url.pathname.startsWith(`${API_BASE}/`)
        ? matchRoute(url.pathname.slice(API_BASE.length + 1).split("/"))
        : undefined;
      const named = matched?.route.methods[method];
      if (matched === undefined || named === undefined) {
        stats.countRequest("unknown");
        log(`cloudflare-api: no route for ${method} ${url.pathname}${url.search}`);
        if (matched !== undefined)
          throw new ApiError(
            405,
            ErrorCode.METHOD_NOT_ALLOWED,
            `Method ${method} not allowed for this endpoint`,
          );
        throw new ApiError(404, ErrorCode.NO_ROUTE, "No route for that URI");
      }
      endpoint = named;
      stats.countRequest(endpoint);
      const fault = faults.take(endpoint);
      if (fault !== undefined && fault.delayMs > 0) await new Promise((r) => setTimeout(r, fault.delayMs));
      if (fault?.error !== undefined) {
        request.resume();
        throw fault.error;
      }
      await route(endpoint, request, response, matched.params, url.searchParams);
    } catch (error) {
      if (!response.headersSent) {
        if (error instanceof ApiError) {
          sendError(response, error);
        } else {
          log(
            `cloudflare-api: ${method} ${url.pathname} failed: ${error instanceof Error ? error.message : String(error)}`,
          );
          sendError(
            response,
            new ApiError(500, ErrorCode.INTERNAL, "An internal error occurred in the stand-in"),
          );
        }
      }
      // Drain what the client is still sending, so it reads our answer instead of a reset.
      if (!request.complete) request.resume();
    } finally {
      if (!url.pathname.startsWith(`${CONTROL_BASE}/`)) {
        stats.record({ method, path: `${url.pathname}${url.search}`, endpoint, status: response.statusCode });
      }
    }
  }

  // Sites published before a restart are served after it: hand them over before taking calls.
  await notify();

  const server = createServer((request, response) => {
    void handle(request, response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    url: `${origin}${API_BASE}`,
    origin,
    scripts: allScripts,
    assetPath: (hash) => store.assetPath(hash),
    faults,
    stats: () => stats.snapshot(),
    resetStats: () => stats.reset(),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await mutations;
    },
  };
}
