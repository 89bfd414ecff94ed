/**
 * AI providers: OpenAI, Anthropic, Hugging Face, Groq, Perplexity, xAI, Replicate. A browser that
 * holds one of these keys can spend the owner's money, so every one of them blocks.
 */

import { charClasses, shannonEntropy } from "../entropy.ts";
import { type SecretRule, TOKEN, tokenRule } from "./shared.ts";

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
    /sk-(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{40,250}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})(?![A-Za-z0-9_-])/y,
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
 * Hugging Face user tokens (`hf_` + 34 letters) and organisation tokens (`api_org_` + 34).
 * Letters-only runs are also identifiers (`hf_getModelConfig…`), so the body must be mixed case the
 * way random letters are: ≥ 8 upper and ≥ 8 lower of 34 (random: ~17 each; P(< 8) ≈ 0.1%) and
 * ≥ 4.0 bits/char.
 */
const huggingface = tokenRule({
  id: "huggingface-token",
  family: "huggingface",
  description: "Hugging Face access token (hf_, api_org_)",
  keywords: ["hf_", "api_org_"],
  pattern: /(?:hf|api_org)_[A-Za-z0-9]{34,40}(?![A-Za-z0-9_])/y,
  validate(m) {
    const body = m[0].slice(m[0].lastIndexOf("_") + 1);
    const c = charClasses(body);
    return c.upper >= 8 && c.lower >= 8 && shannonEntropy(body) >= 4.0;
  },
  window: 50,
});

const groq = tokenRule({
  id: "groq-api-key",
  family: "groq",
  description: "Groq API key (gsk_)",
  keywords: ["gsk_"],
  pattern: /gsk_[A-Za-z0-9]{52}(?![A-Za-z0-9])/y,
  window: 58,
});

const perplexity = tokenRule({
  id: "perplexity-api-key",
  family: "perplexity",
  description: "Perplexity API key (pplx-)",
  keywords: ["pplx-"],
  pattern: /pplx-[A-Za-z0-9]{48}(?![A-Za-z0-9])/y,
  notAfter: TOKEN,
  window: 55,
});

const xai = tokenRule({
  id: "xai-api-key",
  family: "xai",
  description: "xAI (Grok) API key (xai-)",
  keywords: ["xai-"],
  pattern: /xai-[A-Za-z0-9]{80}(?![A-Za-z0-9])/y,
  notAfter: TOKEN,
  window: 86,
});

const replicate = tokenRule({
  id: "replicate-api-token",
  family: "replicate",
  description: "Replicate API token (r8_)",
  keywords: ["r8_"],
  pattern: /r8_[A-Za-z0-9]{37}(?![A-Za-z0-9])/y,
  window: 42,
});

export const AI_RULES: readonly SecretRule[] = [
  anthropic,
  openai,
  huggingface,
  groq,
  perplexity,
  xai,
  replicate,
];
