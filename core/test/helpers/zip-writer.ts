/**
 * A test-only zip WRITER that can lie. Real zip tools refuse to produce hostile archives, so tests
 * craft them byte by byte here: wrong declared sizes or CRCs, entries sharing one local header,
 * symlink attributes, ZIP64 records, NUL / invalid UTF-8 names, the encrypted flag, unknown methods.
 * Layout follows PKWARE APPNOTE 6.3.10 (4.3.7 local header, 4.3.12 central header, 4.3.14–16 EOCD).
 */

import { deflateSync } from "fflate";
import { bytesSource } from "../../src/bundle/source.ts";
import type { BundleInput, InputFile, RandomAccessSource } from "../../src/bundle/types.ts";
import { crc32 } from "../../src/bundle/zip.ts";

export interface ZipEntrySpec {
  readonly name: string | Uint8Array;
  /** Uncompressed content. */
  readonly data?: Uint8Array | string;
  /** 0 = stored, 8 = deflate (default), anything else is written as is with `data` stored. */
  readonly method?: number;
  /** Raw bytes to write as the entry's data instead of compressing `data`. */
  readonly rawData?: Uint8Array;
  /** Declared values (local and central) instead of the true ones. */
  readonly crc?: number;
  readonly compressedSize?: number;
  readonly uncompressedSize?: number;
  readonly flags?: number;
  /** Default: Unix (3 << 8 | 20). */
  readonly versionMadeBy?: number;
  /** Default: a regular Unix file, 0o100644 << 16. */
  readonly externalAttributes?: number;
  /** Write sizes and offset through the ZIP64 extra field. */
  readonly zip64?: boolean;
  /** Write no local header or data: the central entry points at entry N's local header. */
  readonly sharesLocalWith?: number;
  /** A different name in the local header than in the central directory. */
  readonly localName?: string | Uint8Array;
}

export interface ZipSpec {
  /** Override what the end record declares. */
  readonly entryCount?: number;
  readonly cdOffset?: number;
  readonly cdSize?: number;
  /** Write ZIP64 end record and locator (with the true values unless overridden above). */
  readonly zip64End?: boolean;
  readonly comment?: string;
  /** Bytes prepended before the first local header (offsets are NOT adjusted). */
  readonly prefix?: Uint8Array;
}

export const UNIX_FILE = (0o100644 << 16) >>> 0;
export const UNIX_SYMLINK = (0o120777 << 16) >>> 0;
export const UNIX_DIR = (0o040755 << 16) >>> 0;
export const UNIX_HOST = (3 << 8) | 20;

const encoder = new TextEncoder();
const bytesOf = (v: string | Uint8Array): Uint8Array => (typeof v === "string" ? encoder.encode(v) : v);

class Out {
  private readonly chunks: Uint8Array[] = [];
  length = 0;
  push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }
  header(size: number, fill: (dv: DataView) => void): void {
    const bytes = new Uint8Array(size);
    fill(new DataView(bytes.buffer));
    this.push(bytes);
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

function setU64(dv: DataView, at: number, value: number): void {
  dv.setUint32(at, value % 0x1_0000_0000, true);
  dv.setUint32(at + 4, Math.floor(value / 0x1_0000_0000), true);
}

interface Written {
  readonly offset: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
}

export function writeZip(entries: readonly ZipEntrySpec[], spec: ZipSpec = {}): Uint8Array {
  const out = new Out();
  if (spec.prefix) out.push(spec.prefix);
  const written: Written[] = [];
  for (const entry of entries) {
    const data = bytesOf(entry.data ?? new Uint8Array(0));
    const method = entry.method ?? 8;
    const payload = entry.rawData ?? (method === 8 ? deflateSync(data) : data);
    const facts: Written = {
      offset: 0,
      crc: entry.crc ?? crc32(data),
      compressedSize: entry.compressedSize ?? payload.length,
      uncompressedSize: entry.uncompressedSize ?? data.length,
    };
    if (entry.sharesLocalWith !== undefined) {
      const shared = written[entry.sharesLocalWith];
      if (!shared) throw new Error("sharesLocalWith must name an earlier entry");
      written.push({ ...facts, offset: shared.offset });
      continue;
    }
    const offset = out.length;
    const name = bytesOf(entry.localName ?? entry.name);
    const extra = entry.zip64 ? new Uint8Array(20) : new Uint8Array(0);
    if (entry.zip64) {
      const dv = new DataView(extra.buffer);
      dv.setUint16(0, 0x0001, true);
      dv.setUint16(2, 16, true);
      setU64(dv, 4, facts.uncompressedSize);
      setU64(dv, 12, facts.compressedSize);
    }
    out.header(30, (dv) => {
      dv.setUint32(0, 0x04034b50, true);
      dv.setUint16(4, entry.zip64 ? 45 : 20, true);
      dv.setUint16(6, entry.flags ?? 0x0800, true);
      dv.setUint16(8, method, true);
      dv.setUint32(14, facts.crc, true);
      dv.setUint32(18, entry.zip64 ? 0xffffffff : facts.compressedSize, true);
      dv.setUint32(22, entry.zip64 ? 0xffffffff : facts.uncompressedSize, true);
      dv.setUint16(26, name.length, true);
      dv.setUint16(28, extra.length, true);
    });
    out.push(name);
    out.push(extra);
    out.push(payload);
    written.push({ ...facts, offset });
  }
  const cdOffset = out.length;
  entries.forEach((entry, i) => {
    const facts = written[i] as Written;
    const name = bytesOf(entry.name);
    const extra = entry.zip64 ? new Uint8Array(28) : new Uint8Array(0);
    if (entry.zip64) {
      const dv = new DataView(extra.buffer);
      dv.setUint16(0, 0x0001, true);
      dv.setUint16(2, 24, true);
      setU64(dv, 4, facts.uncompressedSize);
      setU64(dv, 12, facts.compressedSize);
      setU64(dv, 20, facts.offset);
    }
    out.header(46, (dv) => {
      dv.setUint32(0, 0x02014b50, true);
      dv.setUint16(4, entry.versionMadeBy ?? UNIX_HOST, true);
      dv.setUint16(6, entry.zip64 ? 45 : 20, true);
      dv.setUint16(8, entry.flags ?? 0x0800, true);
      dv.setUint16(10, entry.method ?? 8, true);
      dv.setUint32(16, facts.crc, true);
      dv.setUint32(20, entry.zip64 ? 0xffffffff : facts.compressedSize, true);
      dv.setUint32(24, entry.zip64 ? 0xffffffff : facts.uncompressedSize, true);
      dv.setUint16(28, name.length, true);
      dv.setUint16(30, extra.length, true);
      dv.setUint32(38, entry.externalAttributes ?? UNIX_FILE, true);
      dv.setUint32(42, entry.zip64 ? 0xffffffff : facts.offset, true);
    });
    out.push(name);
    out.push(extra);
  });
  const cdSize = out.length - cdOffset;
  const count = spec.entryCount ?? entries.length;
  if (spec.zip64End) {
    const recordOffset = out.length;
    out.header(56, (dv) => {
      dv.setUint32(0, 0x06064b50, true);
      setU64(dv, 4, 44);
      dv.setUint16(12, 45, true);
      dv.setUint16(14, 45, true);
      setU64(dv, 24, count);
      setU64(dv, 32, count);
      setU64(dv, 40, spec.cdSize ?? cdSize);
      setU64(dv, 48, spec.cdOffset ?? cdOffset);
    });
    out.header(20, (dv) => {
      dv.setUint32(0, 0x07064b50, true);
      setU64(dv, 8, recordOffset);
      dv.setUint32(16, 1, true);
    });
  }
  const comment = encoder.encode(spec.comment ?? "");
  out.header(22, (dv) => {
    dv.setUint32(0, 0x06054b50, true);
    const small = spec.zip64End ? 0xffff : Math.min(count, 0xffff);
    dv.setUint16(8, small, true);
    dv.setUint16(10, small, true);
    dv.setUint32(12, spec.zip64End ? 0xffffffff : (spec.cdSize ?? cdSize), true);
    dv.setUint32(16, spec.zip64End ? 0xffffffff : (spec.cdOffset ?? cdOffset), true);
    dv.setUint16(20, comment.length, true);
  });
  out.push(comment);
  return out.concat();
}

/** A zip of `{ path: content }`, deflated, as an ordinary tool would write it. */
export function zipOf(files: Readonly<Record<string, string | Uint8Array>>): Uint8Array {
  return writeZip(Object.entries(files).map(([name, data]) => ({ name, data })));
}

// Builders for the three input forms, and a source that records what the reader asked for.

export const utf8 = (s: string | Uint8Array): Uint8Array => (typeof s === "string" ? encoder.encode(s) : s);

export function zipInput(bytes: Uint8Array): BundleInput {
  return { kind: "zip", source: bytesSource(bytes) };
}

export function filesInput(
  files: Readonly<Record<string, string | Uint8Array>>,
  extra: Partial<InputFile> & { symlinks?: readonly string[] } = {},
): BundleInput {
  return {
    kind: "files",
    files: Object.entries(files).map(([path, content]) => {
      const bytes = utf8(content);
      return {
        path,
        size: bytes.length,
        symlink: extra.symlinks?.includes(path) ?? false,
        read: async () => bytes,
      };
    }),
  };
}

export function htmlInput(name: string, content: string | Uint8Array): BundleInput {
  return { kind: "html", name, source: bytesSource(utf8(content)) };
}

/** Wraps a source and records every read: how many, the largest, and the total bytes returned. */
export class CountingSource implements RandomAccessSource {
  readonly size: number;
  reads = 0;
  largestRead = 0;
  bytesRead = 0;
  private readonly inner: RandomAccessSource;
  constructor(bytes: Uint8Array) {
    this.inner = bytesSource(bytes);
    this.size = bytes.length;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    this.reads++;
    this.largestRead = Math.max(this.largestRead, length);
    const bytes = await this.inner.read(offset, length);
    this.bytesRead += bytes.length;
    return bytes;
  }
}
