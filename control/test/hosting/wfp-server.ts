/**
 * A small loopback server speaking the WfP endpoints CloudflareWfPProvider uses, strictly enough to
 * catch a client that drifts from what wrangler sends, with a fault switch, call counts and a record
 * of requests. It exists so the provider's tests do not depend on the dev stack; the same contract
 * also runs against the real stand-in (dev/src/cloudflare-api) in cloudflare-standin.test.ts.
 */

import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type Endpoint =
  | "assets-upload-session"
  | "assets-upload"
  | "script-put"
  | "script-get"
  | "script-delete"
  | "script-list"
  | "scripts-delete-by-tag";

export interface RecordedRequest {
  readonly endpoint: Endpoint;
  readonly method: string;
  readonly url: string;
  readonly authorization: string;
  readonly json?: unknown;
  readonly form?: FormData;
}

interface Script {
  readonly tags: string[];
  readonly manifest: Record<string, { hash: string; size: number }>;
  readonly config: unknown;
}

const HASH = /^[0-9a-f]{32}$/;

export async function startWfpServer(options: {
  accountId: string;
  namespace: string;
  apiToken: string;
  /** Hashes per bucket the session hands out (small, to exercise several buckets). */
  bucketSize?: number;
  /** Delay every asset upload (to observe concurrency). */
  uploadDelayMs?: number;
}) {
  const assets = new Map<string, number>();
  const sessions = new Map<
    string,
    { remaining: Set<string>; sizes: Map<string, number>; completion: string }
  >();
  const completions = new Map<string, Record<string, { hash: string; size: number }>>();
  const scripts = new Map<string, Script>();
  const faults: { endpoint: Endpoint; count: number; status: number; retryAfter?: string }[] = [];
  const counts = new Map<Endpoint, number>();
  const recorded: RecordedRequest[] = [];
  let assetsUploaded = 0;
  let uploadsInFlight = 0;
  let maxUploadsInFlight = 0;
  const bucketSize = options.bucketSize ?? 2;

  const nsPath = `/client/v4/accounts/${options.accountId}/workers/dispatch/namespaces/${options.namespace}/scripts`;
  const uploadPath = `/client/v4/accounts/${options.accountId}/workers/assets/upload`;

  const send = (
    res: ServerResponse,
    status: number,
    result: unknown,
    errors: unknown[] = [],
    headers = {},
  ) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify({ success: status < 400, errors, messages: [], result }));
  };
  const error = (res: ServerResponse, status: number, code: number, message: string, headers = {}) =>
    send(res, status, null, [{ code, message }], headers);

  const route = (method: string, url: URL): { endpoint: Endpoint; name?: string } | undefined => {
    const path = url.pathname;
    if (method === "POST" && path === uploadPath) return { endpoint: "assets-upload" };
    if (path === nsPath) {
      if (method === "GET") return { endpoint: "script-list" };
      if (method === "DELETE") return { endpoint: "scripts-delete-by-tag" };
      return undefined;
    }
    if (!path.startsWith(`${nsPath}/`)) return undefined;
    const rest = path.slice(nsPath.length + 1).split("/");
    const name = decodeURIComponent(rest[0] ?? "");
    if (rest.length === 2 && rest[1] === "assets-upload-session" && method === "POST")
      return { endpoint: "assets-upload-session", name };
    if (rest.length !== 1) return undefined;
    if (method === "PUT") return { endpoint: "script-put", name };
    if (method === "GET") return { endpoint: "script-get", name };
    if (method === "DELETE") return { endpoint: "script-delete", name };
    return undefined;
  };

  const tagFilter = (url: URL): string | undefined => {
    const filter = url.searchParams.get("tags");
    const match = filter === null ? null : /^([a-z0-9-]+):yes$/.exec(filter);
    return match?.[1];
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const method = req.method ?? "GET";
    const routed = route(method, url);
    if (!routed) return error(res, 404, 7003, "Could not route to this path");
    const { endpoint, name } = routed;
    counts.set(endpoint, (counts.get(endpoint) ?? 0) + 1);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const contentType = req.headers["content-type"] ?? "";
    const authorization = req.headers.authorization ?? "";
    let json: unknown;
    let form: FormData | undefined;
    if (contentType.startsWith("application/json")) json = JSON.parse(body.toString("utf8"));
    if (contentType.startsWith("multipart/form-data"))
      form = await new Response(body, { headers: { "content-type": contentType } }).formData();
    recorded.push({ endpoint, method, url: url.pathname + url.search, authorization, json, form });

    const fault = faults.find((f) => f.endpoint === endpoint);
    if (fault) {
      fault.count -= 1;
      if (fault.count <= 0) faults.splice(faults.indexOf(fault), 1);
      return error(res, fault.status, fault.status === 429 ? 971 : 10013, "injected failure", {
        ...(fault.retryAfter === undefined ? {} : { "retry-after": fault.retryAfter }),
      });
    }

    if (endpoint === "assets-upload") {
      const session = sessions.get(authorization.replace(/^Bearer /, ""));
      if (!session) return error(res, 401, 10001, "Unauthorized: the upload token is not a session token");
      if (url.searchParams.get("base64") !== "true" || !form)
        return error(res, 400, 10021, "expected base64 multipart");
      uploadsInFlight++;
      maxUploadsInFlight = Math.max(maxUploadsInFlight, uploadsInFlight);
      try {
        if (options.uploadDelayMs) await new Promise((resolve) => setTimeout(resolve, options.uploadDelayMs));
        for (const [hash, value] of form.entries()) {
          if (!session.sizes.has(hash) || typeof value === "string")
            return error(res, 400, 10021, `part ${hash} was not asked for or is not a file`);
          const bytes = Buffer.from(await value.text(), "base64");
          if (bytes.length !== session.sizes.get(hash))
            return error(res, 400, 10021, `part ${hash} has the wrong size`);
          assets.set(hash, bytes.length);
          session.remaining.delete(hash);
          assetsUploaded++;
        }
      } finally {
        uploadsInFlight--;
      }
      return session.remaining.size === 0 ? send(res, 201, { jwt: session.completion }) : send(res, 202, {});
    }

    if (authorization !== `Bearer ${options.apiToken}`) return error(res, 403, 10000, "Authentication error");

    if (endpoint === "assets-upload-session") {
      const manifest = (json as { manifest?: Record<string, { hash: string; size: number }> })?.manifest;
      if (!manifest || typeof manifest !== "object") return error(res, 400, 10021, "manifest required");
      const sizes = new Map<string, number>();
      for (const [path, entry] of Object.entries(manifest)) {
        if (!path.startsWith("/") || !HASH.test(entry.hash))
          return error(res, 400, 10021, `bad manifest entry ${path}`);
        sizes.set(entry.hash, entry.size);
      }
      const missing = [...sizes.keys()].filter((hash) => !assets.has(hash));
      const completion = `done-${randomUUID()}`;
      completions.set(completion, manifest);
      if (missing.length === 0) return send(res, 200, { jwt: completion, buckets: [] });
      const upload = `up-${randomUUID()}`;
      sessions.set(upload, { remaining: new Set(missing), sizes, completion });
      const buckets: string[][] = [];
      for (let i = 0; i < missing.length; i += bucketSize) buckets.push(missing.slice(i, i + bucketSize));
      return send(res, 200, { jwt: upload, buckets });
    }

    if (endpoint === "script-put") {
      const metadataText = form?.get("metadata");
      if (typeof metadataText !== "string") return error(res, 400, 10021, "metadata part required");
      const metadata = JSON.parse(metadataText) as {
        main_module?: unknown;
        tags?: string[];
        assets?: { jwt?: string; config?: unknown };
      };
      if (metadata.main_module !== undefined)
        return error(res, 400, 10021, "assets-only Workers have no main_module");
      const manifest = completions.get(metadata.assets?.jwt ?? "");
      if (!manifest) return error(res, 400, 10021, "assets.jwt is not a completion token");
      if ((metadata.tags ?? []).length > 8) return error(res, 400, 10021, "at most 8 tags");
      scripts.set(name as string, { tags: metadata.tags ?? [], manifest, config: metadata.assets?.config });
      return send(res, 200, { id: name });
    }
    if (endpoint === "script-get")
      return scripts.has(name as string)
        ? send(res, 200, { id: name })
        : error(res, 404, 10007, "workers.api.error.script_not_found");
    if (endpoint === "script-delete")
      return scripts.delete(name as string)
        ? send(res, 200, null)
        : error(res, 404, 10007, "workers.api.error.script_not_found");
    const tag = tagFilter(url);
    if (!tag) return error(res, 400, 10021, "tags filter must be <tag>:yes");
    const matching = [...scripts].filter(([, script]) => script.tags.includes(tag));
    if (endpoint === "script-list")
      return send(
        res,
        200,
        matching.map(([id, script]) => ({ id, tags: script.tags })),
      );
    for (const [id] of matching) scripts.delete(id);
    return send(res, 200, null);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => error(res, 500, 10013, String(e)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/client/v4`,
    scripts,
    recorded,
    failNext(endpoint: Endpoint, count: number, status: number, retryAfter?: string) {
      faults.push({ endpoint, count, status, ...(retryAfter === undefined ? {} : { retryAfter }) });
    },
    calls: (endpoint: Endpoint) => counts.get(endpoint) ?? 0,
    stats: () => ({ assetsUploaded, maxUploadsInFlight }),
    reset() {
      faults.length = 0;
      recorded.length = 0;
      counts.clear();
      assetsUploaded = 0;
      maxUploadsInFlight = 0;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type WfpServer = Awaited<ReturnType<typeof startWfpServer>>;
