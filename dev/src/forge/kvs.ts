/**
 * Forge's key-value store, locally: what `@forge/kvs` reaches through `__forge_fetch__({type:'kvs'})`
 * when the app's functions run in the stand-in (functions.ts). One store per installation (Forge's KVS
 * is per installation and environment), kept as JSON in the data folder, written with
 * write-then-rename so a killed stack leaves the previous state.
 *
 * The wire format is the one `@forge/kvs` speaks (its storage-api.js): POST `/api/v1/<op>` with a JSON
 * body, answers JSON; a missing key is 404 `{code:"KEY_NOT_FOUND"}` (the client turns it into
 * `undefined`); errors are `{code, message}`. Implemented: get (with its created/updated times),
 * set, delete, query (key prefix, limit, cursor), the secret variants (same store, another
 * namespace), and the batch calls. `set` options (key policy, TTL, returned value), custom entities
 * and transactions answer 501 with a clear message: nothing here uses them, and a local store that
 * ignored them would let code pass here that behaves differently on Forge.
 */

import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

interface Stored {
  readonly value: unknown;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** Forge's documented limits (developer.atlassian.com/platform/forge/platform-quotas-and-limits). */
export const KVS_MAX_KEY_LENGTH = 500;
export const KVS_MAX_VALUE_BYTES = 240 * 1024;
export const KVS_MAX_QUERY_LIMIT = 100;

const KEY_PATTERN = /^(?!\s+$)[a-zA-Z0-9:._\s#-]+$/;

export class LocalKvs {
  private readonly entries = new Map<string, Stored>();
  private loaded = false;
  private writing: Promise<void> = Promise.resolve();

  private readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  /** Answers one `@forge/kvs` request the way Forge's store does. */
  async handle(path: string, body: unknown): Promise<Response> {
    await this.load();
    const request = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
    const op = path.replace(/^\/api\/v1\//, "");
    const secret = op.startsWith("secret/");
    const name = secret ? op.slice("secret/".length) : op;
    const keyOf = (key: unknown) => (secret ? `\u0000secret\u0000${String(key)}` : String(key));
    switch (name) {
      case "get": {
        const invalid = checkKey(request.key);
        if (invalid !== undefined) return invalid;
        const found = this.entries.get(keyOf(request.key));
        if (found === undefined) return kvsError(404, "KEY_NOT_FOUND", "The key was not found.");
        return json(200, {
          key: request.key,
          value: found.value,
          createdAt: found.createdAt,
          updatedAt: found.updatedAt,
        });
      }
      case "set": {
        const invalid = checkKey(request.key) ?? checkValue(request.value);
        if (invalid !== undefined) return invalid;
        // Key policies, TTLs and returned values are not played: refused, never silently ignored.
        if (request.options !== undefined && request.options !== null)
          return kvsError(501, "NOT_AVAILABLE_LOCALLY", "The local KVS does not implement set options.");
        const key = keyOf(request.key);
        const now = Date.now();
        const before = this.entries.get(key);
        this.entries.set(key, { value: request.value, createdAt: before?.createdAt ?? now, updatedAt: now });
        await this.save();
        return new Response(null, { status: 204 });
      }
      case "delete": {
        const invalid = checkKey(request.key);
        if (invalid !== undefined) return invalid;
        this.entries.delete(keyOf(request.key));
        await this.save();
        return new Response(null, { status: 204 });
      }
      case "query": {
        if (secret) return kvsError(400, "INVALID_REQUEST", "Secrets cannot be queried.");
        return this.query(request);
      }
      case "batch/set":
      case "batch/delete":
      case "batch/get":
        return this.batch(name, request);
      default:
        return kvsError(501, "NOT_AVAILABLE_LOCALLY", `The local KVS does not implement ${path}.`);
    }
  }

  private query(request: Record<string, unknown>): Response {
    const where = Array.isArray(request.where) ? (request.where as Record<string, unknown>[]) : [];
    let prefix = "";
    for (const condition of where) {
      if (
        condition.property !== "key" ||
        condition.condition !== "BEGINS_WITH" ||
        typeof condition.values !== "object"
      )
        return kvsError(400, "INVALID_REQUEST", "The local KVS supports only `where('key', beginsWith(…))`.");
      prefix = String((condition.values as unknown[])[0] ?? "");
    }
    const limit = Math.min(Number(request.limit ?? 10) || 10, KVS_MAX_QUERY_LIMIT);
    const after = typeof request.after === "string" ? Buffer.from(request.after, "base64url").toString() : "";
    const keys = [...this.entries.keys()]
      .filter((key) => !key.startsWith("\u0000") && key.startsWith(prefix) && key > after)
      .sort();
    const page = keys.slice(0, limit);
    const data = page.map((key) => ({ key, value: this.entries.get(key)?.value }));
    const more = keys.length > page.length;
    const last = page.at(-1);
    return json(200, {
      data,
      ...(more && last !== undefined ? { cursor: Buffer.from(last).toString("base64url") } : {}),
    });
  }

  private async batch(name: string, request: Record<string, unknown>): Promise<Response> {
    const items = Array.isArray(request) ? request : Array.isArray(request.items) ? request.items : [];
    const successfulKeys: unknown[] = [];
    const failedKeys: unknown[] = [];
    for (const item of items as Record<string, unknown>[]) {
      const key = String(item.key);
      if (checkKey(item.key) !== undefined) {
        failedKeys.push({ key, error: { code: "INVALID_KEY", message: "Invalid key." } });
        continue;
      }
      if (name === "batch/set")
        this.entries.set(key, { value: item.value, createdAt: Date.now(), updatedAt: Date.now() });
      if (name === "batch/delete") this.entries.delete(key);
      if (name === "batch/get") {
        const found = this.entries.get(key);
        if (found === undefined) {
          failedKeys.push({ key, error: { code: "KEY_NOT_FOUND", message: "The key was not found." } });
          continue;
        }
        successfulKeys.push({ key, value: found.value });
        continue;
      }
      successfulKeys.push({ key });
    }
    if (name !== "batch/get") await this.save();
    return json(200, { successfulKeys, failedKeys });
  }

  /** Every key and value (tests and the stand-in's debug page), secrets left out. */
  async snapshot(): Promise<Record<string, unknown>> {
    await this.load();
    return Object.fromEntries(
      [...this.entries]
        .filter(([key]) => !key.startsWith("\u0000"))
        .map(([key, stored]) => [key, stored.value]),
    );
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    const text = await readFile(this.file, "utf8").catch(() => undefined);
    if (text === undefined) return;
    for (const [key, stored] of Object.entries(JSON.parse(text) as Record<string, Stored>))
      this.entries.set(key, stored);
  }

  private save(): Promise<void> {
    const snapshot = JSON.stringify(Object.fromEntries(this.entries));
    this.writing = this.writing.then(async () => {
      await mkdir(dirname(this.file), { recursive: true });
      const partial = `${this.file}.${process.pid}.tmp`;
      await writeFile(partial, snapshot);
      await rename(partial, this.file);
    });
    return this.writing;
  }
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

function kvsError(status: number, code: string, message: string): Response {
  return json(status, { code, message });
}

function checkKey(key: unknown): Response | undefined {
  if (
    typeof key !== "string" ||
    key.length === 0 ||
    key.length > KVS_MAX_KEY_LENGTH ||
    !KEY_PATTERN.test(key)
  )
    return kvsError(
      400,
      "INVALID_KEY",
      `A key is 1–${KVS_MAX_KEY_LENGTH} characters of [a-zA-Z0-9:._-#] and spaces.`,
    );
  return undefined;
}

function checkValue(value: unknown): Response | undefined {
  if (value === undefined) return kvsError(400, "INVALID_VALUE", "A value is required.");
  if (Buffer.byteLength(JSON.stringify(value)) > KVS_MAX_VALUE_BYTES)
    return kvsError(400, "VALUE_TOO_LARGE", `A value is at most ${KVS_MAX_VALUE_BYTES} bytes of JSON.`);
  return undefined;
}
