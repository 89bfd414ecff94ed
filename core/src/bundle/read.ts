/**
 * Where a bundle is checked (DESIGN §5). `readBundle` turns a zip, a folder listing or a single HTML
 * file into the manifest of hosted files, or into typed errors that say what to fix.
 *
 * Phase 1 looks only at names and declared sizes: every path-level problem is collected (so the author
 * sees all of them at once), and anything that makes the rest untrustworthy or too costly (a damaged
 * archive, a bomb, too many files, a declared total over the cap) stops reading before a single byte is
 * inflated. Phase 2 reads the hosted files one at a time in path order, hands each to `onFile` and lets
 * it go, so memory stays bounded by one file whatever the bundle size. Files with path-level errors are
 * skipped, the rest are still read so the caller can still scan them for secrets.
 */

import { type BundleError, BundleRejected, bundleError } from "../errors.ts";
import { type BundleLimits, resolveLimits } from "../limits.ts";
import { contentTypeFor, leftOutReason, unsupportedFileReason } from "./content-type.ts";
import { assetHash, bundleHashOf } from "./hash.ts";
import { findCollisions, isReservedPath, junkReason, normalizePath, wrappingFolder } from "./paths.ts";
import type {
  BundleInput,
  BundleReport,
  IgnoredEntry,
  ManifestEntry,
  RandomAccessSource,
  ReadBundleOptions,
} from "./types.ts";
import {
  type CentralDirectory,
  checkNestedArchive,
  fileTooLargeMessage,
  formatBytes,
  locateEntries,
  readCentralDirectory,
  readEntry,
  type ZipEntry,
} from "./zip.ts";

/** One file of the input as phase 1 sees it: a name, a declared size, a way to get its bytes later. */
interface Candidate {
  /** As the author wrote it; used in errors so they can find the file. */
  readonly raw: string;
  readonly declaredSize: number;
  /** Normalized and unwrapped; undefined when the name itself is unusable. */
  path?: string;
  error?: BundleError;
  readonly zipEntry?: ZipEntry;
  /** Set aside on purpose (see leftOutReason): never read, never hosted. */
  leftOut?: boolean;
  load?: () => Promise<Uint8Array | BundleError>;
}

interface Plan {
  readonly candidates: Candidate[];
  /** Problems of the bundle as a whole that do not stop reading (MISSING_INDEX_HTML). */
  readonly bundleErrors: BundleError[];
  readonly zip?: { readonly source: RandomAccessSource; readonly cd: CentralDirectory };
}

export async function readBundle(input: BundleInput, options: ReadBundleOptions = {}): Promise<BundleReport> {
  const limits = resolveLimits(options.limits);
  const ignored: IgnoredEntry[] = [];
  const files: ManifestEntry[] = [];
  const readErrors: BundleError[] = [];
  let plan: Plan | undefined;
  let fatal: BundleError | undefined;
  try {
    plan = await listInput(input, limits, ignored);
    checkCandidates(plan, input.kind, limits, ignored);
    checkDeclaredSizes(plan, limits);
    if (plan.zip) await locateZipEntries(plan.zip, plan.candidates, limits);
    await hostFiles(plan, limits, options, files, readErrors);
  } catch (error) {
    if (!(error instanceof BundleRejected)) throw error;
    fatal = error.error;
  }
  const errors = [
    ...(plan?.candidates.flatMap((c) => (c.error ? [c.error] : [])) ?? []),
    ...(plan?.bundleErrors ?? []),
    ...readErrors,
    ...(fatal ? [fatal] : []),
  ];
  const ok = errors.length === 0;
  return {
    ok,
    files,
    bytes: files.reduce((sum, f) => sum + f.size, 0),
    bundleHash: ok ? await bundleHashOf(files) : "",
    errors,
    ignored,
  };
}

/** Finds each entry's data and refuses overlapping entries before anything is inflated. */
async function locateZipEntries(
  zip: NonNullable<Plan["zip"]>,
  candidates: Candidate[],
  limits: BundleLimits,
) {
  const toInflate = candidates.filter(
    (c): c is Candidate & { zipEntry: ZipEntry } => !c.error && !!c.zipEntry,
  );
  const located = await locateEntries(
    zip.source,
    zip.cd,
    toInflate.map((c) => c.zipEntry),
  );
  toInflate.forEach((c, i) => {
    const at = located[i];
    if (at && !c.leftOut) c.load = () => readEntry(zip.source, at, limits);
  });
}

/** Phase 1a: what the input holds, with junk and folder entries set aside. */
async function listInput(input: BundleInput, limits: BundleLimits, ignored: IgnoredEntry[]): Promise<Plan> {
  switch (input.kind) {
    case "html": {
      const { source, name } = input;
      const candidate: Candidate = {
        raw: name,
        declaredSize: source.size,
        path: "index.html",
        load: () => source.read(0, source.size),
      };
      if (!/\.html?$/i.test(name)) {
        candidate.error = bundleError(
          "UNSUPPORTED_FILE_TYPE",
          name,
          "A single-file mini-site must be an .html file. Choose an .html file, or a folder or zip with index.html.",
        );
      }
      return { candidates: [candidate], bundleErrors: [] };
    }
    case "files": {
      const candidates: Candidate[] = [];
      for (const file of input.files) {
        const junk = junkReason(file.path);
        if (junk) {
          ignored.push({ path: file.path, reason: junk });
          continue;
        }
        const candidate: Candidate = { raw: file.path, declaredSize: file.size, load: () => file.read() };
        if (file.symlink) candidate.error = symlinkError(file.path);
        candidates.push(candidate);
      }
      return { candidates, bundleErrors: [] };
    }
    case "zip": {
      const cd = await readCentralDirectory(input.source, limits);
      const candidates: Candidate[] = [];
      for (const entry of cd.entries) {
        const junk = junkReason(entry.name);
        if (junk || entry.isDirectory) {
          ignored.push({ path: entry.name, reason: junk ?? "folder entry" });
          continue;
        }
        const candidate: Candidate = {
          raw: entry.name,
          declaredSize: entry.uncompressedSize,
          zipEntry: entry,
        };
        if (entry.problem) candidate.error = entry.problem;
        candidates.push(candidate);
      }
      return { candidates, bundleErrors: [], zip: { source: input.source, cd } };
    }
  }
}

function symlinkError(path: string): BundleError {
  return bundleError(
    "SYMLINK",
    path,
    "This is a symbolic link (a shortcut to another file), which cannot be published. Replace it with the real file.",
  );
}

/** Phase 1b: count, paths, wrapping folder, reserved and unsupported names, duplicates, index.html. */
function checkCandidates(
  plan: Plan,
  kind: BundleInput["kind"],
  limits: BundleLimits,
  ignored: IgnoredEntry[],
): void {
  const { candidates } = plan;
  if (candidates.length > limits.maxFiles) {
    throw new BundleRejected(
      bundleError(
        "TOO_MANY_FILES",
        "",
        `The bundle holds ${candidates.length} files; a mini-site may have at most ${limits.maxFiles}. Remove files you do not need.`,
      ),
    );
  }
  if (kind === "html") return;
  for (const c of candidates) {
    const normalized = normalizePath(c.raw, limits);
    if (normalized.ok) c.path = normalized.path;
    else c.error ??= normalized.error;
  }
  const named = candidates.filter((c): c is Candidate & { path: string } => c.path !== undefined);
  const wrapper = wrappingFolder(named.map((c) => c.path));
  for (const c of named) {
    c.path = c.path.slice(wrapper.length);
    if (c.error) continue;
    if (isReservedPath(c.path)) {
      c.error = bundleError(
        "RESERVED_PATH",
        c.raw,
        'Paths starting with "__ms/" are reserved by mini-sites. Rename this folder or file.',
      );
      continue;
    }
    const unsupported = unsupportedFileReason(c.path);
    if (unsupported) c.error = bundleError("UNSUPPORTED_FILE_TYPE", c.raw, unsupported);
    const leftOut = unsupported ? undefined : leftOutReason(c.path);
    if (leftOut) {
      ignored.push({ path: c.raw, reason: leftOut });
      c.leftOut = true;
      c.load = undefined;
    }
  }
  for (const [index, message] of findCollisions(named.map((c) => c.path))) {
    const c = named[index];
    if (c && !c.error) c.error = bundleError("DUPLICATE_PATH", c.raw, message);
  }
  if (!named.some((c) => c.path === "index.html")) {
    // AI tools often name the page after its content (dashboard.html): point at it.
    const pages = named
      .map((c) => c.path)
      .filter((path) => !path.includes("/") && /\.html?$/i.test(path))
      .slice(0, 3);
    const hint =
      pages.length > 0
        ? ` The top of the bundle has ${pages.map((p) => `"${p}"`).join(", ")}: rename the main page to index.html.`
        : " Add one (it is the page people see first), or publish the folder that contains it.";
    plan.bundleErrors.push(
      bundleError("MISSING_INDEX_HTML", "", `There is no index.html at the top of the bundle.${hint}`),
    );
  }
}

/** Phase 1c: per-file and total declared sizes, and the compression ratio, before any inflating. */
function checkDeclaredSizes(plan: Plan, limits: BundleLimits): void {
  let total = 0;
  for (const c of plan.candidates) {
    if (c.error || c.leftOut) continue;
    if (c.declaredSize > limits.maxFileBytes) {
      c.error = bundleError("FILE_TOO_LARGE", c.raw, fileTooLargeMessage(c.declaredSize, limits));
      continue;
    }
    const entry = c.zipEntry;
    if (
      entry &&
      entry.uncompressedSize > limits.ratioCheckMinBytes &&
      entry.uncompressedSize > limits.maxCompressionRatio * entry.compressedSize
    ) {
      throw new BundleRejected(
        bundleError(
          "ZIP_BOMB",
          c.raw,
          `This file shrinks more than ${limits.maxCompressionRatio} times in the zip, the signature of a zip bomb. Re-create the zip with a standard tool.`,
        ),
      );
    }
    total += c.declaredSize;
  }
  if (total > limits.maxBundleBytes) throw new BundleRejected(bundleTooLarge(total, limits));
}

function bundleTooLarge(total: number, limits: BundleLimits): BundleError {
  return bundleError(
    "BUNDLE_TOO_LARGE",
    "",
    `The files add up to ${formatBytes(total)}; a mini-site may hold at most ${formatBytes(limits.maxBundleBytes)}. Leave out large files such as videos.`,
  );
}

/**
 * How far phase 2 reads ahead of the file being handed over. Deep enough that reading and hashing
 * (I/O and crypto threads) keep up with the caller's scan on the main thread; small next to the caps,
 * so the control Worker's 128 MB hold at most one large file plus this.
 */
const READ_AHEAD_FILES = 8;
const READ_AHEAD_BYTES = 8 * 1024 * 1024;

/** Phase 2: read, check, hash and hand over each hosted file, one at a time, in path order. */
async function hostFiles(
  plan: Plan,
  limits: BundleLimits,
  options: ReadBundleOptions,
  files: ManifestEntry[],
  errors: BundleError[],
): Promise<void> {
  const toRead = plan.candidates
    .filter(
      (c): c is Candidate & { path: string } => !c.error && c.path !== undefined && c.load !== undefined,
    )
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const bytesTotal = toRead.reduce((sum, c) => sum + c.declaredSize, 0);
  let bytesDone = 0;
  // Files are read ahead, and their hashes started (crypto.subtle runs off the main thread in every
  // runtime), while the current one is handed over, so I/O and hashing overlap the caller's work (the
  // secret scan). The read-ahead is bounded by READ_AHEAD_FILES and READ_AHEAD_BYTES of declared
  // size (always at least one file): held bytes stay under the per-file cap + READ_AHEAD_BYTES.
  interface Loaded {
    readonly bytes: Uint8Array | BundleError;
    readonly hash?: Promise<string>;
  }
  const startLoad = (c: Candidate & { path: string }): Promise<Loaded> => {
    const pending = (c.load as () => Promise<Uint8Array | BundleError>)().then((bytes): Loaded => {
      if (!(bytes instanceof Uint8Array) || bytes.length > limits.maxFileBytes) return { bytes };
      const hash = assetHash(c.path, bytes);
      hash.catch(() => {}); // awaited below
      return { bytes, hash };
    });
    pending.catch(() => {}); // awaited below; this only keeps an abandoned read-ahead from going unhandled
    return pending;
  };
  const ahead: Promise<Loaded>[] = [];
  let started = 0;
  let aheadBytes = 0;
  const fill = () => {
    while (started < toRead.length && ahead.length < READ_AHEAD_FILES) {
      const c = toRead[started] as Candidate & { path: string };
      if (ahead.length > 0 && aheadBytes + c.declaredSize > READ_AHEAD_BYTES) break;
      ahead.push(startLoad(c));
      aheadBytes += c.declaredSize;
      started++;
    }
  };
  fill();
  for (const c of toRead) {
    const { bytes: loaded, hash } = await (ahead.shift() as Promise<Loaded>);
    aheadBytes -= c.declaredSize;
    fill();
    if (!(loaded instanceof Uint8Array)) {
      errors.push(loaded);
      continue;
    }
    // A file list's sizes come from the caller and may be stale: the bytes are what count.
    if (loaded.length > limits.maxFileBytes) {
      errors.push(bundleError("FILE_TOO_LARGE", c.raw, fileTooLargeMessage(loaded.length, limits)));
      continue;
    }
    if (bytesDone + loaded.length > limits.maxBundleBytes) {
      throw new BundleRejected(bundleTooLarge(bytesDone + loaded.length, limits));
    }
    await checkNestedArchive(c.raw, loaded, limits);
    const entry: ManifestEntry = {
      path: c.path,
      size: loaded.length,
      contentType: contentTypeFor(c.path),
      hash: await (hash as Promise<string>),
    };
    files.push(entry);
    bytesDone += loaded.length;
    await options.onFile?.(entry, loaded);
    options.onProgress?.({ filesDone: files.length, filesTotal: toRead.length, bytesDone, bytesTotal });
  }
}
