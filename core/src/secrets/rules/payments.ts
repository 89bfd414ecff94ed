/**
 * Payments and commerce: Stripe, Square, PayPal Braintree, Shopify, Flutterwave. Publishable keys
 * (Stripe `pk_`, Square application ids) are meant for the browser and are not matched.
 */

import { type SecretRule, TOKEN, tokenRule } from "./shared.ts";

/**
 * Stripe secret and restricted keys, live and test (a test key reads and writes the account's
 * test-mode data), and webhook signing secrets. Stripe's documentation keys, shown to every reader
 * of the docs, are ignored.
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

const stripeWebhookSecret = tokenRule({
  id: "stripe-webhook-secret",
  family: "stripe",
  description: "Stripe webhook signing secret (whsec_)",
  keywords: ["whsec_"],
  pattern: /whsec_[A-Za-z0-9+/]{32,88}={0,2}(?![A-Za-z0-9+/=])/y,
  window: 100,
});

const square = tokenRule({
  id: "square-token",
  family: "square",
  description: "Square access token or OAuth secret (sq0atp-, sq0csp-)",
  keywords: ["sq0atp-", "sq0csp-"],
  pattern: /sq0(?:atp|csp)-[A-Za-z0-9_-]{22,60}(?![A-Za-z0-9_-])/y,
  notAfter: TOKEN,
  window: 70,
});

/** Braintree (PayPal) access tokens: `access_token$production$<merchant>$<32 hex>`. */
const braintree = tokenRule({
  id: "braintree-access-token",
  family: "paypal",
  description: "PayPal Braintree access token (access_token$production$…)",
  keywords: ["access_token$"],
  pattern: /access_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32}(?![0-9a-f])/y,
  body: (m) => m[0].slice(m[0].lastIndexOf("$") + 1),
  notAfter: TOKEN,
  window: 90,
});

const shopify = tokenRule({
  id: "shopify-token",
  family: "shopify",
  description: "Shopify access token or shared secret (shpat_, shpca_, shppa_, shpss_)",
  keywords: ["shpat_", "shpca_", "shppa_", "shpss_"],
  pattern: /shp(?:at|ca|pa|ss)_[A-Za-z0-9]{32,64}(?![A-Za-z0-9])/y,
  window: 72,
});

const flutterwave = tokenRule({
  id: "flutterwave-secret-key",
  family: "flutterwave",
  description: "Flutterwave secret key (FLWSECK-, FLWSECK_TEST-)",
  keywords: ["FLWSECK"],
  pattern: /FLWSECK(?:_TEST)?-[a-hA-H0-9]{32}-X(?![A-Za-z0-9])/y,
  body: (m) => m[0].slice(m[0].indexOf("-") + 1, -2),
  window: 50,
});

export const PAYMENT_RULES: readonly SecretRule[] = [
  stripeKey,
  stripeWebhookSecret,
  square,
  braintree,
  shopify,
  flutterwave,
];
