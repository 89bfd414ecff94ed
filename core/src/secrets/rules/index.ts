/**
 * The secret rules (DESIGN §5), one file per provider family. Every rule is found by its keywords
 * first (scan.ts): it only ever runs on a bounded window around a keyword, with sticky regexes
 * whose quantifiers are all bounded and never nested, or on the bytes directly, so scanning is
 * linear in the input whatever it contains.
 *
 * What every rule follows — decided once, here, for all of them:
 *
 * 1. **Provider formats are found everywhere.** A token with a provider's prefix and exact shape
 *    (`ghp_` + 36, `sk_live_…`, `xoxb-…`, a PEM key with valid DER, a JWT whose signature fits its
 *    algorithm) is reported in code, strings, comments, Markdown and HTML alike: a real key pasted
 *    into a comment is served to every viewer as surely as one in code. What keeps documentation
 *    samples out is the value, never the place: a placeholder body (`ghp_XXXX…`, `<token>`,
 *    `your_key_here`), a low-entropy run, a known documentation key (AWS's `…EXAMPLE`, Stripe's
 *    docs keys, jwt.io's sample, the Azurite key) is not a secret.
 *
 * 2. **Weak shapes need a machine-made value in comments and documentation.** Generic assignments
 *    (`token: "…"`), `Authorization: Basic …`, `user:password@` URLs and `Bearer …` have no prefix;
 *    documentation shows exactly these shapes with made-up values. In a comment (`//`, block comments,
 *    JSDoc ` * ` lines, `#` lines, `<!-- -->`), in an HTML `<pre>`/`<code>` block, or in a
 *    documentation file (`.md`, `.txt`, README…), their value must look machine-generated: not
 *    word-like, three character classes, the entropy of a random string (validators.ts
 *    `looksGenerated`). A generated key pasted into a comment is still found; AngularJS's
 *    `Authorization: 'Basic YmVlcDpib29w'` (beep:boop) in a JSDoc example is not.
 *
 * 3. **Dictionary words are not credentials.** A password made only of letter words (`pass`,
 *    `boop`, `open sesame`) and a generic value made of words and numbers (`markup.heading.1`,
 *    `variable-2`, `identitytoolkit#VerifyPasswordResponse`, `Failed to get token`) are examples,
 *    labels or grammar token names — everywhere, not only in comments. Issued credentials and
 *    anything a password policy accepts have digits, symbols or case changes inside a word.
 *
 * 4. **Severity.** `block` refuses the publish: the finding grants access to something. `warn` is
 *    shown to the author and never refuses: an identifier that names a key but cannot use it (AWS
 *    access key id, Twilio API key SID, Alibaba AccessKey id), or a key that is public by design
 *    (Google browser keys, `AIza…`, which Firebase and Maps ship in every page and restrict by
 *    referrer). A tenant admin can accept one `block` finding by rule and file hash (pipeline.ts);
 *    there is no switch that turns a rule off.
 *
 * Why our own rules rather than secretlint (13, recommended preset): secretlint is Node-bound — the
 * preset imports `node:path` at load, the GCP rule lazily imports `node:fs` — while this core runs
 * in Workers and browsers too; its rules run through async plugin machinery and each does its own
 * `matchAll` over the whole file (~40 full passes, no prefilter). Coverage is kept at least equal to
 * the preset's (every provider it knows has a rule here with the same token shape) and to gitleaks'
 * on the families DESIGN §5 names (cloud, VCS and chat, payments, AI providers, private keys, JWTs,
 * database URLs, generic assignments); the fixtures in core/test/fixtures/secret-fixtures.ts cover
 * every rule.
 */

import { AI_RULES } from "./ai.ts";
import { CHAT_RULES } from "./chat.ts";
import { CLOUD_RULES } from "./cloud.ts";
import { CODE_HOSTING_RULES } from "./code-hosting.ts";
import { COMMUNICATION_RULES } from "./communications.ts";
import { GENERIC_RULES } from "./generic.ts";
import { KEY_RULES } from "./keys.ts";
import { PAYMENT_RULES } from "./payments.ts";
import { PLATFORM_RULES } from "./platforms.ts";
import type { SecretRule } from "./shared.ts";
import { URL_RULES } from "./urls.ts";

export type { ByteInput, RuleMatch, RuleWindow, SecretRule, Severity } from "./shared.ts";

/**
 * All rules, in priority order: when two findings overlap, the earlier rule's is kept, so the most
 * specific explanation wins (a service-account key is `gcp-service-account`, not `private-key`; a
 * JWT after `Bearer ` is `jwt`; a `ghp_` token in `token: "…"` is `github-token`). Provider rules
 * come before the shape rules (URLs, headers) and the generic assignment comes last.
 */
export const SECRET_RULES: readonly SecretRule[] = [
  ...CLOUD_RULES,
  ...KEY_RULES,
  ...CODE_HOSTING_RULES,
  ...CHAT_RULES,
  ...PAYMENT_RULES,
  ...COMMUNICATION_RULES,
  ...AI_RULES,
  ...PLATFORM_RULES,
  ...URL_RULES,
  ...GENERIC_RULES,
];
