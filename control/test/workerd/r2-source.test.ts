/**
 * The zip reader's view of an upload in R2 (control/src/publish/r2.ts r2Source), against a real local
 * R2: every read answers exactly the object's bytes, whatever the offsets, lengths and concurrency,
 * and small reads share block GETs instead of costing one round trip each.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { R2Bucket } from "../../src/env.ts";
import { READ_BLOCK_BYTES, READ_BLOCKS_KEPT, r2Source } from "../../src/publish/r2.ts";
import { testEnv } from "./helpers.ts";

const bucket = testEnv.BUNDLES as unknown as R2Bucket;

/** Counts the GETs a source makes, passing everything else through. */
function counting(inner: R2Bucket): { bucket: R2Bucket; gets: () => number } {
  let gets = 0;
  const bucket = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property === "get")
        return (...args: Parameters<R2Bucket["get"]>) => {
          gets += 1;
          return target.get(...args);
        };
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { bucket, gets: () => gets };
}

async function stored(size: number): Promise<{ key: string; bytes: Uint8Array }> {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
  const key = `test/r2-source/${crypto.randomUUID()}`;
  await bucket.put(key, bytes);
  return { key, bytes };
}

describe("r2Source", () => {
  it("answers exactly the object's bytes for any set of ranges read concurrently", async () => {
    const size = 3 * READ_BLOCK_BYTES + 12_345;
    const { key, bytes } = await stored(size);
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.nat({ max: size + 10 }),
            fc.oneof(fc.nat({ max: 300 }), fc.nat({ max: 2 * READ_BLOCK_BYTES })),
          ),
          { minLength: 1, maxLength: 12 },
        ),
        async (ranges) => {
          const source = await r2Source(bucket, key);
          if (source === undefined) throw new Error("stored object missing");
          const answers = await Promise.all(ranges.map(([offset, length]) => source.read(offset, length)));
          ranges.forEach(([offset, length], i) => {
            const start = Math.min(offset, size);
            expect(Array.from(answers[i] as Uint8Array)).toEqual(
              Array.from(bytes.subarray(start, Math.min(size, start + length))),
            );
          });
        },
      ),
      { numRuns: 40 },
    );
  });

  it("serves many small reads, in any order, from one GET per block", async () => {
    const size = 2 * READ_BLOCK_BYTES;
    const { key } = await stored(size);
    const { bucket: watched, gets } = counting(bucket);
    const source = await r2Source(watched, key);
    if (source === undefined) throw new Error("stored object missing");
    // 400 header-sized reads spread over both blocks, half of them at once, some across the boundary.
    const offsets = Array.from({ length: 400 }, (_, i) => ((i * 7919) % (size - 64)) | 0);
    await Promise.all(offsets.slice(0, 200).map((offset) => source.read(offset, 46)));
    for (const offset of offsets.slice(200)) await source.read(offset, 46);
    await source.read(READ_BLOCK_BYTES - 10, 20);
    expect(gets()).toBe(2);
  });

  it("keeps a bounded number of blocks, and a large read goes straight through", async () => {
    const blocks = READ_BLOCKS_KEPT + 2;
    const { key, bytes } = await stored(blocks * READ_BLOCK_BYTES);
    const { bucket: watched, gets } = counting(bucket);
    const source = await r2Source(watched, key);
    if (source === undefined) throw new Error("stored object missing");
    for (let b = 0; b < blocks; b++) await source.read(b * READ_BLOCK_BYTES, 1);
    expect(gets()).toBe(blocks);
    // The first block was evicted (least recently used): reading it again costs a GET.
    await source.read(0, 1);
    expect(gets()).toBe(blocks + 1);
    const large = await source.read(5, READ_BLOCK_BYTES + 1);
    expect(gets()).toBe(blocks + 2);
    expect(large.length).toBe(READ_BLOCK_BYTES + 1);
    expect(large[0]).toBe(bytes[5]);
  });

  it("answers undefined for a missing object and refuses invalid ranges", async () => {
    expect(await r2Source(bucket, `test/r2-source/missing-${crypto.randomUUID()}`)).toBeUndefined();
    const { key } = await stored(10);
    const source = await r2Source(bucket, key);
    await expect(source?.read(-1, 2)).rejects.toThrow(RangeError);
    await expect(source?.read(0, Number.NaN)).rejects.toThrow(RangeError);
    expect((await source?.read(20, 5))?.length).toBe(0);
  });
});
