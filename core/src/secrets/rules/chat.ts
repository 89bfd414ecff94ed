/**
 * Chat: Slack, Discord, Microsoft Teams and Telegram tokens and webhooks. A webhook URL is a
 * credential: anyone who has it posts as the integration.
 */

import { isIn, type SecretRule, stickyAt, TOKEN, tokenRule } from "./shared.ts";

/**
 * Slack tokens: `xoxb-{team}-{bot}-{secret}`, `xoxp-{…}-{…}-{…}-{hex}`, `xapp-1-{app}-{n}-{hex}`,
 * configuration tokens `xoxe.xoxp-1-…`. One bounded run of `[A-Za-z0-9-]`, then split in code (a
 * `(?:seg-)+` regex would nest quantifiers): ≥ 3 segments after the prefix, ≥ 6 digits (team and
 * user ids are numeric), and a last segment of ≥ 8 chars that looks random
 * (`xoxb-your-token-here` fails all three).
 */
const slackToken = tokenRule({
  id: "slack-token",
  family: "slack",
  description: "Slack bot, user, app, workspace or refresh token (xoxb-, xoxp-, xapp-, …)",
  keywords: ["xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxr-", "xoxs-", "xoxe-", "xoxe.", "xapp-"],
  pattern: /x(?:ox[abeoprs]|app)[-.][A-Za-z0-9.-]{10,250}(?![A-Za-z0-9-])/y,
  body: (m) => m[0].slice(m[0].lastIndexOf("-") + 1),
  validate(m) {
    const segments = m[0].split("-");
    const last = segments[segments.length - 1] ?? "";
    return segments.length >= 3 && last.length >= 8 && m[0].replace(/\D/g, "").length >= 6;
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

/** Discord webhooks: `discord.com/api/webhooks/<snowflake>/<68-char token>` (also discordapp.com). */
const discordWebhook = tokenRule({
  id: "discord-webhook",
  family: "discord",
  description: "Discord webhook URL (discord.com/api/webhooks/…)",
  keywords: ["discord.com/api/webhooks/", "discordapp.com/api/webhooks/"],
  pattern: /discord(?:app)?\.com\/api\/webhooks\/\d{17,20}\/[A-Za-z0-9_-]{60,80}(?![A-Za-z0-9_-])/y,
  body: (m) => m[0].slice(m[0].lastIndexOf("/") + 1),
  notAfter: "",
  window: 140,
});

/** Microsoft Teams incoming webhooks (`….webhook.office.com/webhookb2/<uuid>@<uuid>/IncomingWebhook/…`). */
const teamsWebhook = tokenRule({
  id: "microsoft-teams-webhook",
  family: "microsoft-teams",
  description: "Microsoft Teams incoming webhook URL",
  keywords: [".webhook.office.com/webhookb2/"],
  pattern:
    /\.webhook\.office\.com\/webhookb2\/[a-f0-9-]{36}@[a-f0-9-]{36}\/IncomingWebhook\/[A-Za-z0-9]{32}\/[a-f0-9-]{36}(?:\/[A-Za-z0-9_-]{20,80})?/y,
  body: (m) => m[0].split("/")[4] ?? "",
  notAfter: "",
  window: 240,
});

/**
 * Telegram bot tokens: the bot id (8–10 digits), `:`, then 35 characters whose first two are `AA`
 * (the secret's version byte). The keyword is `:AA`; the digits before it are part of the match.
 */
const TELEGRAM_SECRET = /:AA[A-Za-z0-9_-]{33}(?![A-Za-z0-9_-])/y;

const telegram: SecretRule = {
  id: "telegram-bot-token",
  family: "telegram",
  severity: "block",
  description: "Telegram bot token (<bot id>:AA…)",
  keywords: [":AA"],
  notAfter: "",
  lookback: 15,
  window: 40,
  find(w) {
    let i = w.at;
    while (i > w.at - 11 && i > 0 && (w.text.charCodeAt(i - 1) ^ 0x30) < 10) i--;
    const digits = w.at - i;
    if (digits < 8 || digits > 10) return undefined;
    // The token follows a boundary, or `bot` in the Bot API's URLs (`api.telegram.org/bot<token>/`).
    if (isIn(TOKEN, w.text.charCodeAt(i - 1)) && w.text.slice(i - 4, i).toLowerCase() !== "/bot")
      return undefined;
    const found = stickyAt(TELEGRAM_SECRET, w);
    if (found === null) return undefined;
    const secret = found[0].slice(3);
    if (!/[A-Z]/.test(secret) || !/[a-z]/.test(secret) || !/\d/.test(secret)) return undefined;
    return { start: w.offset + i, end: w.offset + w.at + found[0].length };
  },
};

export const CHAT_RULES: readonly SecretRule[] = [
  slackToken,
  slackWebhook,
  discordWebhook,
  teamsWebhook,
  telegram,
];
