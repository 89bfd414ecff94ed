/**
 * A streaming `multipart/form-data` reader for folder uploads (one part per file, the file's relative
 * path as its filename or field name).
 *
 * Why not `Request.formData()`: it reads the whole body into memory before returning, and the control
 * Worker must never hold a whole bundle (128 MB isolate, bundles up to 100 MiB). Why not a library
 * (e.g. @remix-run/multipart-parser): they buffer each part too, which is all this does, and the
 * per-part cap has to stop a part the moment it passes the per-file limit; forty lines of boundary
 * search keep that in one place with no new dependency. Memory is bounded by one part (≤ the
 * per-file cap, 25 MiB by default) plus one chunk.
 */

export interface FormPart {
  /** The `name` parameter of Content-Disposition. */
  readonly name: string;
  /** The `filename` parameter, when the part is a file. */
  readonly filename: string | undefined;
  readonly bytes: Uint8Array;
}

export class MultipartError extends Error {
  readonly kind: "malformed" | "part-too-large";
  readonly partName: string;
  constructor(kind: "malformed" | "part-too-large", message: string, partName = "") {
    super(message);
    this.name = "MultipartError";
    this.kind = kind;
    this.partName = partName;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Headers of one part larger than this are refused: a part's headers are two short lines. */
const MAX_PART_HEADER_BYTES = 16 * 1024;

export function boundaryOf(contentType: string): string | undefined {
  const match = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return match?.[1] ?? match?.[2];
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0] as number;
  const last = haystack.length - needle.length;
  for (let i = haystack.indexOf(first, from); i !== -1 && i <= last; i = haystack.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

function parseDisposition(headers: string): { name: string; filename: string | undefined } {
  const line = headers.split("\r\n").find((h) => /^content-disposition:/i.test(h));
  if (line === undefined)
    throw new MultipartError("malformed", "A multipart part has no Content-Disposition header.");
  const param = (key: string) => {
    const match = new RegExp(`;\\s*${key}="((?:[^"\\\\]|\\\\.)*)"`, "i").exec(line);
    return match?.[1]?.replace(/\\(.)/g, "$1");
  };
  const name = param("name");
  if (name === undefined) throw new MultipartError("malformed", "A multipart part has no name.");
  return { name, filename: param("filename") };
}

/** Yields the parts of a multipart body one at a time; a part over `maxPartBytes` throws while it streams. */
export async function* readMultipart(
  body: ReadableStream<Uint8Array>,
  boundary: string,
  maxPartBytes: number,
): AsyncGenerator<FormPart> {
  const opening = encoder.encode(`--${boundary}`);
  const delimiter = encoder.encode(`\r\n--${boundary}`);
  const reader = body.getReader();
  let pending: Uint8Array = new Uint8Array(0);
  let done = false;
  const more = async (): Promise<boolean> => {
    if (done) return false;
    const next = await reader.read();
    if (next.done) {
      done = true;
      return false;
    }
    pending =
      pending.length === 0 ? next.value : concat([pending, next.value], pending.length + next.value.length);
    return true;
  };
  try {
    // Preamble, then the first boundary line.
    let at = indexOf(pending, opening, 0);
    while (at === -1) {
      if (!(await more())) throw new MultipartError("malformed", "The multipart body has no boundary.");
      at = indexOf(pending, opening, 0);
    }
    pending = pending.subarray(at + opening.length);
    for (;;) {
      while (pending.length < 2)
        if (!(await more())) throw new MultipartError("malformed", "The multipart body ends early.");
      if (pending[0] === 0x2d && pending[1] === 0x2d) return; // "--": the closing boundary
      let headerEnd = indexOf(pending, encoder.encode("\r\n\r\n"), 0);
      while (headerEnd === -1) {
        if (pending.length > MAX_PART_HEADER_BYTES)
          throw new MultipartError("malformed", "A multipart part's headers are too long.");
        if (!(await more()))
          throw new MultipartError("malformed", "The multipart body ends inside a part's headers.");
        headerEnd = indexOf(pending, encoder.encode("\r\n\r\n"), 0);
      }
      const { name, filename } = parseDisposition(decoder.decode(pending.subarray(2, headerEnd)));
      pending = pending.subarray(headerEnd + 4);
      const chunks: Uint8Array[] = [];
      let size = 0;
      let end = indexOf(pending, delimiter, 0);
      while (end === -1) {
        // Keep a tail that might be the start of the delimiter; the rest is body.
        const keep = Math.min(pending.length, delimiter.length - 1);
        const body = pending.subarray(0, pending.length - keep);
        if (body.length > 0) {
          size += body.length;
          if (size > maxPartBytes)
            throw new MultipartError(
              "part-too-large",
              `"${filename ?? name}" is larger than a file may be.`,
              filename ?? name,
            );
          chunks.push(body.slice());
          pending = pending.subarray(pending.length - keep);
        }
        if (!(await more())) throw new MultipartError("malformed", "The multipart body ends inside a part.");
        end = indexOf(pending, delimiter, 0);
      }
      size += end;
      if (size > maxPartBytes)
        throw new MultipartError(
          "part-too-large",
          `"${filename ?? name}" is larger than a file may be.`,
          filename ?? name,
        );
      chunks.push(pending.subarray(0, end).slice());
      pending = pending.subarray(end + delimiter.length);
      yield { name, filename, bytes: concat(chunks, size) };
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
