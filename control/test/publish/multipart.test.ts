/**
 * The folder-upload reader from the attacker's side: bodies built to make it work quadratically or
 * hold memory. Bounds are proven with the reader's own work counters (bytes examined, largest buffer),
 * never with timings, so the tests are deterministic on any machine.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MAX_PART_HEADER_BYTES,
  MAX_PREAMBLE_BYTES,
  MultipartError,
  type MultipartProbe,
  readMultipart,
} from "../../src/publish/multipart.ts";

const BOUNDARY = "----mini-sites-test-boundary-7d93";
const encoder = new TextEncoder();

/** A stream of `bytes` cut into chunks of the given sizes (cycled). */
function streamOf(bytes: Uint8Array, sizes: readonly number[]): ReadableStream<Uint8Array> {
  let offset = 0;
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      const size = Math.max(1, sizes[i++ % sizes.length] as number);
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

function formBody(parts: readonly { name: string; bytes: Uint8Array }[]): Uint8Array {
  const pieces: Uint8Array[] = [];
  for (const part of parts) {
    pieces.push(
      encoder.encode(
        `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${part.name}"; filename="${part.name}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
      ),
    );
    pieces.push(part.bytes);
    pieces.push(encoder.encode("\r\n"));
  }
  pieces.push(encoder.encode(`--${BOUNDARY}--\r\n`));
  const total = pieces.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function parse(
  body: Uint8Array,
  sizes: readonly number[],
  options: { maxPartBytes?: number; maxParts?: number } = {},
) {
  const probe: MultipartProbe = { scanned: 0, maxBuffered: 0 };
  const parts: { name: string; bytes: Uint8Array }[] = [];
  let error: unknown;
  try {
    for await (const part of readMultipart(streamOf(body, sizes), BOUNDARY, options.maxPartBytes ?? 1 << 30, {
      probe,
      ...(options.maxParts === undefined ? {} : { maxParts: options.maxParts }),
    }))
      parts.push({ name: part.name, bytes: part.bytes });
  } catch (caught) {
    error = caught;
  }
  return { parts, probe, error };
}

const DELIMITER = BOUNDARY.length + 4;

describe("the multipart reader, against bodies built to make it slow or large", () => {
  it("reads back exactly the parts it was given, however the body is cut into chunks", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            name: fc.stringMatching(/^[a-z0-9/._-]{1,40}$/),
            bytes: fc.uint8Array({ maxLength: 3000 }),
          }),
          { maxLength: 12 },
        ),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 8 }),
        async (parts, sizes) => {
          const { parts: read, error } = await parse(formBody(parts), sizes);
          expect(error).toBeUndefined();
          expect(read.map((p) => p.name)).toEqual(parts.map((p) => p.name));
          for (const [i, p] of read.entries()) expect(p.bytes).toEqual(parts[i]?.bytes);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("refuses a body with no boundary after a bounded preamble, having looked at each byte once", async () => {
    const body = new Uint8Array(8 * 1024 * 1024).fill(0x41); // 8 MiB of "A", no boundary anywhere
    const { error, probe } = await parse(body, [64 * 1024]);
    expect(error).toBeInstanceOf(MultipartError);
    // It stopped as soon as the preamble passed its cap: it did not read (or scan) the 8 MiB.
    expect(probe.scanned).toBeLessThan(MAX_PREAMBLE_BYTES + 2 * 64 * 1024);
    expect(probe.maxBuffered).toBeLessThanOrEqual(DELIMITER + 64 * 1024);
  });

  it("does linear work when the body arrives one byte at a time with boundaries split across chunks", async () => {
    const small = formBody([{ name: "a.txt", bytes: new Uint8Array(20_000).fill(0x2d) }]);
    const large = formBody([{ name: "a.txt", bytes: new Uint8Array(40_000).fill(0x2d) }]);
    const one = await parse(small, [1]);
    const two = await parse(large, [1]);
    expect(one.error).toBeUndefined();
    expect(two.error).toBeUndefined();
    // Bodies of dashes make every byte a candidate start of the delimiter: the worst case. Each byte is
    // examined at most a delimiter's length of times, and twice the input costs twice the work.
    expect(two.probe.scanned).toBeLessThanOrEqual((DELIMITER + 1) * large.length);
    expect(two.probe.scanned / one.probe.scanned).toBeLessThan(2.2);
    expect(two.probe.maxBuffered).toBeLessThanOrEqual(MAX_PART_HEADER_BYTES + 2 * DELIMITER);
  });

  it("keeps its search buffer small while a large part streams through", async () => {
    const body = formBody([{ name: "big.bin", bytes: new Uint8Array(6 * 1024 * 1024).fill(0x0d) }]);
    const { error, probe, parts } = await parse(body, [256 * 1024]);
    expect(error).toBeUndefined();
    expect(parts[0]?.bytes.length).toBe(6 * 1024 * 1024);
    expect(probe.maxBuffered).toBeLessThanOrEqual(256 * 1024 + 2 * DELIMITER);
    expect(probe.scanned).toBeLessThan(2 * body.length);
  });

  it("refuses a header block that never ends, without buffering more than the header cap", async () => {
    const head = encoder.encode(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="x"\r\nX-Pad: `);
    const pad = new Uint8Array(4 * 1024 * 1024).fill(0x61);
    const body = new Uint8Array(head.length + pad.length);
    body.set(head);
    body.set(pad, head.length);
    const { error, probe } = await parse(body, [1024]);
    expect((error as MultipartError).message).toMatch(/headers are too long/);
    expect(probe.maxBuffered).toBeLessThanOrEqual(MAX_PART_HEADER_BYTES + 2 + 1024 + DELIMITER);
    expect(probe.scanned).toBeLessThan(3 * (MAX_PART_HEADER_BYTES + 1024));
  });

  it("refuses thousands of empty parts at the part cap, in work linear in what it read", async () => {
    const parts = Array.from({ length: 5_000 }, (_, i) => ({ name: `f${i}`, bytes: new Uint8Array(0) }));
    const body = formBody(parts);
    const { error, probe, parts: read } = await parse(body, [4096], { maxParts: 2_010 });
    expect((error as MultipartError).message).toMatch(/at most 2010 parts/);
    expect(read.length).toBe(2_010);
    expect(probe.scanned).toBeLessThan(3 * body.length);
  });

  it("stops a part the moment it passes the per-file cap", async () => {
    const body = formBody([{ name: "huge.bin", bytes: new Uint8Array(3 * 1024 * 1024) }]);
    const { error, probe } = await parse(body, [64 * 1024], { maxPartBytes: 1024 * 1024 });
    expect((error as MultipartError).kind).toBe("part-too-large");
    expect(probe.maxBuffered).toBeLessThanOrEqual(64 * 1024 + 2 * DELIMITER);
  });
});
