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
// base32, RFC 4648 §6 alphabet, lowercase, no padding. Chosen for anything that travels in a host
// name (one DNS label, case-insensitive in DNS, so only one case may be valid) or a cookie.
// ---------------------------------------------------------------------------------------------

const BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";
/** char code → 5-bit value, or -1. Upper case is deliberately absent. */
const BASE32_VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE32_ALPHABET.length; i++) BASE32_VALUES[BASE32_ALPHABET.charCodeAt(i)] = i;

/** Characters needed for `byteLength` bytes: ceil(8n / 5). */
export function base32Length(byteLength: number): number {
  return Math.ceil((byteLength * 8) / 5);
}

export function base32Encode(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET[(buffer >>> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * Decodes canonical lowercase unpadded base32: `undefined` for any other character (upper case, `=`,
 * whitespace), for a length no byte string encodes to, and for non-zero trailing bits (which would
 * make two texts decode to the same bytes).
 */
export function base32Decode(text: string): Uint8Array<ArrayBuffer> | undefined {
  const byteLength = Math.floor((text.length * 5) / 8);
  if (base32Length(byteLength) !== text.length) return undefined;
  const out = new Uint8Array(byteLength);
  let buffer = 0;
  let bits = 0;
  let j = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? (BASE32_VALUES[code] as number) : -1;
    if (value < 0) return undefined;
    buffer = ((buffer << 5) | value) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (buffer >>> bits) & 0xff;
    }
  }
  if ((buffer & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}

// ---------------------------------------------------------------------------------------------
// base64url (RFC 4648 §5), no padding — for JSON and headers where length matters more than case.
// ---------------------------------------------------------------------------------------------

const BASE64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const BASE64URL_VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64URL_ALPHABET.length; i++) BASE64URL_VALUES[BASE64URL_ALPHABET.charCodeAt(i)] = i;

export function base64urlEncode(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += BASE64URL_ALPHABET[(buffer >>> bits) & 63];
    }
  }
  if (bits > 0) out += BASE64URL_ALPHABET[(buffer << (6 - bits)) & 63];
  return out;
}

/** Canonical unpadded base64url only (no `+`, `/`, `=`, whitespace, non-zero trailing bits). */
export function base64urlDecode(text: string): Uint8Array<ArrayBuffer> | undefined {
  const byteLength = Math.floor((text.length * 6) / 8);
  if (Math.ceil((byteLength * 8) / 6) !== text.length) return undefined;
  const out = new Uint8Array(byteLength);
  let buffer = 0;
  let bits = 0;
  let j = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? (BASE64URL_VALUES[code] as number) : -1;
    if (value < 0) return undefined;
    buffer = ((buffer << 6) | value) & 0x1fff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (buffer >>> bits) & 0xff;
    }
  }
  if ((buffer & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}

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
