/**
 * Request validation, as strict as Cloudflare documents it (developers.cloudflare.com/workers/
 * static-assets/direct-upload; …/workers-for-platforms/configuration/tags). Every function returns the
 * checked value or throws an ApiError whose message says exactly what was wrong.
 */

import { badRequest } from "./envelope.ts";
import { MAX_ASSET_BYTES, MAX_MANIFEST_ENTRIES, MAX_PATH_SEGMENT_BYTES, MAX_TAGS } from "./limits.ts";
import type {
  AssetConfig,
  AssetManifest,
  AssetManifestEntry,
  HtmlHandling,
  NotFoundHandling,
} from "./types.ts";

/**
 * Asset hashes are opaque 32-hex keys: the direct-upload guide derives them from SHA-256, wrangler
 * from BLAKE3 over base64 + extension, Mini-Sites from SHA-256 over extension + bytes. The server cannot
 * know which, so it checks the shape and, on upload, the size, never the digest itself.
 */
export const ASSET_HASH = /^[0-9a-f]{32}$/;

/**
 * Script names as the stand-in stores them: they become a folder name, so nothing but lowercase
 * letters, digits, `-` and `_`, at most 63 characters (a Workers name limit).
 */
export const SCRIPT_NAME = /^[a-z0-9_][a-z0-9_-]{0,62}$/;

const HTML_HANDLING: readonly HtmlHandling[] = [
  "auto-trailing-slash",
  "force-trailing-slash",
  "drop-trailing-slash",
  "none",
];
const NOT_FOUND_HANDLING: readonly NotFoundHandling[] = ["none", "404-page", "single-page-application"];
const COMPATIBILITY_DATE = /^\d{4}-\d{2}-\d{2}$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest(`${what} is not valid JSON`);
  }
}

/** A manifest path: `/`-rooted, no empty, `.` or `..` segments, no backslash or control characters. */
function checkPath(path: string): void {
  if (!path.startsWith("/")) throw badRequest(`manifest path ${JSON.stringify(path)} must start with "/"`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f\\]/.test(path)) {
    throw badRequest(`manifest path ${JSON.stringify(path)} contains a backslash or a control character`);
  }
  for (const segment of path.slice(1).split("/")) {
    if (segment === "" || segment === "." || segment === "..") {
      throw badRequest(`manifest path ${JSON.stringify(path)} has an empty, "." or ".." segment`);
    }
    if (Buffer.byteLength(segment) > MAX_PATH_SEGMENT_BYTES) {
      throw badRequest(
        `manifest path ${JSON.stringify(path)} has a segment over ${MAX_PATH_SEGMENT_BYTES} bytes`,
      );
    }
  }
}

function checkEntry(path: string, value: unknown): AssetManifestEntry {
  if (!isObject(value)) throw badRequest(`manifest entry for ${path} must be an object {hash, size}`);
  const extra = Object.keys(value).filter((k) => k !== "hash" && k !== "size");
  if (extra.length > 0) throw badRequest(`manifest entry for ${path} has unknown keys: ${extra.join(", ")}`);
  const { hash, size } = value;
  if (typeof hash !== "string" || !ASSET_HASH.test(hash)) {
    throw badRequest(`manifest entry for ${path}: hash must be 32 lowercase hexadecimal characters`);
  }
  if (typeof size !== "number" || !Number.isInteger(size) || size < 0 || size > MAX_ASSET_BYTES) {
    throw badRequest(
      `manifest entry for ${path}: size must be an integer from 0 to ${MAX_ASSET_BYTES} bytes`,
    );
  }
  return { hash, size };
}

/** The body of `POST …/assets-upload-session`: `{ manifest: { "/path": { hash, size } } }`. */
export function parseUploadSessionBody(body: unknown): AssetManifest {
  if (!isObject(body)) throw badRequest("body must be a JSON object {manifest}");
  const extra = Object.keys(body).filter((k) => k !== "manifest");
  if (extra.length > 0) throw badRequest(`unknown keys in body: ${extra.join(", ")}`);
  const { manifest } = body;
  if (!isObject(manifest)) throw badRequest("manifest must be an object mapping paths to {hash, size}");
  const paths = Object.keys(manifest);
  if (paths.length > MAX_MANIFEST_ENTRIES) {
    throw badRequest(`manifest has ${paths.length} entries; at most ${MAX_MANIFEST_ENTRIES} are allowed`);
  }
  const out: Record<string, AssetManifestEntry> = {};
  const sizeOfHash = new Map<string, number>();
  for (const path of paths) {
    checkPath(path);
    const entry = checkEntry(path, manifest[path]);
    const known = sizeOfHash.get(entry.hash);
    if (known !== undefined && known !== entry.size) {
      throw badRequest(`hash ${entry.hash} is listed with two different sizes (${known} and ${entry.size})`);
    }
    sizeOfHash.set(entry.hash, entry.size);
    out[path] = entry;
  }
  // A path that is a file and also a folder of another path could never be materialized.
  const pathSet = new Set(paths);
  for (const path of paths) {
    for (let i = path.indexOf("/", 1); i !== -1; i = path.indexOf("/", i + 1)) {
      if (pathSet.has(path.slice(0, i))) {
        throw badRequest(`manifest path ${path.slice(0, i)} is a file but ${path} needs it to be a folder`);
      }
    }
  }
  return out;
}

export function checkScriptName(name: string): void {
  if (!SCRIPT_NAME.test(name)) {
    throw badRequest(
      `script name ${JSON.stringify(name)} is invalid: use 1–63 lowercase letters, digits, "-" or "_"`,
    );
  }
}

/** Tags are filtered as `tags=a:yes,b:no`, so a tag with a comma could never be matched. */
export function parseTags(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw badRequest("tags must be an array of strings");
  if (value.length > MAX_TAGS)
    throw badRequest(`a script can have at most ${MAX_TAGS} tags; got ${value.length}`);
  const seen = new Set<string>();
  for (const tag of value) {
    if (typeof tag !== "string" || tag === "" || tag.includes(",")) {
      throw badRequest(`every tag must be a non-empty string without commas; got ${JSON.stringify(tag)}`);
    }
    seen.add(tag);
  }
  return [...seen];
}

export interface TagFilter {
  readonly required: readonly string[];
  readonly excluded: readonly string[];
}

/** `tags=tenant-x:yes,old:no` — "comma-separated list of tag:allowed pairs where allowed is 'yes' or 'no'". */
export function parseTagFilter(query: string | null): TagFilter | undefined {
  if (query === null) return undefined;
  const required: string[] = [];
  const excluded: string[] = [];
  for (const pair of query.split(",")) {
    const colon = pair.lastIndexOf(":");
    const tag = colon <= 0 ? "" : pair.slice(0, colon);
    const allowed = pair.slice(colon + 1);
    if (tag === "" || (allowed !== "yes" && allowed !== "no")) {
      throw badRequest(`tags filter ${JSON.stringify(pair)} must be <tag>:yes or <tag>:no`);
    }
    (allowed === "yes" ? required : excluded).push(tag);
  }
  return { required, excluded };
}

export function matchesTags(tags: readonly string[], filter: TagFilter | undefined): boolean {
  if (filter === undefined) return true;
  return filter.required.every((t) => tags.includes(t)) && !filter.excluded.some((t) => tags.includes(t));
}

export interface ScriptMetadata {
  readonly mainModule?: string;
  readonly compatibilityDate?: string;
  readonly compatibilityFlags: readonly string[];
  readonly bindings: readonly { readonly name: string; readonly type: string }[];
  readonly tags?: readonly string[];
  readonly assets?: { readonly jwt: string; readonly config: AssetConfig };
  readonly keepAssets: boolean;
}

function checkConfig(value: unknown): AssetConfig {
  if (value === undefined) return {};
  if (!isObject(value)) throw badRequest("metadata.assets.config must be an object");
  const { html_handling, not_found_handling } = value;
  if (html_handling !== undefined && !HTML_HANDLING.includes(html_handling as HtmlHandling)) {
    throw badRequest(`metadata.assets.config.html_handling must be one of ${HTML_HANDLING.join(", ")}`);
  }
  if (
    not_found_handling !== undefined &&
    !NOT_FOUND_HANDLING.includes(not_found_handling as NotFoundHandling)
  ) {
    throw badRequest(
      `metadata.assets.config.not_found_handling must be one of ${NOT_FOUND_HANDLING.join(", ")}`,
    );
  }
  return value as AssetConfig;
}

/** The `metadata` part of a script upload (developers.cloudflare.com/workers/configuration/multipart-upload-metadata). */
export function parseScriptMetadata(value: unknown): ScriptMetadata {
  if (!isObject(value)) throw badRequest("metadata must be a JSON object");
  if (value.body_part !== undefined) {
    throw badRequest("service-worker syntax (body_part) is not supported by the stand-in; use main_module");
  }
  const { main_module, compatibility_date, compatibility_flags, bindings, tags, assets, keep_assets } = value;
  if (main_module !== undefined && (typeof main_module !== "string" || main_module === "")) {
    throw badRequest("metadata.main_module must be a non-empty string");
  }
  if (
    compatibility_date !== undefined &&
    (typeof compatibility_date !== "string" || !COMPATIBILITY_DATE.test(compatibility_date))
  ) {
    throw badRequest("metadata.compatibility_date must be a date YYYY-MM-DD");
  }
  if (
    compatibility_flags !== undefined &&
    (!Array.isArray(compatibility_flags) || !compatibility_flags.every((f) => typeof f === "string"))
  ) {
    throw badRequest("metadata.compatibility_flags must be an array of strings");
  }
  if (keep_assets !== undefined && typeof keep_assets !== "boolean") {
    throw badRequest("metadata.keep_assets must be a boolean");
  }
  const checkedBindings: { name: string; type: string }[] = [];
  if (bindings !== undefined) {
    if (!Array.isArray(bindings)) throw badRequest("metadata.bindings must be an array");
    const names = new Set<string>();
    for (const binding of bindings) {
      if (
        !isObject(binding) ||
        typeof binding.name !== "string" ||
        typeof binding.type !== "string" ||
        binding.name === ""
      ) {
        throw badRequest("every binding must be an object with a string name and type");
      }
      if (names.has(binding.name)) throw badRequest(`binding name ${binding.name} is used twice`);
      names.add(binding.name);
      checkedBindings.push({ name: binding.name, type: binding.type });
    }
  }
  let checkedAssets: ScriptMetadata["assets"];
  if (assets !== undefined) {
    if (!isObject(assets) || typeof assets.jwt !== "string" || assets.jwt === "") {
      throw badRequest("metadata.assets must be an object with the completion token in jwt");
    }
    checkedAssets = { jwt: assets.jwt, config: checkConfig(assets.config) };
  }
  if (
    checkedBindings.some((b) => b.type === "assets") &&
    checkedAssets === undefined &&
    keep_assets !== true
  ) {
    throw badRequest("an assets binding needs metadata.assets (or keep_assets)");
  }
  if (main_module === undefined && checkedAssets === undefined && keep_assets !== true) {
    throw badRequest("metadata needs main_module or assets: a Worker must have code or static assets");
  }
  return {
    ...(main_module === undefined ? {} : { mainModule: main_module as string }),
    ...(compatibility_date === undefined ? {} : { compatibilityDate: compatibility_date as string }),
    compatibilityFlags: (compatibility_flags as string[] | undefined) ?? [],
    bindings: checkedBindings,
    ...(tags === undefined ? {} : { tags: parseTags(tags) }),
    ...(checkedAssets === undefined ? {} : { assets: checkedAssets }),
    keepAssets: keep_assets === true,
  };
}
