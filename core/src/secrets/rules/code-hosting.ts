/**
 * Source hosting and package registries: GitHub, GitLab, npm, PyPI, RubyGems, Docker Hub, and our
 * own API tokens.
 */

import { looksLikeTokenBody, shannonEntropy } from "../entropy.ts";
import { groupSpan, type SecretRule, stickyAt, TOKEN, tokenRule, WORD } from "./shared.ts";

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

/** GitHub App installation tokens in their JWT-like form (`ghs_<installation>_<header>.<body>.<sig>`). */
const githubAppInstallation = tokenRule({
  id: "github-app-installation-token",
  family: "github",
  description: "GitHub App installation token (ghs_<id>_…)",
  keywords: ["ghs_"],
  pattern:
    /ghs_\d{1,20}_[A-Za-z0-9_-]{10,1000}\.[A-Za-z0-9_-]{10,4000}\.[A-Za-z0-9_-]{20,1000}(?![A-Za-z0-9_-])/y,
  body: (m) => m[0].slice(m[0].lastIndexOf(".") + 1),
  window: 6100,
});

/**
 * GitLab: personal (`glpat-`, also in the routable `glpat-….xx…` form), pipeline trigger, deploy,
 * runner, CI job, feed, SCIM, feature-flag, incoming-mail, agent and OAuth application tokens, and
 * runner registration tokens (`GR1348941`).
 */
const gitlabToken = tokenRule({
  id: "gitlab-token",
  family: "gitlab",
  description:
    "GitLab access token (glpat-, glptt-, gldt-, glrt-, glcbt-, glft-, glsoat-, gloas-, GR1348941…)",
  keywords: [
    "glpat-",
    "glptt-",
    "gldt-",
    "glrt-",
    "glcbt-",
    "glft-",
    "glsoat-",
    "glffct-",
    "glimt-",
    "glagent-",
    "gloas-",
    "GR1348941",
  ],
  pattern:
    /(?:gl(?:pat|ptt|dt|rt|cbt|ft|soat|ffct|imt|agent|oas)-|GR1348941)[A-Za-z0-9_-]{20,300}(?:\.[A-Za-z0-9]{2,12}){0,2}(?![A-Za-z0-9_.-])/y,
  body: (m) => m[0].slice(m[0].startsWith("GR") ? 9 : m[0].indexOf("-") + 1),
  notAfter: TOKEN,
  window: 330,
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
 * `.npmrc` `_authToken=…`; `${NPM_TOKEN}` and other variables are how it should be written. Only in
 * `.npmrc` files and the `//registry/:_authToken=` line shape: in JS, `this._authToken=null` is a
 * property.
 */
const npmAuthToken: SecretRule = {
  id: "npm-auth-token",
  family: "npm",
  severity: "block",
  description: ".npmrc _authToken= with a literal token",
  keywords: ["_authToken="],
  lookback: 1,
  window: 520,
  find(w) {
    const npmrc = /(?:^|\/)\.?npmrc$/i.test(w.path) || w.text.charCodeAt(w.at - 1) === 0x3a; /* `:` */
    if (!npmrc) return undefined;
    const m = stickyAt(/_authToken=([^\s$"'`][^\s"'`]{15,500})/y, w);
    if (!m || !looksLikeTokenBody(m[1] ?? "")) return undefined;
    return groupSpan(w, m, 1);
  },
};

const pypi = tokenRule({
  id: "pypi-token",
  family: "pypi",
  description: "PyPI upload token (pypi-AgEIcHlwaS5vcmc…)",
  keywords: ["pypi-AgEIcHlwaS5vcmc"],
  pattern: /pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,1000}(?![A-Za-z0-9_-])/y,
  notAfter: TOKEN,
  window: 1030,
});

const rubygems = tokenRule({
  id: "rubygems-token",
  family: "rubygems",
  description: "RubyGems API key (rubygems_)",
  keywords: ["rubygems_"],
  pattern: /rubygems_[a-f0-9]{48}(?![A-Za-z0-9])/y,
  window: 60,
});

const docker = tokenRule({
  id: "docker-hub-pat",
  family: "docker",
  description: "Docker Hub personal access token (dckr_pat_)",
  keywords: ["dckr_pat_"],
  pattern: /dckr_pat_[A-Za-z0-9_-]{27}(?![A-Za-z0-9_-])/y,
  window: 40,
});

/**
 * Our own API tokens (control/src/auth/api-tokens.ts): `ms_` + 52 lowercase base32 characters
 * (32 random bytes). A bundle that carries one hands its tenant's publish rights to every viewer.
 */
const miniSitesApiToken: SecretRule = {
  id: "mini-sites-api-token",
  family: "mini-sites",
  severity: "block",
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
    return groupSpan(w, m, 0);
  },
};

export const CODE_HOSTING_RULES: readonly SecretRule[] = [
  githubAppInstallation,
  githubToken,
  githubFineGrained,
  gitlabToken,
  npmToken,
  miniSitesApiToken,
  npmAuthToken,
  pypi,
  rubygems,
  docker,
];
