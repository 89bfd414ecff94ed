/**
 * Our own zip reader over a RandomAccessSource (DESIGN §5). fflate inflates, but exposes neither the
 * external attributes (symlinks) nor the entry offsets (overlap detection), and wants the whole archive
 * in memory; a Worker has 128 MB. So this module reads the central directory itself, checks every
 * entry against the caps BEFORE inflating anything, then inflates one entry at a time in small pushes.
 *
 * Threat model: the archive is hostile. It may lie about sizes (declared small, inflates huge), reuse
 * one compressed stream for many entries ("better zip bomb", overlapping local headers), nest archives
 * (42.zip), declare absurd entry counts, point offsets outside the file, hide symlinks in external
 * attributes, or carry names with NUL / invalid UTF-8. Every read is bounded by the caps: the largest
 * single read is the central directory (itself capped by the entry count) or one entry's declared
 * size, and inflated output never exceeds the declared size by more than one push's worth.
 *
 * Format reference: PKWARE APPNOTE.TXT 6.3.10, sections 4.3.7 (local header), 4.3.12 (central
 * directory), 4.3.14–4.3.16 (ZIP64 end records), 4.5.3 (ZIP64 extra field).
 */

import { Inflate } from "fflate";
import { type BundleError, BundleRejected, bundleError } from "../errors.ts";
import type { BundleLimits } from "../limits.ts";
import { bytesSource } from "./source.ts";
import type { RandomAccessSource } from "./types.ts";

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;

const EOCD_BYTES = 22;
const EOCD64_BYTES = 56;
const EOCD64_LOCATOR_BYTES = 20;
const CENTRAL_HEADER_BYTES = 46;
const LOCAL_HEADER_BYTES = 30;
/** The EOCD sits in the last 22 bytes plus a comment of at most 65,535 bytes. */
const EOCD_SEARCH_BYTES = EOCD_BYTES + 0xffff;
/**
 * Budget per central-directory entry beyond its name, for extra fields and comment. Real tools write
 * under 100 bytes (timestamps, Unix ids, ZIP64 sizes); the budget only caps a directory padded to
 * make us read megabytes.
 */
const CENTRAL_ENTRY_SLACK_BYTES = 1_024;

/** Compressed bytes fetched from the source per read. */
export const READ_CHUNK_BYTES = 64 * 1024;
/**
 * Compressed bytes handed to fflate per push. Deflate expands at most ~1032:1, so one push yields at
 * most ~8.3 MB: the overshoot past a declared size before we notice and stop.
 */
export const INFLATE_PUSH_BYTES = 8 * 1024;

const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;
const METHOD_AES = 99;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_STRONG_ENCRYPTION = 0x0040;
const HOST_UNIX = 3;
const HOST_DARWIN = 19;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;
const DOS_DIRECTORY = 0x10;

/** Most entries an archive may declare before we refuse to even read its directory. */
export function maxZipEntries(limits: BundleLimits): number {
  return 2 * limits.maxFiles + 1_000;
}

export interface ZipEntry {
  /** The name, strictly decoded; lossy (with U+FFFD) when `problem` says it is not valid UTF-8. */
  readonly name: string;
  readonly nameBytes: Uint8Array;
  readonly flags: number;
  readonly method: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly localHeaderOffset: number;
  readonly externalAttributes: number;
  /** High byte of "version made by": 0 = MS-DOS, 3 = Unix, 19 = macOS. */
  readonly madeByHost: number;
  readonly isDirectory: boolean;
  /** Why this entry cannot be hosted (SYMLINK, INVALID_ZIP); it is skipped, the others are read. */
  readonly problem?: BundleError;
}

export interface CentralDirectory {
  readonly entries: readonly ZipEntry[];
  readonly offset: number;
  readonly size: number;
}

/** Where an entry's compressed bytes start, from its local header. */
export interface LocatedEntry {
  readonly entry: ZipEntry;
  readonly dataStart: number;
}

function reject(code: BundleError["code"], message: string, path = ""): never {
  throw new BundleRejected(bundleError(code, path, message));
}

function damaged(detail: string): never {
  return reject(
    "INVALID_ZIP",
    `The zip file is damaged or not a zip file (${detail}). Re-create the zip and try again.`,
  );
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A little-endian u64 as a number; refuses values beyond 2^53, which no real archive needs. */
function u64(dv: DataView, at: number): number {
  const lo = dv.getUint32(at, true);
  const hi = dv.getUint32(at + 4, true);
  if (hi > 0x1fffff) damaged("a 64-bit size or offset is impossibly large");
  return hi * 0x1_0000_0000 + lo;
}

async function readExactly(source: RandomAccessSource, offset: number, length: number): Promise<Uint8Array> {
  if (offset < 0 || length < 0 || offset + length > source.size) damaged("an offset points outside the file");
  const bytes = await source.read(offset, length);
  if (bytes.length !== length) damaged("the file ends too early");
  return bytes;
}

interface EndRecord {
  readonly entryCount: number;
  readonly cdOffset: number;
  readonly cdSize: number;
  /** The central directory must end here (the EOCD, or the ZIP64 record before it). */
  readonly cdLimit: number;
}

async function readEndRecord(source: RandomAccessSource): Promise<EndRecord> {
  if (source.size < EOCD_BYTES) damaged("too short to be a zip");
  const tailLength = Math.min(source.size, EOCD_SEARCH_BYTES);
  const tailStart = source.size - tailLength;
  const tail = await readExactly(source, tailStart, tailLength);
  const dv = view(tail);
  let at = -1;
  for (let i = tailLength - EOCD_BYTES; i >= 0; i--) {
    if (dv.getUint32(i, true) === SIG_EOCD && i + EOCD_BYTES + dv.getUint16(i + 20, true) <= tailLength) {
      at = i;
      break;
    }
  }
  if (at < 0) damaged("no end-of-archive record");
  const disk = dv.getUint16(at + 4, true);
  const cdDisk = dv.getUint16(at + 6, true);
  const entriesOnDisk = dv.getUint16(at + 8, true);
  let entryCount = dv.getUint16(at + 10, true);
  let cdSize = dv.getUint32(at + 12, true);
  let cdOffset = dv.getUint32(at + 16, true);
  const eocdOffset = tailStart + at;
  let cdLimit = eocdOffset;

  const locatorAt = at - EOCD64_LOCATOR_BYTES;
  const locator =
    locatorAt >= 0
      ? tail.subarray(locatorAt, at)
      : eocdOffset >= EOCD64_LOCATOR_BYTES
        ? await readExactly(source, eocdOffset - EOCD64_LOCATOR_BYTES, EOCD64_LOCATOR_BYTES)
        : undefined;
  if (locator && view(locator).getUint32(0, true) === SIG_EOCD64_LOCATOR) {
    const lv = view(locator);
    const recordOffset = u64(lv, 8);
    if (lv.getUint32(4, true) !== 0 || lv.getUint32(16, true) > 1) reject("INVALID_ZIP", SPLIT_MESSAGE);
    if (recordOffset + EOCD64_BYTES > eocdOffset - EOCD64_LOCATOR_BYTES)
      damaged("the ZIP64 record points outside the file");
    const record = await readExactly(source, recordOffset, EOCD64_BYTES);
    const rv = view(record);
    if (rv.getUint32(0, true) !== SIG_EOCD64) damaged("the ZIP64 record is missing");
    if (rv.getUint32(16, true) !== 0 || rv.getUint32(20, true) !== 0) reject("INVALID_ZIP", SPLIT_MESSAGE);
    if (u64(rv, 24) !== u64(rv, 32)) reject("INVALID_ZIP", SPLIT_MESSAGE);
    entryCount = u64(rv, 32);
    cdSize = u64(rv, 40);
    cdOffset = u64(rv, 48);
    cdLimit = recordOffset;
  } else {
    const saturated = entryCount === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff;
    if (saturated) damaged("a ZIP64 archive without its ZIP64 record");
    if (disk !== 0 || cdDisk !== 0 || entriesOnDisk !== entryCount) reject("INVALID_ZIP", SPLIT_MESSAGE);
  }
  return { entryCount, cdOffset, cdSize, cdLimit };
}

const SPLIT_MESSAGE = "Split (multi-part) zip archives are not supported. Create a single zip file.";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const lossyUtf8 = new TextDecoder("utf-8");
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const ALL_CONTROL_CHARS = /[\u0000-\u001f\u007f]/g;

/**
 * Reads and checks the central directory. Throws BundleRejected for a damaged archive or an absurd
 * entry count (decided from the end record alone, before the directory is read); per-entry problems
 * (symlink, encryption, unknown method, bad name) are returned on the entry.
 */
export async function readCentralDirectory(
  source: RandomAccessSource,
  limits: BundleLimits,
): Promise<CentralDirectory> {
  const end = await readEndRecord(source);
  const maxEntries = maxZipEntries(limits);
  if (end.entryCount > maxEntries) {
    reject(
      "TOO_MANY_FILES",
      `The zip holds ${end.entryCount} entries; a mini-site may have at most ${limits.maxFiles} files. Remove files you do not need.`,
    );
  }
  const maxCdBytes =
    end.entryCount * (CENTRAL_HEADER_BYTES + limits.maxPathBytes + CENTRAL_ENTRY_SLACK_BYTES);
  if (end.cdSize > maxCdBytes) damaged("its directory is far larger than its entries need");
  if (end.cdSize < end.entryCount * CENTRAL_HEADER_BYTES)
    damaged("its directory is too small for its entries");
  if (end.cdOffset + end.cdSize > end.cdLimit) damaged("its directory points outside the file");
  const cd = await readExactly(source, end.cdOffset, end.cdSize);
  const dv = view(cd);
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let i = 0; i < end.entryCount; i++) {
    if (at + CENTRAL_HEADER_BYTES > cd.length || dv.getUint32(at, true) !== SIG_CENTRAL) {
      damaged("a directory entry is missing");
    }
    const nameLength = dv.getUint16(at + 28, true);
    const extraLength = dv.getUint16(at + 30, true);
    const commentLength = dv.getUint16(at + 32, true);
    const next = at + CENTRAL_HEADER_BYTES + nameLength + extraLength + commentLength;
    if (next > cd.length) damaged("a directory entry runs past the directory");
    const nameBytes = cd.subarray(at + CENTRAL_HEADER_BYTES, at + CENTRAL_HEADER_BYTES + nameLength);
    const extra = cd.subarray(
      at + CENTRAL_HEADER_BYTES + nameLength,
      at + CENTRAL_HEADER_BYTES + nameLength + extraLength,
    );
    let compressedSize = dv.getUint32(at + 20, true);
    let uncompressedSize = dv.getUint32(at + 24, true);
    let localHeaderOffset = dv.getUint32(at + 42, true);
    const diskStart = dv.getUint16(at + 34, true);
    // ZIP64 extra field (APPNOTE 4.5.3): holds, in this order, only the values saturated above.
    if (
      uncompressedSize === 0xffffffff ||
      compressedSize === 0xffffffff ||
      localHeaderOffset === 0xffffffff
    ) {
      const zip64 = findExtra(extra, 0x0001);
      if (!zip64) damaged("a ZIP64 entry without its sizes");
      const zv = view(zip64);
      let z = 0;
      const next64 = (): number => {
        if (z + 8 > zip64.length) damaged("a ZIP64 entry with missing sizes");
        const value = u64(zv, z);
        z += 8;
        return value;
      };
      if (uncompressedSize === 0xffffffff) uncompressedSize = next64();
      if (compressedSize === 0xffffffff) compressedSize = next64();
      if (localHeaderOffset === 0xffffffff) localHeaderOffset = next64();
    }
    if (diskStart !== 0 && diskStart !== 0xffff) reject("INVALID_ZIP", SPLIT_MESSAGE);
    const versionMadeBy = dv.getUint16(at + 4, true);
    const flags = dv.getUint16(at + 8, true);
    const method = dv.getUint16(at + 10, true);
    const externalAttributes = dv.getUint32(at + 38, true);
    const madeByHost = versionMadeBy >>> 8;
    entries.push(
      describeEntry({
        nameBytes,
        flags,
        method,
        crc32: dv.getUint32(at + 16, true),
        compressedSize,
        uncompressedSize,
        localHeaderOffset,
        externalAttributes,
        madeByHost,
      }),
    );
    at = next;
  }
  return { entries, offset: end.cdOffset, size: end.cdSize };
}

function findExtra(extra: Uint8Array, id: number): Uint8Array | undefined {
  const dv = view(extra);
  let at = 0;
  while (at + 4 <= extra.length) {
    const size = dv.getUint16(at + 2, true);
    if (dv.getUint16(at, true) === id) return extra.subarray(at + 4, Math.min(extra.length, at + 4 + size));
    at += 4 + size;
  }
  return undefined;
}

/** Generous upper bound of a deflate stream for `n` bytes (zlib's bound is n + n/4096·5 + 13). */
function maxDeflatedSize(n: number): number {
  return n + Math.ceil(n / 8) + 1_024;
}

type RawEntry = Omit<ZipEntry, "name" | "isDirectory" | "problem">;

function describeEntry(raw: RawEntry): ZipEntry {
  let name: string;
  let problem: BundleError | undefined;
  try {
    name = strictUtf8.decode(raw.nameBytes);
  } catch {
    name = lossyUtf8.decode(raw.nameBytes);
    problem = bundleError(
      "INVALID_ZIP",
      name,
      "This file name is not valid UTF-8 text. Rename the file using plain characters, or re-create the zip with a current zip tool.",
    );
  }
  if (CONTROL_CHARS.test(name)) {
    name = name.replace(ALL_CONTROL_CHARS, "\uFFFD");
    problem ??= bundleError(
      "INVALID_ZIP",
      name,
      "This file name contains invisible control characters (shown as \uFFFD). Rename the file and re-create the zip.",
    );
  }
  const unixHost = raw.madeByHost === HOST_UNIX || raw.madeByHost === HOST_DARWIN;
  const mode = unixHost ? raw.externalAttributes >>> 16 : 0;
  const isDirectory =
    name.endsWith("/") ||
    (unixHost && (mode & S_IFMT) === S_IFDIR) ||
    (!unixHost && (raw.externalAttributes & DOS_DIRECTORY) !== 0 && raw.uncompressedSize === 0);
  if (!problem && unixHost && (mode & S_IFMT) === S_IFLNK) {
    problem = bundleError(
      "SYMLINK",
      name,
      "This entry is a symbolic link (a shortcut to another file), which cannot be published. Replace it with the real file.",
    );
  }
  if (!problem && (raw.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) || raw.method === METHOD_AES)) {
    problem = bundleError(
      "INVALID_ZIP",
      name,
      "This file is password-protected; encrypted zips are not supported. Re-create the zip without a password.",
    );
  }
  if (!problem && raw.method !== METHOD_STORED && raw.method !== METHOD_DEFLATE) {
    problem = bundleError(
      "INVALID_ZIP",
      name,
      `This file uses a compression method (${raw.method}) that is not supported. Re-create the zip with standard ("deflate") compression.`,
    );
  }
  // Deflate never grows data by more than a few bytes per block; a compressed stream far larger than
  // its output would make us read (from R2, at a cost) bytes that produce nothing. This also bounds
  // the compressed bytes read for a whole bundle to about the bundle cap.
  if (
    !problem &&
    raw.method === METHOD_DEFLATE &&
    raw.compressedSize > maxDeflatedSize(raw.uncompressedSize)
  ) {
    problem = bundleError(
      "INVALID_ZIP",
      name,
      "This file's recorded sizes are impossible. Re-create the zip.",
    );
  }
  if (!problem && raw.method === METHOD_STORED && raw.compressedSize !== raw.uncompressedSize) {
    problem = bundleError("INVALID_ZIP", name, "This file's recorded sizes disagree. Re-create the zip.");
  }
  return problem ? { ...raw, name, isDirectory, problem } : { ...raw, name, isDirectory };
}

/**
 * Reads the local header of every entry that will be inflated, to find where its data starts, and
 * refuses archives whose entries share bytes with each other or with the directory: the overlapping
 * "better zip bomb" makes thousands of entries inflate one small compressed stream.
 */
export async function locateEntries(
  source: RandomAccessSource,
  cd: CentralDirectory,
  entries: readonly ZipEntry[],
): Promise<LocatedEntry[]> {
  const located: { entry: ZipEntry; start: number; dataStart: number; end: number }[] = [];
  let renamed: ZipEntry | undefined;
  for (const entry of entries) {
    const header = await readExactly(
      source,
      entry.localHeaderOffset,
      LOCAL_HEADER_BYTES + entry.nameBytes.length,
    );
    const hv = view(header);
    if (hv.getUint32(0, true) !== SIG_LOCAL) damaged(`no file header for "${entry.name}"`);
    const nameLength = hv.getUint16(26, true);
    const extraLength = hv.getUint16(28, true);
    // A local name that differs from the directory's means two tools would see two different files.
    if (
      nameLength !== entry.nameBytes.length ||
      !sameBytes(header.subarray(LOCAL_HEADER_BYTES), entry.nameBytes)
    ) {
      renamed ??= entry;
    }
    const dataStart = entry.localHeaderOffset + LOCAL_HEADER_BYTES + nameLength + extraLength;
    const end = dataStart + entry.compressedSize;
    if (end > source.size) damaged(`the data of "${entry.name}" runs past the end of the file`);
    if (end > cd.offset && entry.localHeaderOffset < cd.offset + cd.size) {
      reject("ZIP_BOMB", OVERLAP_MESSAGE, entry.name);
    }
    located.push({ entry, start: entry.localHeaderOffset, dataStart, end });
  }
  const byStart = [...located].sort((a, b) => a.start - b.start);
  for (let i = 1; i < byStart.length; i++) {
    const prev = byStart[i - 1];
    const cur = byStart[i];
    if (prev && cur && cur.start < prev.end) reject("ZIP_BOMB", OVERLAP_MESSAGE, cur.entry.name);
  }
  // Checked after overlaps: entries sharing one local header also disagree on its name, and the
  // overlap is the finding that explains the archive.
  if (renamed) damaged(`the file header of "${renamed.name}" names a different file`);
  return located.map(({ entry, dataStart }) => ({ entry, dataStart }));
}

const OVERLAP_MESSAGE =
  "Several files in this zip share the same compressed data, a trick used by zip bombs. Re-create the zip with a standard tool.";

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Inflates one located entry under its declared size and the per-file cap, then verifies size and
 * CRC-32. Inflating past the declared size is a bomb (thrown); a short or corrupt entry is returned as
 * that entry's error so the other files are still read.
 */
export async function readEntry(
  source: RandomAccessSource,
  located: LocatedEntry,
  limits: BundleLimits,
): Promise<Uint8Array | BundleError> {
  const { entry, dataStart } = located;
  const declared = entry.uncompressedSize;
  if (declared > limits.maxFileBytes) {
    reject("FILE_TOO_LARGE", fileTooLargeMessage(declared, limits), entry.name);
  }
  const out = new Uint8Array(declared);
  let written = 0;
  let overflow = false;
  if (entry.method === METHOD_STORED) {
    for (let done = 0; done < entry.compressedSize; ) {
      const length = Math.min(READ_CHUNK_BYTES, entry.compressedSize - done);
      out.set(await readExactly(source, dataStart + done, length), done);
      done += length;
    }
    written = entry.compressedSize;
  } else {
    const inflater = new Inflate((chunk) => {
      if (overflow || written + chunk.length > declared) {
        overflow = true;
        return;
      }
      out.set(chunk, written);
      written += chunk.length;
    });
    try {
      if (entry.compressedSize === 0) {
        if (declared !== 0) return corrupt(entry, "it is empty but should not be");
      } else {
        for (let done = 0; done < entry.compressedSize; ) {
          const length = Math.min(READ_CHUNK_BYTES, entry.compressedSize - done);
          const chunk = await readExactly(source, dataStart + done, length);
          done += length;
          for (let p = 0; p < chunk.length; p += INFLATE_PUSH_BYTES) {
            const piece = chunk.subarray(p, Math.min(chunk.length, p + INFLATE_PUSH_BYTES));
            inflater.push(piece, done === entry.compressedSize && p + piece.length === chunk.length);
            if (overflow) {
              reject(
                "ZIP_BOMB",
                `This file declares ${declared} bytes but inflates to more, a trick used by zip bombs. Re-create the zip with a standard tool.`,
                entry.name,
              );
            }
          }
        }
      }
    } catch (error) {
      if (error instanceof BundleRejected) throw error;
      return corrupt(entry, "its compressed data is damaged");
    }
  }
  if (written !== declared) return corrupt(entry, `it holds ${written} bytes but declares ${declared}`);
  if (crc32(out) !== entry.crc32) return corrupt(entry, "its checksum does not match its content");
  return out;
}

export function fileTooLargeMessage(size: number, limits: BundleLimits): string {
  return `This file is ${formatBytes(size)}; a mini-site file may be at most ${formatBytes(limits.maxFileBytes)}. Make it smaller or leave it out.`;
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Math.round((n / (1024 * 1024)) * 10) / 10} MiB`;
  if (n >= 1024) return `${Math.round((n / 1024) * 10) / 10} KiB`;
  return `${n} bytes`;
}

function corrupt(entry: ZipEntry, why: string): BundleError {
  return bundleError(
    "INVALID_ZIP",
    entry.name,
    `This file is damaged inside the zip (${why}). Re-create the zip.`,
  );
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE), as zip records it. fflate computes one internally but does not export it. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++)
    c = (CRC_TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** True when the bytes start like a zip archive (a local header, or the end record of an empty zip). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const sig = view(bytes).getUint32(0, true);
  return sig === SIG_LOCAL || sig === SIG_EOCD;
}

const NESTED_MESSAGE =
  "This file is a zip that contains further zips or expands to more than a whole mini-site may hold, the shape of a zip bomb. Leave it out or unpack it.";

/**
 * 42.zip defence: a hosted file that is itself a zip (bounded by the per-file cap, so it is already in
 * memory) may not contain further archives nor declare more content than a whole bundle may hold.
 * A file that merely starts like a zip but is not readable as one is served as opaque bytes.
 */
export async function checkNestedArchive(
  path: string,
  bytes: Uint8Array,
  limits: BundleLimits,
): Promise<void> {
  if (!looksLikeZip(bytes)) return;
  const source = bytesSource(bytes);
  let cd: CentralDirectory;
  try {
    cd = await readCentralDirectory(source, limits);
  } catch (error) {
    if (!(error instanceof BundleRejected)) throw error;
    if (error.error.code === "TOO_MANY_FILES") reject("ZIP_BOMB", NESTED_MESSAGE, path);
    return;
  }
  let total = 0;
  for (const entry of cd.entries) {
    total += entry.uncompressedSize;
    if (total > limits.maxBundleBytes) reject("ZIP_BOMB", NESTED_MESSAGE, path);
  }
  for (const entry of cd.entries) {
    if (entry.isDirectory) continue;
    if (/\.zip$/i.test(entry.name) || (await startsLikeZip(source, entry)))
      reject("ZIP_BOMB", NESTED_MESSAGE, path);
  }
}

/** Peeks at the first bytes of a nested entry, inflating at most one small push. */
async function startsLikeZip(source: RandomAccessSource, entry: ZipEntry): Promise<boolean> {
  if (entry.problem || entry.uncompressedSize < 4) return false;
  try {
    const header = await readExactly(source, entry.localHeaderOffset, LOCAL_HEADER_BYTES);
    const hv = view(header);
    if (hv.getUint32(0, true) !== SIG_LOCAL) return false;
    const dataStart =
      entry.localHeaderOffset + LOCAL_HEADER_BYTES + hv.getUint16(26, true) + hv.getUint16(28, true);
    const length = Math.min(entry.compressedSize, INFLATE_PUSH_BYTES, source.size - dataStart);
    if (length <= 0) return false;
    const data = await readExactly(source, dataStart, length);
    if (entry.method === METHOD_STORED) return looksLikeZip(data);
    let head = new Uint8Array(0);
    const inflater = new Inflate((chunk) => {
      if (head.length < 4) head = new Uint8Array([...head, ...chunk.subarray(0, 4 - head.length)]);
    });
    inflater.push(data, false);
    return looksLikeZip(head);
  } catch {
    return false;
  }
}
