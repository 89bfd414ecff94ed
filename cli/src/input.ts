/**
 * Turns what the author points at (a folder, a zip, a single .html file) into the core's BundleInput,
 * without reading more than one file at a time: folders are walked (symlinks reported, never followed),
 * zips are read by ranges through a file handle.
 */

import { lstat, open, readdir, readFile } from "node:fs/promises";
import { basename, join, relative, sep } from "node:path";
import type { BundleInput, InputFile, RandomAccessSource } from "@mini-sites/core";

export class UsageError extends Error {
  override name = "UsageError";
}

export interface OpenedInput {
  readonly input: BundleInput;
  /** Human name of what was opened, for messages. */
  readonly label: string;
  /** Releases file handles. */
  close(): Promise<void>;
}

const ZIP_MAGIC = [0x50, 0x4b]; // "PK": local file header, empty archive or spanned marker

export async function openBundleInput(path: string): Promise<OpenedInput> {
  const stats = await lstat(path).catch(() => {
    throw new UsageError(`${path}: no such file or folder.`);
  });
  const label = basename(path);
  if (stats.isDirectory()) {
    return { input: { kind: "files", files: await walkFolder(path) }, label, close: async () => {} };
  }
  if (!stats.isFile()) throw new UsageError(`${path}: not a folder, a .zip or an .html file.`);
  const handle = await open(path, "r");
  const source = fileSource(handle, stats.size);
  const close = () => handle.close();
  if (/\.html?$/i.test(path)) return { input: { kind: "html", name: label, source }, label, close };
  const head = await source.read(0, 2);
  if (/\.zip$/i.test(path) || (head[0] === ZIP_MAGIC[0] && head[1] === ZIP_MAGIC[1])) {
    return { input: { kind: "zip", source }, label, close };
  }
  await close();
  throw new UsageError(`${path}: not a folder, a .zip or an .html file.`);
}

/** Every file under `root`, with paths relative to it using `/`. Symlinks are listed, not followed. */
export async function walkFolder(root: string): Promise<InputFile[]> {
  const files: InputFile[] = [];
  const pending = [root];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    const sizes: Promise<void>[] = [];
    for (const dirent of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, dirent.name);
      const path = relative(root, full).split(sep).join("/");
      if (dirent.isSymbolicLink()) {
        files.push({ path, size: 0, symlink: true, read: async () => new Uint8Array(0) });
      } else if (dirent.isDirectory()) {
        pending.push(full);
      } else if (dirent.isFile()) {
        // Sizes of one folder are asked for together: a walk of thousands of files is I/O-bound.
        sizes.push(
          lstat(full).then(({ size }) => {
            files.push({ path, size, read: async () => asBytes(await readFile(full)) });
          }),
        );
      }
    }
    await Promise.all(sizes);
  }
  return files;
}

/** A Buffer is a Uint8Array already: view its memory instead of copying it (`new Uint8Array(buf)` copies). */
export function asBytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

interface ReadableHandle {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

export function fileSource(handle: ReadableHandle, size: number): RandomAccessSource {
  return {
    size,
    async read(offset, length) {
      const wanted = Math.max(0, Math.min(length, size - offset));
      const buffer = new Uint8Array(wanted);
      let done = 0;
      while (done < wanted) {
        const { bytesRead } = await handle.read(buffer, done, wanted - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done === wanted ? buffer : buffer.subarray(0, done);
    },
  };
}
