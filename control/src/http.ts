/**
 * Small HTTP helpers every outbound call and body reader of the control Worker shares — written once,
 * because near-copies of them drifted (one cancelled the body on overflow, another forgot to).
 */

/** Loopback hosts: where plain http is acceptable (the dev stack's stand-ins), never across a network. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === "127.0.0.1" || hostname === "localhost" || hostname === "[::1]";
}

/**
 * Reads a body to its end, or stops (cancelling the rest) once it passes `limit` bytes and answers
 * undefined. Memory is bounded by `limit` whatever the peer sends or declares.
 */
export async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
): Promise<Uint8Array | undefined> {
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return concatBytes(chunks, total);
}

/** The body if it is exactly `size` bytes; undefined if shorter or longer (stops reading past it). */
export async function readExactly(
  body: ReadableStream<Uint8Array> | null,
  size: number,
): Promise<Uint8Array | undefined> {
  const bytes = await readCapped(body, size);
  return bytes !== undefined && bytes.byteLength === size ? bytes : undefined;
}

export function concatBytes(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
