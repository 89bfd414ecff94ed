import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  base32Decode,
  base32Encode,
  base64urlDecode,
  base64urlEncode,
  hexDecode,
  hexEncode,
  timingSafeEqual,
} from "../../src/crypto.ts";

const utf8 = (text: string) => new TextEncoder().encode(text);

describe("base32 (lowercase RFC 4648, no padding)", () => {
  it("matches the RFC 4648 §10 test vectors, lowercased and unpadded", () => {
    const vectors = {
      "": "",
      f: "my",
      fo: "mzxq",
      foo: "mzxw6",
      foob: "mzxw6yq",
      fooba: "mzxw6ytb",
      foobar: "mzxw6ytboi",
    };
    for (const [plain, encoded] of Object.entries(vectors)) {
      expect(base32Encode(utf8(plain))).toBe(encoded);
      expect(base32Decode(encoded)).toEqual(utf8(plain));
    }
  });

  it("decodes every encoding back to the same bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(base32Decode(base32Encode(bytes))).toEqual(bytes);
      }),
    );
  });

  it("gives every byte string exactly one spelling: other spellings of the same bytes do not decode", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), (bytes) => {
        const text = base32Encode(bytes);
        // An all-digit spelling ("64") has no other case; every other one must not decode in upper case.
        if (text.toUpperCase() !== text) expect(base32Decode(text.toUpperCase())).toBeUndefined();
        expect(base32Decode(`${text}=`)).toBeUndefined();
        expect(base32Decode(`${text}${"=".repeat((8 - (text.length % 8)) % 8 || 8)}`)).toBeUndefined();
        expect(base32Decode(` ${text}`)).toBeUndefined();
        expect(base32Decode(`${text}\n`)).toBeUndefined();
      }),
    );
  });

  it("refuses non-zero trailing bits, which would give the same bytes a second spelling", () => {
    // "my" is "f"; "mz" carries the same 8 bits plus a set padding bit.
    expect(base32Decode("mz")).toBeUndefined();
    expect(base32Decode("mzxw6ytbop")).toBeUndefined();
  });

  it("refuses lengths that no byte string encodes to", () => {
    for (const text of ["m", "mzx", "mzxw6y"]) expect(base32Decode(text)).toBeUndefined();
  });

  it("refuses characters outside the alphabet, including the digits 0, 1, 8 and 9 and non-ASCII", () => {
    for (const text of ["m0", "m1", "m8", "m9", "mé", "m-", "m_"]) expect(base32Decode(text)).toBeUndefined();
  });
});

describe("base64url (no padding)", () => {
  it("agrees with Node's base64url on every byte string", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const text = base64urlEncode(bytes);
        expect(text).toBe(Buffer.from(bytes).toString("base64url"));
        expect(base64urlDecode(text)).toEqual(bytes);
      }),
    );
  });

  it("refuses padding, the standard alphabet's + and /, and non-zero trailing bits", () => {
    expect(base64urlDecode("Zg==")).toBeUndefined();
    expect(base64urlDecode("+/8")).toBeUndefined();
    expect(base64urlDecode("Zh")).toBeUndefined();
  });
});

describe("hex", () => {
  it("round-trips lowercase hex and refuses upper case and odd lengths", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 32 }), (bytes) => {
        expect(hexDecode(hexEncode(bytes))).toEqual(bytes);
      }),
    );
    expect(hexDecode("AB")).toBeUndefined();
    expect(hexDecode("abc")).toBeUndefined();
  });
});

describe("timingSafeEqual", () => {
  it("is true exactly when the bytes are equal", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 32 }), fc.uint8Array({ maxLength: 32 }), (a, b) => {
        expect(timingSafeEqual(a, b)).toBe(Buffer.from(a).equals(Buffer.from(b)));
        expect(timingSafeEqual(a, a.slice())).toBe(true);
      }),
    );
  });

  it("is false when only the last byte differs, and for a prefix of the other", () => {
    expect(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false);
    expect(timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false);
  });
});
