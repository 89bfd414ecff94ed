/**
 * Telephony and email: Twilio, SendGrid, Mailgun, Mailchimp, Brevo (Sendinblue).
 */

import { isPlaceholder, looksLikeTokenBody, shannonEntropy } from "../entropy.ts";
import { ALNUM, groupSpan, isHexByte, type SecretRule, stickyAt, TOKEN, tokenRule } from "./shared.ts";

/**
 * Twilio: an Account SID (`AC` + 32 hex) or API key SID (`SK` + 32 hex) is an identifier; the
 * secret is the 32-char auth token or API key secret next to it. Reported when the word "twilio",
 * a SID and a 32-char random string are within the same ~1 KiB.
 */
const TWILIO_SID = /(?<![A-Za-z0-9])(?:AC|SK)[0-9a-fA-F]{32}(?![A-Za-z0-9])/;
const TWILIO_SECRET = /(?<![A-Za-z0-9])[A-Za-z0-9]{32}(?![A-Za-z0-9])/g;

const twilioCredentials: SecretRule = {
  id: "twilio-credentials",
  family: "twilio",
  severity: "block",
  description: "Twilio auth token or API key secret next to an AC/SK SID",
  keywords: [],
  keywordsIgnoreCase: ["twilio"],
  lookback: 400,
  window: 600,
  find(w) {
    if (!TWILIO_SID.test(w.text)) return undefined;
    TWILIO_SECRET.lastIndex = 0;
    for (let m = TWILIO_SECRET.exec(w.text); m !== null; m = TWILIO_SECRET.exec(w.text)) {
      if (looksLikeTokenBody(m[0]) && shannonEntropy(m[0]) >= 3.2) return groupSpan(w, m, 0);
    }
    return undefined;
  },
};

/**
 * A Twilio API key SID (`SK` + 32 hex) alone, wherever it appears (gitleaks reports it anywhere).
 * The SID names an API key and is sent with its secret on every request; alone it authenticates
 * nothing, so it is a `warn`: it tells the author the secret is probably nearby, in this bundle or
 * in a server it should stay on. 32 random hex digits have ~3.7 bits/char; a run or a placeholder
 * (`SKxxxxxxxx…`, `SK000…`) is not a SID. The boundary is a letter or digit on either side, so a
 * longer hex string that contains `SK…` (impossible: `S`/`K` are not hex) or an identifier ending in
 * `…SK` followed by hex is not matched.
 */
const twilioApiKeySid: SecretRule = {
  id: "twilio-api-key-sid",
  family: "twilio",
  severity: "warn",
  description: "Twilio API key SID (SK + 32 hex) — its secret is probably near",
  // "SK" is too short for the prefilter (3 bytes): one keyword per hex digit that can follow it.
  keywords: [..."0123456789abcdefABCDEF"].map((h) => `SK${h}`),
  notAfter: ALNUM,
  lookback: 1,
  window: 36,
  find(w) {
    const m = stickyAt(/SK[0-9a-fA-F]{32}(?![A-Za-z0-9])/y, w);
    if (m === null) return undefined;
    const hex = m[0].slice(2);
    if (isPlaceholder(hex) || shannonEntropy(hex) < 3.0 || !/\d/.test(hex) || !/[a-fA-F]/.test(hex))
      return undefined;
    return groupSpan(w, m, 0);
  },
};

const sendgrid = tokenRule({
  id: "sendgrid-api-key",
  family: "sendgrid",
  description: "SendGrid API key (SG.…….……)",
  keywords: ["SG."],
  pattern: /SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{30,64}(?![A-Za-z0-9_-])/y,
  notAfter: TOKEN,
  window: 110,
});

/** Mailgun private API keys (`key-` + 32 hex) and webhook signing keys (`<32 hex>-<8>-<8>`, named). */
const mailgun = tokenRule({
  id: "mailgun-api-key",
  family: "mailgun",
  description: "Mailgun private API key (key-…)",
  keywords: ["key-"],
  // `key-` is common in code (`key-value`, `data-key-…`): the 32nd character on must be hex.
  precheck: (bytes, after) => isHexByte(bytes[after]) && isHexByte(bytes[after + 31]),
  pattern: /key-[a-f0-9]{32}(?![A-Za-z0-9_-])/y,
  notAfter: TOKEN,
  window: 40,
});

/**
 * Mailchimp API keys: 32 hex, `-us`, the data-center number. The keyword is `-us`; the 32 hex
 * digits before it are checked on the window.
 */
const MAILCHIMP = /(?<![A-Za-z0-9])[a-f0-9]{32}-us\d{1,2}(?![A-Za-z0-9])/y;

const mailchimp: SecretRule = {
  id: "mailchimp-api-key",
  family: "mailchimp",
  severity: "block",
  description: "Mailchimp API key (…-us12)",
  keywords: ["-us"],
  notAfter: "",
  precheck(bytes, after) {
    const d = bytes[after];
    return d !== undefined && d >= 0x30 && d <= 0x39;
  },
  lookback: 33,
  window: 7,
  find(w) {
    const m = stickyAt(MAILCHIMP, w, 32);
    if (m === null) return undefined;
    const hex = m[0].slice(0, 32);
    if (!looksLikeTokenBody(hex)) return undefined;
    return groupSpan(w, m, 0);
  },
};

const brevo = tokenRule({
  id: "brevo-api-key",
  family: "brevo",
  description: "Brevo (Sendinblue) API key (xkeysib-, xsmtpsib-)",
  keywords: ["xkeysib-", "xsmtpsib-"],
  pattern: /x(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16}(?![A-Za-z0-9])/y,
  body: (m) => m[0].slice(m[0].indexOf("-") + 1),
  notAfter: TOKEN,
  window: 95,
});

export const COMMUNICATION_RULES: readonly SecretRule[] = [
  twilioCredentials,
  twilioApiKeySid,
  sendgrid,
  mailgun,
  mailchimp,
  brevo,
];
