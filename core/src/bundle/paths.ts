/**
 * Path rules for hosted files (DESIGN §5). A bundle path becomes a URL path on the site's own origin,
 * so anything that could escape the site root, address our reserved prefix, or mean two different
 * files on two different systems is refused here, before any byte is read.
 *
 * Decisions:
 * - `/` is the only separator. A `\` is refused (ABSOLUTE_PATH): Windows tools read it as a separator,
 *   so `..\x` or `\x` would escape on the machine of whoever unpacks the bundle later.
 * - `..` anywhere is refused, even where it would resolve inside the site (`a/../b`): no legitimate
 *   tool writes it, and refusing is simpler to reason about than resolving.
 * - `.` and empty segments (`./a`, `a//b`) are collapsed: tar- and script-made archives produce them
 *   harmlessly; the collapsed path is then checked for duplicates like any other.
 * - Case-insensitive and Unicode-normalization collisions are duplicates: they are one file on macOS
 *   and Windows, so which one "wins" would depend on where the bundle was unpacked.
 */

import { type BundleError, bundleError } from "../errors.ts";
import type { BundleLimits } from "../limits.ts";

/** The dispatch Worker serves its own files under `/__ms/` on every site origin. */
export const RESERVED_PREFIX = "__ms";

const encoder = new TextEncoder();

// C0 controls and DEL: invisible in every UI, and NUL truncates names in C-based tools.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

export type NormalizedPath =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly error: BundleError };

/** Normalizes a path as written in a zip or a file list, or says why it cannot be hosted. */
export function normalizePath(raw: string, limits: BundleLimits): NormalizedPath {
  const fail = (code: BundleError["code"], message: string): NormalizedPath => ({
    ok: false,
    error: bundleError(code, raw, message),
  });
  if (CONTROL_CHARS.test(raw)) {
    return fail("INVALID_PATH", "This file name contains invisible control characters. Rename the file.");
  }
  if (encoder.encode(raw).length > limits.maxPathBytes) {
    return fail(
      "INVALID_PATH",
      `This file path is longer than ${limits.maxPathBytes} bytes. Shorten the folder or file names.`,
    );
  }
  if (raw.includes("\\")) {
    return fail(
      "ABSOLUTE_PATH",
      'This path contains a backslash ("\\"). Use forward slashes between folders, or rename the file.',
    );
  }
  if (raw.startsWith("/") || /^[A-Za-z]:/.test(raw)) {
    return fail(
      "ABSOLUTE_PATH",
      "This path starts at the root of a disk. Paths must be relative to the site folder.",
    );
  }
  const segments = raw.split("/");
  if (segments.includes("..")) {
    return fail(
      "PATH_TRAVERSAL",
      'This path contains "..", which points outside the site folder. Remove it from the bundle.',
    );
  }
  const kept = segments.filter((s) => s !== "" && s !== ".");
  if (kept.length === 0) {
    return fail("INVALID_PATH", "This entry has no file name.");
  }
  return { ok: true, path: kept.join("/") };
}

/** Why an OS-generated file is left out, or undefined for a real file. Checked on the raw path. */
export function junkReason(raw: string): string | undefined {
  const segments = raw.split("/");
  if (segments.some((s) => s === "__MACOSX")) return "macOS metadata (__MACOSX)";
  const base = (segments[segments.length - 1] ?? "").toLowerCase();
  if (base === ".ds_store") return "macOS folder settings (.DS_Store)";
  if (base === "thumbs.db") return "Windows thumbnail cache (Thumbs.db)";
  if (base === "desktop.ini") return "Windows folder settings (desktop.ini)";
  return undefined;
}

/**
 * The single top-level folder that wraps every file (a zip of `dist/` holds `dist/index.html`), or ""
 * when there is none or the root already has an index.html.
 */
export function wrappingFolder(paths: readonly string[]): string {
  if (paths.length === 0 || paths.includes("index.html")) return "";
  const first = paths[0] ?? "";
  const slash = first.indexOf("/");
  if (slash <= 0) return "";
  const prefix = first.slice(0, slash + 1);
  return paths.every((p) => p.startsWith(prefix)) ? prefix : "";
}

/** The path as an identity: case-folded and NFC-normalized, as case-insensitive file systems see it. */
export function collisionKey(path: string): string {
  return path.normalize("NFC").toLowerCase();
}

/**
 * Indices (into `paths`) of files that collide with an earlier file, case-insensitively, or that
 * are also used as a folder (`a` next to `a/b`), each with a message naming the other path.
 */
export function findCollisions(paths: readonly string[]): Map<number, string> {
  const files = new Map<string, string>();
  const folders = new Map<string, string>();
  const collisions = new Map<number, string>();
  paths.forEach((path, index) => {
    const key = collisionKey(path);
    const earlier = files.get(key);
    if (earlier !== undefined) {
      collisions.set(
        index,
        earlier === path
          ? `"${path}" appears twice in the bundle. Keep only one copy.`
          : `"${path}" and "${earlier}" differ only in upper/lower case, which many systems treat as the same file. Rename one of them.`,
      );
      return;
    }
    files.set(key, path);
    const segments = path.split("/");
    for (let i = 1; i < segments.length; i++) {
      const folderKey = collisionKey(segments.slice(0, i).join("/"));
      if (!folders.has(folderKey)) folders.set(folderKey, path);
    }
  });
  // A file whose path is also a folder of another file: both cannot exist on a disk or as URLs.
  paths.forEach((path, index) => {
    if (collisions.has(index)) return;
    const other = folders.get(collisionKey(path));
    if (other !== undefined) {
      collisions.set(
        index,
        `"${path}" is a file, but "${other}" uses the same name as a folder. Rename the file or the folder.`,
      );
    }
  });
  return collisions;
}

/** True when the (unwrapped) path addresses the prefix the dispatch Worker keeps for itself. */
export function isReservedPath(path: string): boolean {
  const first = path.split("/", 1)[0] ?? "";
  return first.toLowerCase() === RESERVED_PREFIX;
}
