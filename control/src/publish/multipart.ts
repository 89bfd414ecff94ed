/**
 * A streaming `multipart/form-data` reader for folder uploads (one part per file, the file's relative
 * path as its filename or field name).
 *
 * Why not `Request.formData()`: it reads the whole body into memory before returning, and the control
 * Worker must never hold a whole bundle (128 MB isolate, bundles up to 100 MiB). Why not a library
 * (e.g. @remix-run/multipart-parser): they buffer each part too, which is all this does, and the
 * per-part cap has to stop a part the moment it passes the per-file limit.
 *
 * Threat: anyone who may publish sends a body built to make this reader work (an isolate is shared
 * with other tenants' requests). So the reader does LINEAR work in the body's length whatever its
 * shape, and holds bounded memory:
 * - every search resumes where the previous one stopped (minus a needle's length), so no byte is
 *   scanned more than a constant number of times — a body with no boundary, or a boundary split
 *   across chunks, costs one pass;
 * - the preamble before the first boundary and every part's header block are capped at a few KiB and
 *   refused past that, instead of being kept and re-scanned from the start on every chunk;
 * - a part's body is moved out of the search buffer as it arrives (only a delimiter's length stays
 *   behind), so the buffer never grows with the part; the part itself is capped by `maxPartBytes`;
 * - the number of parts is capped.
 * The optional `probe` counts bytes examined and the largest buffer, so tests can prove these bounds
 * without timing anything.
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

/**
 * Bytes allowed before the first boundary. Browsers, curl and fetch's FormData send none; RFC 2046
 * §5.1.1 allows a preamble but says it is to be ignored — 1 KiB is plenty for any real one.
 */
export const MAX_PREAMBLE_BYTES = 1024;

/**
 * A part's header block: Content-Disposition with a file path (≤ 1 KiB, DEFAULT_LIMITS.maxPathBytes,
 * doubled for `name` and `filename`) and a Content-Type. 4 KiB holds that with room to spare.
 */
export const MAX_PART_HEADER_BYTES = 4 * 1024;

/** Work counters for tests (bounds, not timings). */
export interface MultipartProbe {
  /** Bytes examined by boundary and header searches. */
  scanned: number;
  /** Largest the reader's own search buffer ever was. */
  maxBuffered: number;
}

export interface MultipartOptions {
  /** Parts accepted before the body is refused (files plus form fields). */
  readonly maxParts?: number;
  readonly probe?: MultipartProbe;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CRLFCRLF = encoder.encode("\r\n\r\n");

export function boundaryOf(contentType: string): string | undefined {
  const match = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return match?.[1] ?? match?.[2];
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

/**
 * The unread bytes of the body, with searches that remember how far they got. `from` offsets are
 * relative to the buffer's current start.
 */
class SearchBuffer {
  #bytes: Uint8Array = new Uint8Array(0);
  readonly #probe: MultipartProbe | undefined;
  constructor(probe: MultipartProbe | undefined) {
    this.#probe = probe;
  }
  get length(): number {
    return this.#bytes.length;
  }
  get bytes(): Uint8Array {
    return this.#bytes;
  }
  append(chunk: Uint8Array): void {
    if (this.#bytes.length === 0) this.#bytes = chunk;
    else {
      const joined = new Uint8Array(this.#bytes.length + chunk.length);
      joined.set(this.#bytes);
      joined.set(chunk, this.#bytes.length);
      this.#bytes = joined;
    }
    if (this.#probe !== undefined)
      this.#probe.maxBuffered = Math.max(this.#probe.maxBuffered, this.#bytes.length);
  }
  /** Drops the first `n` bytes. */
  consume(n: number): void {
    this.#bytes = this.#bytes.subarray(n);
  }
  /** Index of `needle` at or after `from`, or -1; counts the bytes examined. */
  indexOf(needle: Uint8Array, from: number): number {
    const haystack = this.#bytes;
    const first = needle[0] as number;
    const last = haystack.length - needle.length;
    let i = haystack.indexOf(first, from);
    let found = -1;
    while (i !== -1 && i <= last) {
      let j = 1;
      while (j < needle.length && haystack[i + j] === needle[j]) j++;
      if (j === needle.length) {
        found = i;
        break;
      }
      i = haystack.indexOf(first, i + 1);
    }
    if (this.#probe !== undefined)
      this.#probe.scanned +=
        (found === -1 ? haystack.length : found + needle.length) - Math.min(from, haystack.length);
    return found;
  }
}

/** Yields the parts of a multipart body one at a time; a part over `maxPartBytes` throws while it streams. */
export async function* readMultipart(
  body: ReadableStream<Uint8Array>,
  boundary: string,
  maxPartBytes: number,
  options: MultipartOptions = {},
): AsyncGenerator<FormPart> {
  const opening = encoder.encode(`--${boundary}`);
  const delimiter = encoder.encode(`\r\n--${boundary}`);
  const maxParts = options.maxParts ?? Number.POSITIVE_INFINITY;
  const reader = body.getReader();
  const buffer = new SearchBuffer(options.probe);
  let done = false;
  const more = async (): Promise<boolean> => {
    if (done) return false;
    const next = await reader.read();
    if (next.done) {
      done = true;
      return false;
    }
    buffer.append(next.value);
    return true;
  };
  /** Resume point for a search for `needle` after the buffer grew from `length` bytes. */
  const resume = (length: number, needle: Uint8Array) => Math.max(0, length - needle.length + 1);

  try {
    // Preamble, then the first boundary line. Bytes that cannot start the boundary are dropped as we
    // go; past MAX_PREAMBLE_BYTES the body is refused.
    let preamble = 0;
    for (let from = 0; ; ) {
      const at = buffer.indexOf(opening, from);
      if (at !== -1) {
        if (preamble + at > MAX_PREAMBLE_BYTES)
          throw new MultipartError("malformed", "The multipart preamble is too long.");
        buffer.consume(at + opening.length);
        break;
      }
      const keep = Math.min(buffer.length, opening.length - 1);
      preamble += buffer.length - keep;
      if (preamble > MAX_PREAMBLE_BYTES)
        throw new MultipartError("malformed", "The multipart body has no boundary where one was expected.");
      buffer.consume(buffer.length - keep);
      from = 0;
      if (!(await more())) throw new MultipartError("malformed", "The multipart body has no boundary.");
    }

    for (let parts = 0; ; parts++) {
      while (buffer.length < 2)
        if (!(await more())) throw new MultipartError("malformed", "The multipart body ends early.");
      const head = buffer.bytes;
      if (head[0] === 0x2d && head[1] === 0x2d) return; // "--": the closing boundary
      if (head[0] !== 0x0d || head[1] !== 0x0a)
        throw new MultipartError("malformed", "A multipart boundary is not followed by a line break.");
      if (parts >= maxParts)
        throw new MultipartError("malformed", `A bundle upload may have at most ${maxParts} parts.`);

      // The part's headers: up to the blank line, never more than MAX_PART_HEADER_BYTES.
      let headerEnd = buffer.indexOf(CRLFCRLF, 0);
      while (headerEnd === -1) {
        if (buffer.length > MAX_PART_HEADER_BYTES + 2)
          throw new MultipartError("malformed", "A multipart part's headers are too long.");
        const before = buffer.length;
        if (!(await more()))
          throw new MultipartError("malformed", "The multipart body ends inside a part's headers.");
        headerEnd = buffer.indexOf(CRLFCRLF, resume(before, CRLFCRLF));
      }
      if (headerEnd > MAX_PART_HEADER_BYTES + 2)
        throw new MultipartError("malformed", "A multipart part's headers are too long.");
      const { name, filename } = parseDisposition(decoder.decode(buffer.bytes.subarray(2, headerEnd)));
      buffer.consume(headerEnd + CRLFCRLF.length);

      // The part's body: moved out of the buffer as it arrives, up to the next delimiter.
      const sink = new PartSink();
      let size = 0;
      const tooLarge = () =>
        new MultipartError(
          "part-too-large",
          `"${filename ?? name}" is larger than a file may be.`,
          filename ?? name,
        );
      let end = buffer.indexOf(delimiter, 0);
      while (end === -1) {
        // Keep a tail that might be the start of the delimiter; the rest is body.
        const keep = Math.min(buffer.length, delimiter.length - 1);
        const take = buffer.length - keep;
        if (take > 0) {
          size += take;
          if (size > maxPartBytes) throw tooLarge();
          sink.append(buffer.bytes.subarray(0, take));
          buffer.consume(take);
        }
        if (!(await more())) throw new MultipartError("malformed", "The multipart body ends inside a part.");
        end = buffer.indexOf(delimiter, 0);
      }
      size += end;
      if (size > maxPartBytes) throw tooLarge();
      sink.append(buffer.bytes.subarray(0, end));
      buffer.consume(end + delimiter.length);
      yield { name, filename, bytes: sink.bytes() };
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/**
 * A part's bytes, copied into one buffer that doubles as it fills — never a list of the network's
 * chunks, which a sender could make a byte long each to multiply the memory a part costs.
 */
class PartSink {
  #bytes = new Uint8Array(0);
  #length = 0;
  append(chunk: Uint8Array): void {
    if (this.#length + chunk.length > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(this.#length + chunk.length, this.#bytes.length * 2, 4096));
      grown.set(this.#bytes.subarray(0, this.#length));
      this.#bytes = grown;
    }
    this.#bytes.set(chunk, this.#length);
    this.#length += chunk.length;
  }
  bytes(): Uint8Array {
    return this.#bytes.subarray(0, this.#length);
  }
}
