/**
 * Cloud providers: AWS, Google Cloud, Azure, DigitalOcean, Alibaba Cloud, Heroku.
 */

import { charClasses, isPlaceholder, looksLikeTokenBody, shannonEntropy } from "../entropy.ts";
import { decodeBase64, isRealPrivateKeyBody } from "../validators.ts";
import { ALNUM, groupSpan, isIn, type SecretRule, span, stickyAt, TOKEN, tokenRule } from "./shared.ts";

// ---------------------------------------------------------------------------------------------
// AWS

/**
 * A secret access key is 40 characters of base64 alphabet. Alone, a 40-char base64 string is
 * anything; it is reported when named (`aws_secret_access_key = …`, secretlint's rule) or when an
 * access key id (`AKIA`/`ASIA` + 16) sits within 1 KiB of it, which is how keys are pasted into
 * config.js. Entropy ≥ 4.0 bits/char: 40 random base64 chars average ~4.9 (max log2 40 = 5.3);
 * a SHA-1 in hex (also 40 chars) has no upper case and fails the 3-class test.
 */
const AWS_SECRET_NEAR = /(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g;
const AWS_KEY_ID = /(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/y;
const AWS_SECRET_NAMED =
  /(?:secret_access_key|secretaccesskey|secret-access-key|aws_secret_key)["'`]?\s{0,4}(?::=|=>|:|=)\s{0,4}["'`]?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/iy;
const AWS_PROXIMITY = 1024;

function isAwsSecret(value: string): boolean {
  if (isPlaceholder(value)) return false;
  const c = charClasses(value);
  return c.lower > 0 && c.upper > 0 && c.digit > 0 && shannonEntropy(value) >= 4.0;
}

const awsSecretAccessKey: SecretRule = {
  id: "aws-secret-access-key",
  family: "aws",
  severity: "block",
  description: "AWS secret access key, named or next to an AKIA/ASIA access key id",
  keywords: ["AKIA", "ASIA"],
  keywordsIgnoreCase: ["secret_access_key", "secretaccesskey", "secret-access-key", "aws_secret_key"],
  lookback: AWS_PROXIMITY,
  window: AWS_PROXIMITY,
  find(w) {
    if (w.keyword === "AKIA" || w.keyword === "ASIA") {
      if (isIn(ALNUM, w.text.charCodeAt(w.at - 1))) return undefined;
      const id = stickyAt(AWS_KEY_ID, w);
      // AWS's documentation key id is AKIAIOSFODNN7EXAMPLE.
      if (id === null || id[0].endsWith("EXAMPLE")) return undefined;
      AWS_SECRET_NEAR.lastIndex = Math.max(0, w.at - AWS_PROXIMITY);
      for (let m = AWS_SECRET_NEAR.exec(w.text); m !== null; m = AWS_SECRET_NEAR.exec(w.text)) {
        if (isAwsSecret(m[0])) return groupSpan(w, m, 0);
      }
      return undefined;
    }
    const m = stickyAt(AWS_SECRET_NAMED, w);
    if (m === null || !isAwsSecret(m[1] ?? "")) return undefined;
    return groupSpan(w, m, 1);
  },
};

/**
 * An access key id alone (`AKIA…`, and the user, role and group ids secretlint also reports) names a
 * key but cannot sign a request: `warn`. Ids are 16 characters of base32 after the prefix; the body
 * must not be a run or a placeholder (AWS's documentation id ends in `EXAMPLE`).
 */
const awsAccessKeyId: SecretRule = {
  id: "aws-access-key-id",
  family: "aws",
  severity: "warn",
  description: "AWS access key id (AKIA…, ASIA…) without its secret",
  keywords: ["AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "A3T"],
  notAfter: ALNUM,
  lookback: 1,
  window: 22,
  find(w) {
    const m = stickyAt(
      /A(?:KIA|SIA|BIA|CCA|GPA|IDA|ROA|IPA|NPA|NVA|3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])/y,
      w,
    );
    if (m === null || m[0].endsWith("EXAMPLE")) return undefined;
    const body = m[0].slice(4);
    if (isPlaceholder(body) || shannonEntropy(body) < 3.0) return undefined;
    return groupSpan(w, m, 0);
  },
};

// ---------------------------------------------------------------------------------------------
// Google Cloud

/**
 * A service-account key file (`"type": "service_account"` + `"private_key": "-----BEGIN…"`) as
 * a whole `.json` or as an object literal inside JS. Reported at the private key, which must pass
 * the same structural check as the private-key rule; this rule wins over it for the same key.
 * Key files are ~2.3 KiB; 8 KiB either side covers any field order.
 */
const GCP_TYPE = /service_account["'`]/y;
const GCP_PRIVATE_KEY =
  /private_key["'`]?\s{0,4}[:=]\s{0,4}["'`](-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----)/g;
const GCP_SPAN = 8192;
const GCP_KEY_ID = /private_key_id["'`]?\s{0,4}[:=]\s{0,4}["'`]([a-f0-9]{40})["'`]/g;

const gcpServiceAccount: SecretRule = {
  id: "gcp-service-account",
  family: "gcp",
  severity: "block",
  description: "Google Cloud service-account key (JSON or JS object with type service_account)",
  keywords: ["service_account"],
  lookback: GCP_SPAN,
  window: GCP_SPAN,
  find(w) {
    if (stickyAt(GCP_TYPE, w) === null) return undefined;
    // The key field must be `type`: look at the 40 chars before the value's opening quote.
    const before = w.text.slice(Math.max(0, w.at - 40), w.at);
    if (!/type["'`]?\s{0,4}[:=]\s{0,4}["'`]$/.test(before)) return undefined;
    GCP_PRIVATE_KEY.lastIndex = Math.max(0, w.at - GCP_SPAN);
    const m = GCP_PRIVATE_KEY.exec(w.text);
    if (m === null || m[1] === undefined || m[2] === undefined) return undefined;
    const begin = m.index + m[0].length - m[1].length;
    const endMarker = `-----END ${m[2]}-----`;
    const end = w.text.indexOf(endMarker, begin);
    if (end >= 0 && isRealPrivateKeyBody(m[2], w.text.slice(begin + m[1].length, end))) {
      return span(w, begin, end + endMarker.length);
    }
    // A key file whose key body was shortened or mangled is still a key file when it names a
    // real key id (40 hex digits, as Google issues them): secretlint reports these too.
    GCP_KEY_ID.lastIndex = Math.max(0, w.at - GCP_SPAN);
    const id = GCP_KEY_ID.exec(w.text);
    if (id === null || id[1] === undefined || !looksLikeTokenBody(id[1])) return undefined;
    return groupSpan(w, id, 1);
  },
};

/**
 * Google API keys (`AIza` + 35): Maps, Firebase web config, YouTube embeds. Google documents them
 * as safe in page source when restricted by HTTP referrer and API, and every Firebase web app ships
 * one, so a bundle carrying one is normal: `warn`, so the author checks its restrictions.
 */
const googleApiKey = tokenRule({
  id: "google-api-key",
  family: "gcp",
  severity: "warn",
  description: "Google API key (AIza…): Maps, Firebase, Cloud APIs — check its referrer and API restrictions",
  keywords: ["AIza"],
  pattern: /AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/y,
  notAfter: TOKEN,
  window: 40,
});

/** OAuth client secrets of Google Cloud (`GOCSPX-` + 28), issued with a client id for server flows. */
const googleOauthSecret = tokenRule({
  id: "google-oauth-client-secret",
  family: "gcp",
  description: "Google OAuth client secret (GOCSPX-)",
  keywords: ["GOCSPX-"],
  pattern: /GOCSPX-[A-Za-z0-9_-]{28}(?![A-Za-z0-9_-])/y,
  notAfter: TOKEN,
  window: 36,
});

// ---------------------------------------------------------------------------------------------
// Azure

/**
 * Azure Storage account keys are 64 random bytes (88 base64 chars). Azurite's development key
 * (`Eby8vdM02xNOcqFl…`, published in Microsoft's docs, works only against the local emulator) is
 * not a secret.
 */
const azureStorageKey: SecretRule = {
  id: "azure-storage-account-key",
  family: "azure",
  severity: "block",
  description: "Azure Storage connection string AccountKey=",
  keywords: ["AccountKey="],
  notAfter: ALNUM,
  lookback: 1,
  window: 110,
  find(w) {
    const m = stickyAt(/AccountKey=([A-Za-z0-9+/]{86}==)/y, w);
    const key = m?.[1];
    if (!m || key === undefined || key.startsWith("Eby8vdM02xNOcqFl") || shannonEntropy(key) < 4.5) {
      return undefined;
    }
    return groupSpan(w, m, 1);
  },
};

/** Service Bus / Event Hubs / IoT Hub: `SharedAccessKey=` + 32 random bytes. */
const azureSharedAccessKey: SecretRule = {
  id: "azure-shared-access-key",
  family: "azure",
  severity: "block",
  description: "Azure Service Bus / Event Hubs / IoT Hub connection string SharedAccessKey=",
  keywords: ["SharedAccessKey="],
  notAfter: ALNUM,
  lookback: 1,
  window: 64,
  find(w) {
    const m = stickyAt(/SharedAccessKey=([A-Za-z0-9+/]{43}=)(?![A-Za-z0-9+/=])/y, w);
    if (!m || shannonEntropy(m[1] ?? "") < 4.0) return undefined;
    return groupSpan(w, m, 1);
  },
};

/**
 * A SAS token's `sig=` is an HMAC-SHA256: once URL- and base64-decoded it is exactly 32 bytes.
 * `sv=` (signed version) is in every SAS; requiring it within 600 chars before keeps `sig=` in
 * unrelated query strings out.
 */
const azureSas: SecretRule = {
  id: "azure-sas-token",
  family: "azure",
  severity: "block",
  description: "Azure shared access signature (sv=…&sig=…)",
  keywords: ["sig="],
  lookback: 600,
  window: 120,
  find(w) {
    const prev = w.text.charCodeAt(w.at - 1);
    // `?sig=`, `&sig=`, or `&amp;sig=` in an HTML attribute.
    if (prev !== 0x3f /* ? */ && prev !== 0x26 /* & */ && prev !== 0x3b /* ; */) return undefined;
    const m = stickyAt(/sig=([A-Za-z0-9%+/=]{40,110})(?![A-Za-z0-9%+/=])/y, w);
    if (!m || m[1] === undefined) return undefined;
    if (!/[?&;]sv=\d{4}-\d{2}-\d{2}/.test(w.text.slice(Math.max(0, w.at - 600), w.at))) return undefined;
    let sig: string;
    try {
      sig = decodeURIComponent(m[1]);
    } catch {
      return undefined;
    }
    if (decodeBase64(sig)?.length !== 32) return undefined;
    return groupSpan(w, m, 1);
  },
};

/**
 * Microsoft Entra (Azure AD) client secrets: 3 chars, a digit, `Q~`, then 31–34 chars. The `Q~`
 * marker is the keyword; the match starts 3 characters before the keyword (digit + `Q~`).
 */
const azureAdSecret: SecretRule = {
  id: "azure-ad-client-secret",
  family: "azure",
  severity: "block",
  description: "Microsoft Entra ID (Azure AD) application client secret (…Q~…)",
  keywords: ["0Q~", "1Q~", "2Q~", "3Q~", "4Q~", "5Q~", "6Q~", "7Q~", "8Q~", "9Q~"],
  notAfter: "",
  lookback: 4,
  window: 40,
  find(w) {
    if (isIn(`${TOKEN}~.`, w.text.charCodeAt(w.at - 4))) return undefined;
    const m = stickyAt(/[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])/y, w, 3);
    if (!m) return undefined;
    const body = m[0];
    if (isPlaceholder(body) || shannonEntropy(body) < 3.0) return undefined;
    return groupSpan(w, m, 0);
  },
};

// ---------------------------------------------------------------------------------------------
// Other clouds

const digitalOcean = tokenRule({
  id: "digitalocean-token",
  family: "digitalocean",
  description: "DigitalOcean personal access, OAuth or refresh token (dop_v1_, doo_v1_, dor_v1_)",
  keywords: ["dop_v1_", "doo_v1_", "dor_v1_"],
  pattern: /do[por]_v1_[a-f0-9]{64}(?![A-Za-z0-9])/y,
  window: 72,
});

/** Heroku platform API keys in their current format (`HRKU-AA` + 58). */
const heroku = tokenRule({
  id: "heroku-api-key",
  family: "heroku",
  description: "Heroku platform API key (HRKU-)",
  keywords: ["HRKU-AA"],
  pattern: /HRKU-AA[0-9A-Za-z_-]{58}(?![0-9A-Za-z_-])/y,
  notAfter: TOKEN,
  window: 66,
});

/** An Alibaba Cloud AccessKey id (`LTAI` + 20) names a key, like AWS's `AKIA`: `warn`. */
const alibabaKeyId = tokenRule({
  id: "alibaba-access-key-id",
  family: "alibaba",
  severity: "warn",
  description: "Alibaba Cloud AccessKey id (LTAI…) without its secret",
  keywords: ["LTAI"],
  pattern: /LTAI[A-Za-z0-9]{20}(?![A-Za-z0-9])/y,
  window: 25,
});

export const CLOUD_RULES: readonly SecretRule[] = [
  gcpServiceAccount,
  awsSecretAccessKey,
  awsAccessKeyId,
  googleApiKey,
  googleOauthSecret,
  azureStorageKey,
  azureSharedAccessKey,
  azureSas,
  azureAdSecret,
  digitalOcean,
  heroku,
  alibabaKeyId,
];
