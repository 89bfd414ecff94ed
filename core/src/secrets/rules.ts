/**
 * The secret rules (DESIGN §5). Each rule is found by its keywords first (see scan.ts): a rule
 * only ever runs on a bounded window around a keyword, with a sticky regex whose quantifiers are
 * all bounded and never nested, so scanning is linear in the input whatever it contains.
 *
 * Why our own rules rather than secretlint (13, recommended preset): secretlint is Node-bound — the
 * preset imports `node:path` at load, the GCP rule lazily imports `node:fs`, @secretlint/node and
 * source-creator read files with `node:fs/promises` — while this core runs in Workers and browsers
 * too; its rules run through async plugin machinery (`lintSource` returns a promise, rules report
 * through context events), and each rule does its own `matchAll` over the whole file (~40 full
 * passes, no prefilter): ~25–30 MB/s here against the ≥ 5× that the publish pipeline needs.
 *
 * Coverage kept at least equal to the preset's: every provider it knows has a rule here with the
 * same token shape (AWS secret keys by name, GCP service-account JSON, private keys with the
 * `MI…`/`openssh-key-v1` magic, npm, Slack tokens and webhooks, Basic-auth URLs, OpenAI, Anthropic,
 * Groq, Hugging Face, Linear, Notion, SendGrid, Shopify, Stripe, GitHub, GitLab, Grafana, 1Password,
 * Postgres/MySQL/MongoDB URLs, Vault, Vercel, Databricks, Docker, Figma, Cloudflare, Tailscale). We
 * add what matters for bundles it does not cover: AWS key pairs by proximity, Google API keys,
 * Azure, Twilio, signed JWTs, more database schemes, Bearer/Basic headers, and generic
 * `secret = "…"` assignments gated by entropy. We differ on purpose where a bundle is not a repo:
 * the GCP rule also reads service-account objects embedded in JS, not only whole `.json` files.
 */

import { charClasses, classCount, isPlaceholder, looksLikeTokenBody, shannonEntropy } from "./entropy.ts";
import {
  decodeBase64,
  isLikelyGenericSecret,
  isLikelyRealPassword,
  isRealJwt,
  isRealPrivateKeyBody,
} from "./validators.ts";

/** Where a rule found its secret, as indices into the window text it was given. */
export interface RuleMatch {
  readonly start: number;
  readonly end: number;
}

/** What a rule sees: a decoded window of the file with the keyword at `at`. */
export interface RuleWindow {
  readonly text: string;
  /** Index in `text` where the keyword starts. */
  readonly at: number;
  /** The keyword that fired, as written in the rule. */
  readonly keyword: string;
  /** The file's path in the bundle: some formats (`.env`, `.npmrc`) change what a value looks like. */
  readonly path: string;
}

export interface SecretRule {
  /** Stable id, shown in SECRET_DETECTED errors: `github-token`. */
  readonly id: string;
  /** Provider or kind, for grouping and recall reports: `github`. */
  readonly family: string;
  readonly description: string;
  /** Literal strings (≥ 3 chars), one of which every match contains. Case-sensitive. */
  readonly keywords: readonly string[];
  /** Literal strings compared ignoring ASCII case. */
  readonly keywordsIgnoreCase?: readonly string[];
  /**
   * Characters that may not directly precede the keyword (a token boundary): `ghp_` inside
   * `xghp_…` is not a GitHub token. Checked on bytes, before any decoding.
   */
  readonly notAfter?: string;
  /**
   * A cheap test on the raw bytes right after the keyword (`afterKeyword` is their offset), run
   * before anything is decoded. For keywords that are frequent in ordinary code (`https://`,
   * `token`), it throws out almost every hit for the price of a few byte compares.
   */
  readonly precheck?: (bytes: Uint8Array, afterKeyword: number) => boolean;
  /** Characters of context the rule needs before the keyword. */
  readonly lookback: number;
  /** Characters after the keyword start that a match can reach (longest match + 1). */
  readonly window: number;
  readonly find: (w: RuleWindow) => RuleMatch | undefined;
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const WORD = `${ALNUM}_`;
const TOKEN = `${WORD}-`;

function isIn(chars: string, code: number): boolean {
  return code >= 0 && chars.includes(String.fromCharCode(code));
}

/** Runs a sticky regex at the keyword; `group` selects the secret (0: the whole match). */
function stickyAt(re: RegExp, w: RuleWindow, offset = 0): RegExpExecArray | null {
  re.lastIndex = w.at - offset;
  return re.exec(w.text);
}

function groupSpan(m: RegExpExecArray, group: number): RuleMatch | undefined {
  const value = m[group];
  if (value === undefined) return undefined;
  if (group === 0) return { start: m.index, end: m.index + value.length };
  // `d` flag indices would do this, but cost on every exec; the group is always the match suffix
  // or found by indexOf from the end of the prefix.
  const start = m.index + m[0].lastIndexOf(value);
  return { start, end: start + value.length };
}

interface TokenRuleSpec {
  id: string;
  family: string;
  description: string;
  keywords: readonly string[];
  /** Sticky; matches from the keyword. */
  pattern: RegExp;
  /** The part of the match that must look random (defaults to the whole match minus `keyword`). */
  body?: (m: RegExpExecArray, keyword: string) => string;
  validate?: (m: RegExpExecArray) => boolean;
  window: number;
  notAfter?: string;
}

/** A provider token with a fixed prefix: the prefix is the signal, the body must not be a placeholder. */
function tokenRule(spec: TokenRuleSpec): SecretRule {
  return {
    id: spec.id,
    family: spec.family,
    description: spec.description,
    keywords: spec.keywords,
    notAfter: spec.notAfter ?? WORD,
    lookback: 1,
    window: spec.window,
    find(w) {
      const m = stickyAt(spec.pattern, w);
      if (m === null) return undefined;
      const body = spec.body ? spec.body(m, w.keyword) : m[0].slice(w.keyword.length);
      if (!looksLikeTokenBody(body)) return undefined;
      if (spec.validate && !spec.validate(m)) return undefined;
      return groupSpan(m, 0);
    },
  };
}

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

const aws: SecretRule = {
  id: "aws-secret-access-key",
  family: "aws",
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
        if (isAwsSecret(m[0])) return groupSpan(m, 0);
      }
      return undefined;
    }
    const m = stickyAt(AWS_SECRET_NAMED, w);
    if (m === null || !isAwsSecret(m[1] ?? "")) return undefined;
    return groupSpan(m, 1);
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

const gcpServiceAccount: SecretRule = {
  id: "gcp-service-account",
  family: "gcp",
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
    if (end < 0 || !isRealPrivateKeyBody(m[2], w.text.slice(begin + m[1].length, end))) return undefined;
    return { start: begin, end: end + endMarker.length };
  },
};

const googleApiKey = tokenRule({
  id: "google-api-key",
  family: "gcp",
  description: "Google API key (AIza…): Maps, Firebase, Cloud APIs",
  keywords: ["AIza"],
  pattern: /AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/y,
  notAfter: TOKEN,
  window: 40,
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
    return groupSpan(m, 1);
  },
};

/** Service Bus / Event Hubs / IoT Hub: `SharedAccessKey=` + 32 random bytes. */
const azureSharedAccessKey: SecretRule = {
  id: "azure-shared-access-key",
  family: "azure",
  description: "Azure Service Bus / Event Hubs / IoT Hub connection string SharedAccessKey=",
  keywords: ["SharedAccessKey="],
  notAfter: ALNUM,
  lookback: 1,
  window: 64,
  find(w) {
    const m = stickyAt(/SharedAccessKey=([A-Za-z0-9+/]{43}=)(?![A-Za-z0-9+/=])/y, w);
    if (!m || shannonEntropy(m[1] ?? "") < 4.0) return undefined;
    return groupSpan(m, 1);
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
    return groupSpan(m, 1);
  },
};

/**
 * Microsoft Entra (Azure AD) client secrets: 3 chars, a digit, `Q~`, then 31–34 chars. The `Q~`
 * marker is the keyword; the match starts 3 characters before the keyword (digit + `Q~`).
 */
const azureAdSecret: SecretRule = {
  id: "azure-ad-client-secret",
  family: "azure",
  description: "Microsoft Entra ID (Azure AD) application client secret (…Q~…)",
  keywords: ["0Q~", "1Q~", "2Q~", "3Q~", "4Q~", "5Q~", "6Q~", "7Q~", "8Q~", "9Q~"],
  notAfter: "",
  lookback: 4,
  window: 40,
  find(w) {
    if (isIn(`${TOKEN}~.`, w.text.charCodeAt(w.at - 4))) return undefined;
    const m = stickyAt(/[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])/y, w, 3);
    if (!m || !looksLikeTokenBody(m[0])) return undefined;
    return groupSpan(m, 0);
  },
};

// ---------------------------------------------------------------------------------------------
// Source hosting, package registries

const githubToken = tokenRule({
  id: "github-token",
  family: "github",
  description: "GitHub personal, OAuth, user-to-server, server-to-server or refresh token (ghp_, gho_, …)",
  keywords: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
  // 36 base62 today; GitHub reserves the right to grow tokens up to 255 chars.
  pattern: /gh[pousr]_[A-Za-z0-9]{36,251}(?![A-Za-z0-9_])/y,
  window: 260,
});

const githubFineGrained = tokenRule({
  id: "github-fine-grained-pat",
  family: "github",
  description: "GitHub fine-grained personal access token (github_pat_)",
  keywords: ["github_pat_"],
  pattern: /github_pat_[A-Za-z0-9_]{82,244}(?![A-Za-z0-9_])/y,
  window: 260,
});

const gitlabToken = tokenRule({
  id: "gitlab-token",
  family: "gitlab",
  description: "GitLab personal, project, deploy, runner or CI build token (glpat-, glptt-, gldt-, …)",
  keywords: ["glpat-", "glptt-", "gldt-", "glrt-", "glcbt-"],
  pattern: /gl(?:pat|ptt|dt|rt|cbt)-[A-Za-z0-9_-]{20,128}(?![A-Za-z0-9_-])/y,
  notAfter: TOKEN,
  window: 140,
});

const npmToken = tokenRule({
  id: "npm-token",
  family: "npm",
  description: "npm access token (npm_)",
  keywords: ["npm_"],
  pattern: /npm_[A-Za-z0-9]{36}(?![A-Za-z0-9_])/y,
  window: 42,
});

/**
 * Our own API tokens (control/src/auth/api-tokens.ts): `ms_` + 52 lowercase base32 characters
 * (32 random bytes). A bundle that carries one hands its tenant's publish rights to every viewer.
 */
const miniSitesApiToken: SecretRule = {
  id: "mini-sites-api-token",
  family: "mini-sites",
  description: "Mini-Sites API token (ms_)",
  keywords: ["ms_"],
  notAfter: WORD,
  lookback: 1,
  window: 55,
  find(w) {
    const m = stickyAt(/ms_[a-z2-7]{52}(?![A-Za-z0-9_])/y, w);
    // The format is exact and ours, so no placeholder words are looked for: a random body contains
    // "xxxx" or "your" often enough (~1 in 600) to be missed. Only a low-entropy body (`ms_aaaa…`) is
    // an example; 52 random base32 characters have ~4.6 bits/char.
    if (!m || shannonEntropy(m[0].slice(3)) < 3.5) return undefined;
    return groupSpan(m, 0);
  },
};

/** `.npmrc` `_authToken=…`; `${NPM_TOKEN}` and other variables are how it should be written. */
const npmAuthToken: SecretRule = {
  id: "npm-auth-token",
  family: "npm",
  description: ".npmrc _authToken= with a literal token",
  keywords: ["_authToken="],
  lookback: 1,
  window: 520,
  find(w) {
    const m = stickyAt(/_authToken=([^\s$"'`][^\s"'`]{15,500})/y, w);
    if (!m || !looksLikeTokenBody(m[1] ?? "")) return undefined;
    return groupSpan(m, 1);
  },
};

// ---------------------------------------------------------------------------------------------
// Chat, email, payments, telephony

/**
 * Slack tokens: `xoxb-{team}-{bot}-{secret}`, `xoxp-{…}-{…}-{…}-{hex}`, `xapp-1-{app}-{n}-{hex}`.
 * One bounded run of `[A-Za-z0-9-]`, then split in code (a `(?:seg-)+` regex would nest
 * quantifiers): ≥ 3 segments, ≥ 6 digits (team and user ids are numeric), and a last segment of
 * ≥ 8 chars that looks random (`xoxb-your-token-here` fails all three).
 */
const slackToken = tokenRule({
  id: "slack-token",
  family: "slack",
  description: "Slack bot, user, app, workspace or refresh token (xoxb-, xoxp-, xapp-, …)",
  keywords: ["xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxr-", "xoxe-", "xapp-"],
  pattern: /x(?:ox[abeopr]|app)-[A-Za-z0-9-]{10,250}(?![A-Za-z0-9-])/y,
  body: (m) => m[0].slice(m[0].lastIndexOf("-") + 1),
  validate(m) {
    const segments = m[0].split("-");
    const last = segments[segments.length - 1] ?? "";
    return segments.length >= 4 && last.length >= 8 && m[0].replace(/\D/g, "").length >= 6;
  },
  notAfter: TOKEN,
  window: 260,
});

const slackWebhook = tokenRule({
  id: "slack-webhook",
  family: "slack",
  description: "Slack incoming webhook or workflow URL (hooks.slack.com/services/T…/B…/…)",
  keywords: ["hooks.slack.com/"],
  pattern:
    /hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9]{6,40}\/[A-Za-z0-9]{6,40}\/[A-Za-z0-9]{16,64}(?![A-Za-z0-9])/y,
  body: (m) => m[0].slice(m[0].lastIndexOf("/") + 1),
  notAfter: "",
  window: 200,
});

/**
 * Stripe secret and restricted keys, live and test (a test key reads and writes the account's
 * test-mode data). Publishable keys (`pk_`) are meant for the browser and are not matched.
 * Stripe's documentation keys, shown to every reader of the docs, are ignored.
 */
const STRIPE_DOC_KEYS = new Set([
  "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
  "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
  "sk_test_26PHem9AhJZvU623DfE1x4sd",
]);

const stripeKey = tokenRule({
  id: "stripe-secret-key",
  family: "stripe",
  description: "Stripe secret or restricted key (sk_live_, rk_live_, sk_test_, rk_test_)",
  keywords: ["sk_live_", "rk_live_", "sk_test_", "rk_test_"],
  // 24+ after the prefix (Stripe's shortest real keys); up to 247 (documented max length 255).
  pattern: /[sr]k_(?:live|test)_[A-Za-z0-9]{24,247}(?![A-Za-z0-9])/y,
  validate: (m) => !STRIPE_DOC_KEYS.has(m[0]),
  window: 260,
});

/**
 * Twilio: an Account SID (`AC` + 32 hex) or API key SID (`SK` + 32 hex) is an identifier; the
 * secret is the 32-char auth token or API key secret next to it. Reported when the word "twilio",
 * a SID and a 32-char random string are within the same ~1 KiB.
 */
const TWILIO_SID = /(?<![A-Za-z0-9])(?:AC|SK)[0-9a-f]{32}(?![A-Za-z0-9])/;
const TWILIO_SECRET = /(?<![A-Za-z0-9])[A-Za-z0-9]{32}(?![A-Za-z0-9])/g;

const twilio: SecretRule = {
  id: "twilio-credentials",
  family: "twilio",
  description: "Twilio auth token or API key secret next to an AC/SK SID",
  keywords: [],
  keywordsIgnoreCase: ["twilio"],
  lookback: 400,
  window: 600,
  find(w) {
    if (!TWILIO_SID.test(w.text)) return undefined;
    TWILIO_SECRET.lastIndex = 0;
    for (let m = TWILIO_SECRET.exec(w.text); m !== null; m = TWILIO_SECRET.exec(w.text)) {
      if (looksLikeTokenBody(m[0]) && shannonEntropy(m[0]) >= 3.2) return groupSpan(m, 0);
    }
    return undefined;
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

// ---------------------------------------------------------------------------------------------
// AI providers

/**
 * OpenAI: project/service/admin keys `sk-proj-…` (~160 chars) and legacy `sk-` + 20 + `T3BlbkFJ`
 * (base64 of "OpenAI") + 20. A bare `sk-` + random is also used by other vendors and by CSS
 * (`-webkit-mask-…`), so it needs one of those two shapes.
 */
const openai = tokenRule({
  id: "openai-api-key",
  family: "openai",
  description: "OpenAI API key (sk-proj-, sk-svcacct-, sk-admin-, legacy sk-…T3BlbkFJ…)",
  keywords: ["sk-"],
  pattern:
    /sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,250}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})(?![A-Za-z0-9_-])/y,
  notAfter: TOKEN,
  window: 270,
});

const anthropic = tokenRule({
  id: "anthropic-api-key",
  family: "anthropic",
  description: "Anthropic API or admin key (sk-ant-api03-…, sk-ant-admin01-…)",
  keywords: ["sk-ant-"],
  pattern: /sk-ant-(?:api|admin|oat|ort)\d\d-[A-Za-z0-9_-]{32,200}(?![A-Za-z0-9_-])/y,
  body: (m) => m[0].slice(m[0].indexOf("-", 7) + 1),
  notAfter: TOKEN,
  window: 230,
});

/**
 * Hugging Face user tokens: `hf_` + 34 letters. Letters-only runs are also identifiers
 * (`hf_getModelConfig…`), so the body must be mixed case the way random letters are: ≥ 8 upper
 * and ≥ 8 lower of 34 (random: ~17 each; P(< 8) ≈ 0.1%) and ≥ 4.0 bits/char.
 */
const huggingface = tokenRule({
  id: "huggingface-token",
  family: "huggingface",
  description: "Hugging Face access token (hf_)",
  keywords: ["hf_"],
  pattern: /hf_[A-Za-z0-9]{34,40}(?![A-Za-z0-9_])/y,
  validate(m) {
    const body = m[0].slice(3);
    const c = charClasses(body);
    return c.upper >= 8 && c.lower >= 8 && shannonEntropy(body) >= 4.0;
  },
  window: 45,
});

const groq = tokenRule({
  id: "groq-api-key",
  family: "groq",
  description: "Groq API key (gsk_)",
  keywords: ["gsk_"],
  pattern: /gsk_[A-Za-z0-9]{52}(?![A-Za-z0-9])/y,
  window: 58,
});

// ---------------------------------------------------------------------------------------------
// Other providers covered by secretlint's recommended preset

const linear = tokenRule({
  id: "linear-api-key",
  family: "linear",
  description: "Linear API key (lin_api_)",
  keywords: ["lin_api_"],
  pattern: /lin_api_[A-Za-z0-9_]{32,128}(?![A-Za-z0-9_])/y,
  window: 140,
});

const notion = tokenRule({
  id: "notion-token",
  family: "notion",
  description: "Notion integration token (ntn_)",
  keywords: ["ntn_"],
  pattern: /ntn_\d{11}[A-Za-z0-9]{35}(?![A-Za-z0-9])/y,
  window: 52,
});

const shopify = tokenRule({
  id: "shopify-token",
  family: "shopify",
  description: "Shopify access token or shared secret (shpat_, shpca_, shppa_, shpss_)",
  keywords: ["shpat_", "shpca_", "shppa_", "shpss_"],
  pattern: /shp(?:at|ca|pa|ss)_[A-Za-z0-9]{32,64}(?![A-Za-z0-9])/y,
  window: 72,
});

const grafana = tokenRule({
  id: "grafana-token",
  family: "grafana",
  description: "Grafana Cloud API token (glc_) or service account token (glsa_)",
  keywords: ["glc_", "glsa_"],
  pattern:
    /gl(?:c_[A-Za-z0-9+/]{32,400}={0,2}(?![A-Za-z0-9+/=])|sa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}(?![A-Za-z0-9]))/y,
  window: 410,
});

const onePassword = tokenRule({
  id: "1password-service-account-token",
  family: "1password",
  description: "1Password service account token (ops_eyJ…)",
  keywords: ["ops_ey"],
  pattern: /ops_ey[A-Za-z0-9+/=]{100,1280}(?![A-Za-z0-9+/=])/y,
  window: 1300,
});

const vault = tokenRule({
  id: "hashicorp-vault-token",
  family: "hashicorp-vault",
  description: "HashiCorp Vault service, batch or recovery token (hvs., hvb., hvr.)",
  keywords: ["hvs.", "hvb.", "hvr."],
  pattern: /hv(?:[sr]\.[A-Za-z0-9_-]{90,120}|b\.[A-Za-z0-9_-]{138,300})(?![A-Za-z0-9_-])/y,
  notAfter: TOKEN,
  window: 310,
});

const vercel = tokenRule({
  id: "vercel-token",
  family: "vercel",
  description: "Vercel access token (vcp_, vci_, vca_, vcr_, vck_)",
  keywords: ["vcp_", "vci_", "vca_", "vcr_", "vck_"],
  pattern: /vc[picrk]_[A-Za-z0-9]{20,60}(?![A-Za-z0-9])/y,
  window: 66,
});

const databricks = tokenRule({
  id: "databricks-token",
  family: "databricks",
  description: "Databricks personal access token (dapi + 32 hex)",
  keywords: ["dapi"],
  pattern: /dapi[a-f0-9]{32}(?:-\d)?(?![A-Za-z0-9])/y,
  window: 40,
});

const docker = tokenRule({
  id: "docker-hub-pat",
  family: "docker",
  description: "Docker Hub personal access token (dckr_pat_)",
  keywords: ["dckr_pat_"],
  pattern: /dckr_pat_[A-Za-z0-9_-]{27}(?![A-Za-z0-9_-])/y,
  window: 40,
});

const figma = tokenRule({
  id: "figma-token",
  family: "figma",
  description: "Figma personal access token (figd_)",
  keywords: ["figd_"],
  pattern: /figd_[A-Za-z0-9_-]{40,200}(?![A-Za-z0-9_-])/y,
  window: 210,
});

const cloudflare = tokenRule({
  id: "cloudflare-token",
  family: "cloudflare",
  description: "Cloudflare API token or key (cfk_, cfut_, cfat_)",
  keywords: ["cfk_", "cfut_", "cfat_"],
  pattern: /cf(?:k|ut|at)_[A-Za-z0-9]{40}[0-9a-f]{8}(?![A-Za-z0-9])/y,
  window: 60,
});

const tailscale = tokenRule({
  id: "tailscale-key",
  family: "tailscale",
  description: "Tailscale API, auth, OAuth client, SCIM or webhook key (tskey-)",
  keywords: ["tskey-"],
  pattern: /tskey-[a-z]{2,20}-[0-9A-Za-z_]{8,40}-[0-9A-Za-z_]{16,60}(?![0-9A-Za-z_])/y,
  notAfter: TOKEN,
  window: 130,
});

// ---------------------------------------------------------------------------------------------
// Private keys, JWTs

/**
 * PEM private keys in a file, a template literal, a JS/JSON string with `\n` escapes, or split
 * over concatenated strings. The END marker must follow within 20,000 chars (an RSA-8192 key is
 * ~6.3 KiB; PGP secret key blocks with subkeys ~7–12 KiB) — a BEGIN with no END is not a key.
 * The body must pass `isRealPrivateKeyBody` (DER framing, OpenSSH magic, or entropy).
 */
const PEM_BEGIN =
  /-----BEGIN ((?:RSA |DSA |EC |OPENSSH |PGP |ENCRYPTED |ANY |SSH2 ENCRYPTED )?PRIVATE KEY(?: BLOCK)?)-----/y;
const PEM_SPAN = 20_000;

const privateKey: SecretRule = {
  id: "private-key",
  family: "private-key",
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
    return { start: w.at, end: end + endMarker.length };
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

// ---------------------------------------------------------------------------------------------
// Credentials in URLs and headers

const DB_SCHEMES = [
  "postgres://",
  "postgresql://",
  "mysql://",
  "mysqlx://",
  "mariadb://",
  "mongodb://",
  "mongodb+srv://",
  "redis://",
  "rediss://",
  "amqp://",
  "amqps://",
  "mssql://",
  "sqlserver://",
  "cockroachdb://",
  "clickhouse://",
];

/**
 * `scheme://user:password@host`. The user may be empty (`redis://:pass@host`); the password may
 * not be a placeholder (`isLikelyRealPassword`). Bounded: user ≤ 128, password ≤ 256, host ≤ 253.
 */
const URL_CREDENTIALS =
  /[A-Za-z+]{3,14}:\/\/([^\s:@/?#"'`<>]{0,128}):([^\s@/?#"'`<>]{1,256})@[A-Za-z0-9.-]{1,253}/y;

/** An `@` comes before the authority ends: `/`, `?`, `#`, a quote, `<`, `>` or whitespace. */
function hasAtInAuthority(bytes: Uint8Array, after: number): boolean {
  const end = Math.min(bytes.length, after + 386);
  for (let i = after; i < end; i++) {
    const b = bytes[i] as number;
    if (b === 0x40) return true;
    if (b <= 0x20 || b === 0x2f || b === 0x3f || b === 0x23 || b === 0x22 || b === 0x27 || b === 0x60)
      return false;
    if (b === 0x3c || b === 0x3e) return false;
  }
  return false;
}

function urlCredentialRule(id: string, family: string, description: string, keywords: string[]): SecretRule {
  return {
    id,
    family,
    description,
    keywords: [],
    keywordsIgnoreCase: keywords,
    notAfter: `${ALNUM}+.-`,
    precheck: hasAtInAuthority,
    lookback: 1,
    window: 660,
    find(w) {
      const m = stickyAt(URL_CREDENTIALS, w);
      if (!m || !isLikelyRealPassword(m[1] ?? "", m[2] ?? "")) return undefined;
      if (id === "url-basic-auth" && (m[1] ?? "").length < 2) return undefined;
      return groupSpan(m, 0);
    },
  };
}

const databaseUrl = urlCredentialRule(
  "database-url",
  "database-url",
  "Database or broker URL with a password (postgres, mysql, mongodb, redis, amqp, mssql, …)",
  DB_SCHEMES,
);

const urlBasicAuth = urlCredentialRule(
  "url-basic-auth",
  "basic-auth",
  "HTTP(S)/FTP URL with user:password@",
  ["http://", "https://", "ftp://", "ftps://"],
);

/** `Basic base64(user:password)`: decodes to printable `user:password` with a real password. */
const httpBasicAuth: SecretRule = {
  id: "http-basic-auth",
  family: "basic-auth",
  description: "HTTP Authorization: Basic credentials",
  keywords: ["Basic "],
  notAfter: ALNUM,
  lookback: 1,
  window: 320,
  find(w) {
    const m = stickyAt(/Basic ([A-Za-z0-9+/]{8,300}={0,2})(?![A-Za-z0-9+/=])/y, w);
    if (!m || m[1] === undefined) return undefined;
    const bytes = decodeBase64(m[1]);
    if (bytes === undefined) return undefined;
    const plain = String.fromCharCode(...bytes);
    const colon = plain.indexOf(":");
    if (!/^[\x20-\x7e]+$/.test(plain) || colon < 1) return undefined;
    if (!isLikelyRealPassword(plain.slice(0, colon), plain.slice(colon + 1))) return undefined;
    return groupSpan(m, 1);
  },
};

/** `Bearer <token>` written literally: ≥ 20 chars that look random (≥ 3.5 bits/char). */
const bearer = tokenRule({
  id: "bearer-token",
  family: "generic",
  description: "HTTP Authorization: Bearer with a literal token",
  keywords: ["Bearer "],
  pattern: /Bearer ([A-Za-z0-9._~+/-]{20,2048}={0,2})(?![A-Za-z0-9._~+/=-])/y,
  body: (m) => m[1] ?? "",
  validate: (m) => shannonEntropy(m[1] ?? "") >= 3.5 && classCount(m[1] ?? "") >= 3,
  notAfter: ALNUM,
  window: 2070,
});

// ---------------------------------------------------------------------------------------------
// Generic assignments

/**
 * `password = "…"`, `"api_key": "…"`, `clientSecret: '…'`, `DB_PASSWORD=…` (unquoted only in
 * env/ini/yaml-like files, where values are not code). The name must end with the keyword, or the
 * keyword plus `key`: `secretKey` is a secret, `tokenUrl`, `secretLabel`, `passwordPlaceholder` are
 * not. The value is judged by `isLikelyGenericSecret` (length, classes, entropy, placeholders).
 */
const GENERIC_ASSIGNMENT =
  /(?:secret|token|passwd|password|pwd|api[_-]?key)(?:[_-]?key)?(["'`]?)\s{0,4}(?::=|=>|:|=)\s{0,4}(?:"([^"\\\n]{1,257})"|'([^'\\\n]{1,257})'|`([^`\\\n$]{1,257})`|([^\s"'`#;,]{1,257}))/iy;
const IDENTIFIER = `${TOKEN}.$`;
const UNQUOTED_VALUE_FILES = /(?:^|\/)\.env[^/]*$|\.(?:env|ini|properties|toml|ya?ml|cfg|conf)$/i;

/**
 * After the keyword: the rest of the name (`word`, `wd`, `_key`: letters, `_`, `-`, ≤ 8), an
 * optional closing quote, ≤ 4 spaces, then `:` or `=`. `token.type`, `tokens[i]`, `tokenize(`
 * fail at the first byte.
 */
function separatorFollows(bytes: Uint8Array, after: number): boolean {
  let i = after;
  const end = Math.min(bytes.length, after + 16);
  let name = 0;
  while (i < end && name < 8) {
    const b = (bytes[i] as number) | 0x20;
    if ((b < 0x61 || b > 0x7a) && b !== 0x7f /* _ */ && b !== 0x2d /* - */) break;
    i++;
    name++;
  }
  const q = bytes[i];
  if (q === 0x22 || q === 0x27 || q === 0x60) i++;
  for (let s = 0; s < 4 && (bytes[i] === 0x20 || bytes[i] === 0x09); s++) i++;
  return bytes[i] === 0x3a || bytes[i] === 0x3d;
}

const generic: SecretRule = {
  id: "generic-secret-assignment",
  family: "generic",
  description: "A secret, token, password or API key assigned a literal random-looking value",
  keywords: [],
  keywordsIgnoreCase: ["secret", "token", "passwd", "password", "pwd", "apikey", "api_key", "api-key"],
  precheck: separatorFollows,
  lookback: 64,
  window: 320,
  find(w) {
    const m = stickyAt(GENERIC_ASSIGNMENT, w);
    if (!m) return undefined;
    // Inside a string, the name must be closed by the quote that opened it: in
    // `"Password:"),t?x("…"` the colon is text, and what follows is code, not a value.
    let i = w.at - 1;
    while (i >= 0 && isIn(IDENTIFIER, w.text.charCodeAt(i))) i--;
    const opening = w.text.charAt(i);
    if ((opening === '"' || opening === "'" || opening === "`") && m[1] !== opening) return undefined;
    const group = m[2] !== undefined ? 2 : m[3] !== undefined ? 3 : m[4] !== undefined ? 4 : 5;
    if (group === 5 && !UNQUOTED_VALUE_FILES.test(w.path)) return undefined;
    const value = m[group] ?? "";
    if (!isLikelyGenericSecret(value)) return undefined;
    const start = m.index + m[0].length - value.length - (group === 5 ? 0 : 1);
    return { start, end: start + value.length };
  },
};

/**
 * All rules, in priority order: when two findings overlap, the earlier rule's is kept (a JWT
 * after `Bearer ` is reported as `jwt`; a service-account key as `gcp-service-account`, not
 * `private-key`; a `ghp_` token in `token: "…"` as `github-token`).
 */
export const SECRET_RULES: readonly SecretRule[] = [
  gcpServiceAccount,
  privateKey,
  aws,
  googleApiKey,
  azureStorageKey,
  azureSharedAccessKey,
  azureSas,
  azureAdSecret,
  githubToken,
  githubFineGrained,
  gitlabToken,
  slackToken,
  slackWebhook,
  stripeKey,
  twilio,
  sendgrid,
  npmToken,
  miniSitesApiToken,
  npmAuthToken,
  anthropic,
  openai,
  huggingface,
  groq,
  linear,
  notion,
  shopify,
  grafana,
  onePassword,
  vault,
  vercel,
  databricks,
  docker,
  figma,
  cloudflare,
  tailscale,
  jwt,
  databaseUrl,
  urlBasicAuth,
  httpBasicAuth,
  bearer,
  generic,
];
