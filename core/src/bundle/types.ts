import type { BundleError } from "../errors.ts";
import type { BundleLimits } from "../limits.ts";

/**
 * Bytes that can be read by ranges: an R2 object (ranged GETs), a file handle, or bytes in memory.
 * The zip reader only ever asks for what it needs, so a Worker never holds a whole bundle.
 */
export interface RandomAccessSource {
  readonly size: number;
  /** Returns exactly `length` bytes at `offset`, or fewer only at the end of the source. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** One file of a folder drop or of the CLI's walk of a folder. Bytes are read lazily, one file at a time. */
export interface InputFile {
  /**
   * Relative to the bundle root with `/` separators, as a browser folder drop or the CLI's walk gives
   * it: `dist/assets/app.js`. It is normalized and checked; a `\\` is refused (ABSOLUTE_PATH), so
   * callers on Windows convert separators first.
   */
  readonly path: string;
  readonly size: number;
  /** True when the file system said this is a symbolic link (never followed). */
  readonly symlink?: boolean;
  read(): Promise<Uint8Array>;
}

export type BundleInput =
  /** A zip archive. */
  | { readonly kind: "zip"; readonly source: RandomAccessSource }
  /** A folder: a list of files. */
  | { readonly kind: "files"; readonly files: readonly InputFile[] }
  /** A single self-contained `.html` file, hosted as `index.html`. */
  | { readonly kind: "html"; readonly name: string; readonly source: RandomAccessSource };

/** One hosted file, as the Cloudflare asset manifest and our version records describe it. */
export interface ManifestEntry {
  /** Normalized path relative to the site root, without a leading slash: `assets/app.js`. */
  readonly path: string;
  readonly size: number;
  /** The `Content-Type` the file is served with. */
  readonly contentType: string;
  /** 32 lowercase hex characters over the bytes and the extension (see hash.ts). */
  readonly hash: string;
}

export interface IgnoredEntry {
  readonly path: string;
  /** Why it was left out, in words: "macOS metadata", "folder entry". */
  readonly reason: string;
}

export interface Progress {
  readonly filesDone: number;
  readonly filesTotal: number;
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

export interface ReadBundleOptions {
  readonly limits?: Partial<BundleLimits>;
  /**
   * Called once per hosted file, in path order, with its bytes. The bytes are not kept after the
   * call returns: this is where the caller scans, stores or uploads them.
   */
  readonly onFile?: (entry: ManifestEntry, bytes: Uint8Array) => void | Promise<void>;
  readonly onProgress?: (progress: Progress) => void;
}

export interface BundleReport {
  /** True when there are no errors: the bundle may be hosted as far as its structure goes. */
  readonly ok: boolean;
  /** Hosted files, sorted by path. Complete only when `ok`. */
  readonly files: readonly ManifestEntry[];
  /** Sum of `files[].size`. */
  readonly bytes: number;
  /** Same for the same content whatever the input form or file order; "" unless `ok`. */
  readonly bundleHash: string;
  readonly errors: readonly BundleError[];
  readonly ignored: readonly IgnoredEntry[];
}
