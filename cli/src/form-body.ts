/**
 * A `multipart/form-data` body written as it is sent: form fields first, then one part per file,
 * each file read only when the network is ready for it — a 100 MiB bundle is never held whole, and
 * the bytes handed to the socket can be counted for the progress bar.
 *
 * Why not `FormData` + `Blob`: undici serializes a FormData only after every Blob exists in memory,
 * and it reports no progress. The framing is RFC 7578's and the control Worker's reader
 * (control/src/publish/multipart.ts) takes a file's relative path as its name and filename.
 */

import { randomBytes } from "node:crypto";

export interface FormFile {
  readonly path: string;
  readonly size: number;
}

export interface FormBody {
  readonly contentType: string;
  /** Bytes the body will have in all (for a progress bar; the request itself is sent chunked). */
  readonly length: number;
  readonly stream: ReadableStream<Uint8Array>;
}

const encoder = new TextEncoder();
/** Enqueued at most this many bytes at a time, so progress moves smoothly and backpressure bites. */
const SLICE_BYTES = 64 * 1024;

/** A quoted-string for Content-Disposition: the reader unescapes `\"` and `\\`. */
function quoted(text: string): string {
  return `"${text.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`;
}

export function formBody(
  fields: readonly [string, string][],
  files: readonly FormFile[],
  /** Yields each file of `files` (in any order) with its bytes, when the body reaches it. */
  readFiles: () => AsyncIterable<{ path: string; bytes: Uint8Array }>,
  onSent: (bytes: number) => void,
): FormBody {
  const boundary = `mini-sites-${randomBytes(12).toString("hex")}`;
  const fieldParts = fields.map(([name, value]) =>
    encoder.encode(
      `--${boundary}\r\nContent-Disposition: form-data; name=${quoted(name)}\r\n\r\n${value}\r\n`,
    ),
  );
  const fileHeader = (path: string) =>
    encoder.encode(
      `--${boundary}\r\nContent-Disposition: form-data; name=${quoted(path)}; filename=${quoted(path)}\r\nContent-Type: application/octet-stream\r\n\r\n`,
    );
  const crlf = encoder.encode("\r\n");
  const closing = encoder.encode(`--${boundary}--\r\n`);
  const length =
    fieldParts.reduce((sum, part) => sum + part.length, 0) +
    files.reduce((sum, file) => sum + fileHeader(file.path).length + file.size + crlf.length, 0) +
    closing.length;

  async function* chunks(): AsyncGenerator<Uint8Array> {
    yield* fieldParts;
    const pending = new Map(files.map((file) => [file.path, file.size]));
    for await (const file of readFiles()) {
      // The length announced for progress must stay true: a file that changed since the check is an error.
      if (pending.get(file.path) !== file.bytes.length)
        throw new Error(`${file.path} changed while the bundle was being sent; publish again`);
      pending.delete(file.path);
      yield fileHeader(file.path);
      for (let at = 0; at < file.bytes.length; at += SLICE_BYTES)
        yield file.bytes.subarray(at, Math.min(file.bytes.length, at + SLICE_BYTES));
      yield crlf;
    }
    if (pending.size > 0)
      throw new Error("files of the bundle vanished while it was being sent; publish again");
    yield closing;
  }

  const source = chunks();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await source.next();
      if (next.done) {
        controller.close();
        return;
      }
      controller.enqueue(next.value);
      onSent(next.value.length);
    },
    async cancel() {
      await source.return(undefined);
    },
  });
  return { contentType: `multipart/form-data; boundary=${boundary}`, length, stream };
}
