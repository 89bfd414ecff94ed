import type { RandomAccessSource } from "./types.ts";

/** A RandomAccessSource over bytes already in memory (a browser File read, a test fixture). */
export function bytesSource(bytes: Uint8Array): RandomAccessSource {
  return {
    size: bytes.length,
    async read(offset: number, length: number): Promise<Uint8Array> {
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
        throw new RangeError(`invalid read(${offset}, ${length})`);
      }
      const start = Math.min(offset, bytes.length);
      return bytes.subarray(start, Math.min(bytes.length, start + length));
    },
  };
}
