/**
 * Base64 for asset uploads (`POST …/workers/assets/upload?base64=true` wants each file base64-encoded,
 * developers.cloudflare.com/workers/static-assets/direct-upload).
 *
 * workerd has `Uint8Array.prototype.toBase64` (checked on workerd 1.20261102.1); Node 22, where the
 * tests and the CLI run, does not. The fallback feeds `btoa` from chunks: spreading a whole file into
 * `String.fromCharCode(...bytes)` overflows the call stack at a few hundred KiB.
 */

/** Bytes per `String.fromCharCode` call: far below every engine's argument limit (V8 allows ~65k+). */
const CHUNK_BYTES = 0x8000;

type WithToBase64 = Uint8Array & { toBase64?: () => string };

export function encodeBase64(bytes: Uint8Array): string {
  const native = (bytes as WithToBase64).toBase64;
  if (typeof native === "function") return native.call(bytes);
  return encodeBase64Chunked(bytes);
}

/** The portable path, exported so it is tested on every runtime. */
export function encodeBase64Chunked(bytes: Uint8Array): string {
  let binary = "";
  for (let offset = 0; offset < bytes.length; offset += CHUNK_BYTES) {
    binary += String.fromCharCode.apply(
      null,
      bytes.subarray(offset, offset + CHUNK_BYTES) as unknown as number[],
    );
  }
  return btoa(binary);
}
