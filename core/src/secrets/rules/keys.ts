/**
 * Key material: PEM private keys and signed JWTs.
 */

import { isRealJwt, isRealPrivateKeyBody } from "../validators.ts";
import { type SecretRule, span, stickyAt, TOKEN, tokenRule } from "./shared.ts";

/**
 * PEM private keys in a file, a template literal, a JS/JSON string with `\n` escapes, or split
 * over concatenated strings. The END marker must follow within 20,000 chars (an RSA-8192 key is
 * ~6.3 KiB; PGP secret key blocks with subkeys ~7–12 KiB) — a BEGIN with no END is not a key.
 * The body must pass `isRealPrivateKeyBody` (DER framing, OpenSSH magic, or entropy): a key in a
 * comment is as usable as one in code, and documentation shows `MIIE…` ellipses, which fail it.
 */
const PEM_BEGIN =
  /-----BEGIN ((?:RSA |DSA |EC |OPENSSH |PGP |ENCRYPTED |ANY |SSH2 ENCRYPTED )?PRIVATE KEY(?: BLOCK)?)-----/y;
const PEM_SPAN = 20_000;

const privateKey: SecretRule = {
  id: "private-key",
  family: "private-key",
  severity: "block",
  description: "PEM private key (RSA, DSA, EC, OpenSSH, PGP, PKCS#8, encrypted)",
  keywords: ["-----BEGIN "],
  lookback: 1,
  window: PEM_SPAN,
  find(w) {
    const m = stickyAt(PEM_BEGIN, w);
    if (!m || m[1] === undefined) return undefined;
    // The next `-----` must be the matching END: a body never contains dashes, so a BEGIN followed
    // by another BEGIN costs one short search, not a scan of the whole window.
    const endMarker = `-----END ${m[1]}-----`;
    const end = w.text.indexOf("-----", w.at + m[0].length);
    if (
      end < 0 ||
      !w.text.startsWith(endMarker, end) ||
      !isRealPrivateKeyBody(m[1], w.text.slice(w.at + m[0].length, end))
    )
      return undefined;
    return span(w, w.at, end + endMarker.length);
  },
};

/**
 * JWTs: header `eyJ…` (base64url of `{"`), payload, signature. Header ≤ 2 KiB (an `x5c` chain is
 * the only thing that makes it long), payload ≤ 6 KiB, signature ≤ 1400 chars (RSA-8192). What
 * counts as real is `isRealJwt`: a signing alg, JSON payload, signature length matching the alg,
 * not jwt.io's sample, not a Supabase anon key.
 */
const jwt = tokenRule({
  id: "jwt",
  family: "jwt",
  description: "Signed JSON Web Token (bearer credential)",
  keywords: ["eyJ"],
  pattern: /eyJ[A-Za-z0-9_-]{5,2048}\.[A-Za-z0-9_-]{2,6144}\.[A-Za-z0-9_-]{40,1400}(?![A-Za-z0-9_\-.=])/y,
  body: (m) => m[0].slice(m[0].lastIndexOf(".") + 1),
  validate: (m) => isRealJwt(m[0]),
  notAfter: `${TOKEN}./+`,
  window: 9650,
});

export const KEY_RULES: readonly SecretRule[] = [privateKey, jwt];
