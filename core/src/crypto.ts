/**
 * Byte helpers shared by every security check in the core: one constant-time compare, and strict
 * text encodings of bytes. Web-standard only (Workers, Node, browsers).
 *
 * Threat model for the decoders: their input is attacker-controlled (a URL path, a cookie, a host
 * name). Each decoder accepts exactly one spelling per byte string — canonical, no padding, no
 * whitespace, one letter case — and answers `undefined` for anything else. A lenient decoder would
 * let `ABC…`, `abc…=` or a different trailing character name the same bytes, so one grant or one
 * site id would have several spellings: several cookie values, several origins for one site.
 */

/**
 * Compares two byte strings in time that depends only on their lengths, never on where they differ,
 * so a MAC cannot be guessed byte by byte from response timings. Lengths are public (every MAC we
 * compare has a fixed length). JavaScript gives no hard guarantee against a clever JIT; a branch-free
 * XOR-accumulate is the accepted best effort, and it is the only compare the core uses for secrets.
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

// ---------------------------------------------------------------------------------------------
// base32 and base64url (RFC 4648 §6 and §5): one strict codec over a 2^n-letter alphabet.
// ---------------------------------------------------------------------------------------------

interface RadixCodec {
  readonly length: (byteLength: number) => number;
  readonly encode: (bytes: Uint8Array) => string;
  readonly decode: (text: string) => Uint8Array<ArrayBuffer> | undefined;
}

/** A codec writing `bitsPerChar` bits per letter of `alphabet`, unpadded, accepting only its own spelling. */
function radixCodec(alphabet: string, bitsPerChar: number): RadixCodec {
  /** char code → value, or -1: letters not in the alphabet (other case included) never decode. */
  const values = new Int8Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) values[alphabet.charCodeAt(i)] = i;
  const charMask = (1 << bitsPerChar) - 1;
  // Enough bits for one pending partial letter plus one new byte (or letter).
  const window = (1 << (bitsPerChar + 8)) - 1;
  const length = (byteLength: number) => Math.ceil((byteLength * 8) / bitsPerChar);
  return {
    length,
    encode(bytes) {
      let out = "";
      let buffer = 0;
      let bits = 0;
      for (const byte of bytes) {
        buffer = ((buffer << 8) | byte) & window;
        bits += 8;
        while (bits >= bitsPerChar) {
          bits -= bitsPerChar;
          out += alphabet[(buffer >>> bits) & charMask];
        }
      }
      if (bits > 0) out += alphabet[(buffer << (bitsPerChar - bits)) & charMask];
      return out;
    },
    decode(text) {
      const byteLength = Math.floor((text.length * bitsPerChar) / 8);
      if (length(byteLength) !== text.length) return undefined;
      const out = new Uint8Array(byteLength);
      let buffer = 0;
      let bits = 0;
      let j = 0;
      for (let i = 0; i < text.length; i++) {
        const code = text.charCodeAt(i);
        const value = code < 128 ? (values[code] as number) : -1;
        if (value < 0) return undefined;
        buffer = ((buffer << bitsPerChar) | value) & window;
        bits += bitsPerChar;
        if (bits >= 8) {
          bits -= 8;
          out[j++] = (buffer >>> bits) & 0xff;
        }
      }
      // Non-zero unused low bits would give the same bytes a second spelling.
      if ((buffer & ((1 << bits) - 1)) !== 0) return undefined;
      return out;
    },
  };
}

/**
 * Lowercase base32, chosen for anything that travels in a host name (one DNS label, case-insensitive
 * in DNS, so only one case may be valid) or a cookie.
 */
const BASE32 = radixCodec("abcdefghijklmnopqrstuvwxyz234567", 5);
/** base64url for JSON and headers, where length matters more than case. */
const BASE64URL = radixCodec("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 6);

/** Characters needed for `byteLength` bytes: ceil(8n / 5). */
export const base32Length = BASE32.length;
export const base32Encode = BASE32.encode;
/**
 * Decodes canonical lowercase unpadded base32: `undefined` for any other character (upper case, `=`,
 * whitespace), for a length no byte string encodes to, and for non-zero trailing bits (which would
 * make two texts decode to the same bytes).
 */
export const base32Decode = BASE32.decode;
export const base64urlEncode = BASE64URL.encode;
/** Canonical unpadded base64url only (no `+`, `/`, `=`, whitespace, non-zero trailing bits). */
export const base64urlDecode = BASE64URL.decode;

// ---------------------------------------------------------------------------------------------
// hex, lowercase — key ids and digests shown to people.
// ---------------------------------------------------------------------------------------------

export function hexEncode(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}

/** Lowercase, even-length hex only. */
export function hexDecode(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-f]*$/.test(text)) return undefined;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// ---------------------------------------------------------------------------------------------
// SHA-256 over WebCrypto (the same in workerd, Node and browsers).
// ---------------------------------------------------------------------------------------------

/** SHA-256 of bytes, or of a string's UTF-8 encoding. */
export async function sha256(input: Uint8Array | string): Promise<Uint8Array<ArrayBuffer>> {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

/** Lowercase hex SHA-256 (token digests, cache keys): one spelling everywhere. */
export async function sha256Hex(input: Uint8Array | string): Promise<string> {
  return hexEncode(await sha256(input));
}
