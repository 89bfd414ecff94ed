/**
 * Developer platforms and SaaS APIs with a recognisable token prefix: Linear, Notion, Atlassian,
 * Grafana, Sentry, 1Password, HashiCorp Vault and Terraform, Vercel, Fly.io, Render, Supabase, PlanetScale, Databricks, Figma, Cloudflare, Tailscale, Postman, Doppler, Pulumi, New
 * Relic, Airtable, Age.
 */

import { type SecretRule, TOKEN, tokenRule } from "./shared.ts";

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

const atlassian = tokenRule({
  id: "atlassian-api-token",
  family: "atlassian",
  description: "Atlassian API token (ATATT3…)",
  keywords: ["ATATT3"],
  pattern: /ATATT3[A-Za-z0-9_=-]{180,200}(?![A-Za-z0-9_=-])/y,
  notAfter: TOKEN,
  window: 210,
});

const grafana = tokenRule({
  id: "grafana-token",
  family: "grafana",
  description: "Grafana Cloud API token (glc_), service account token (glsa_) or API key (eyJrIjoi…)",
  keywords: ["glc_", "glsa_", "eyJrIjoi"],
  pattern:
    /(?:glc_[A-Za-z0-9+/]{32,400}={0,2}(?![A-Za-z0-9+/=])|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}(?![A-Za-z0-9])|eyJrIjoi[A-Za-z0-9]{70,400}={0,3}(?![A-Za-z0-9=]))/y,
  window: 410,
});

const sentry = tokenRule({
  id: "sentry-token",
  family: "sentry",
  description: "Sentry organisation or user auth token (sntrys_, sntryu_)",
  keywords: ["sntrys_", "sntryu_"],
  pattern: /sntry(?:u_[a-f0-9]{64}(?![A-Za-z0-9])|s_eyJ[A-Za-z0-9+/=_]{60,500}(?![A-Za-z0-9+/=_]))/y,
  window: 520,
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

const terraformCloud = tokenRule({
  id: "terraform-cloud-token",
  family: "hashicorp-vault",
  description: "HCP Terraform / Terraform Cloud API token (….atlasv1.…)",
  keywords: [".atlasv1."],
  pattern: /\.atlasv1\.[A-Za-z0-9_=-]{60,80}(?![A-Za-z0-9_=-])/y,
  notAfter: "",
  window: 90,
});

const vercel = tokenRule({
  id: "vercel-token",
  family: "vercel",
  description: "Vercel access token (vcp_, vci_, vca_, vcr_, vck_)",
  keywords: ["vcp_", "vci_", "vca_", "vcr_", "vck_"],
  pattern: /vc[picrk]_[A-Za-z0-9]{20,60}(?![A-Za-z0-9])/y,
  window: 66,
});

const flyio = tokenRule({
  id: "flyio-token",
  family: "flyio",
  description: "Fly.io access token (fo1_, fm1a_, fm1r_, fm2_)",
  keywords: ["fo1_", "fm1a_", "fm1r_", "fm2_"],
  pattern:
    /f(?:o1_[A-Za-z0-9_-]{43}|m1[ar]_[A-Za-z0-9+/]{100,1000}={0,3}|m2_[A-Za-z0-9+/]{100,1000}={0,3})(?![A-Za-z0-9+/=_-])/y,
  window: 1010,
});

const render = tokenRule({
  id: "render-api-key",
  family: "render",
  description: "Render API key (rnd_)",
  keywords: ["rnd_"],
  pattern: /rnd_[A-Za-z0-9]{32}(?![A-Za-z0-9])/y,
  window: 40,
});

const supabase = tokenRule({
  id: "supabase-secret",
  family: "supabase",
  description: "Supabase personal access token (sbp_) or secret API key (sb_secret_)",
  keywords: ["sbp_", "sb_secret_"],
  pattern: /sb(?:p_[a-f0-9]{40}|_secret_[A-Za-z0-9_-]{30,64})(?![A-Za-z0-9_-])/y,
  window: 75,
});

const planetscale = tokenRule({
  id: "planetscale-token",
  family: "planetscale",
  description:
    "PlanetScale service token, OAuth token or database password (pscale_tkn_, pscale_oauth_, pscale_pw_)",
  keywords: ["pscale_tkn_", "pscale_oauth_", "pscale_pw_"],
  pattern: /pscale_(?:tkn|oauth|pw)_[A-Za-z0-9_=.-]{32,64}(?![A-Za-z0-9_=.-])/y,
  window: 80,
});

const databricks = tokenRule({
  id: "databricks-token",
  family: "databricks",
  description: "Databricks personal access token (dapi + 32 hex)",
  keywords: ["dapi"],
  pattern: /dapi[a-f0-9]{32}(?:-\d)?(?![A-Za-z0-9])/y,
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

const postman = tokenRule({
  id: "postman-api-key",
  family: "postman",
  description: "Postman API key (PMAK-)",
  keywords: ["PMAK-"],
  pattern: /PMAK-[a-f0-9]{24}-[a-f0-9]{34}(?![A-Za-z0-9])/y,
  notAfter: TOKEN,
  window: 66,
});

const doppler = tokenRule({
  id: "doppler-token",
  family: "doppler",
  description: "Doppler token (dp.pt., dp.st., dp.sa., dp.ct., dp.scim., dp.audit.)",
  keywords: ["dp.pt.", "dp.st.", "dp.sa.", "dp.ct.", "dp.scim.", "dp.audit."],
  pattern: /dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9_]{40,50}(?![A-Za-z0-9_])/y,
  notAfter: TOKEN,
  window: 62,
});

const pulumi = tokenRule({
  id: "pulumi-access-token",
  family: "pulumi",
  description: "Pulumi access token (pul-)",
  keywords: ["pul-"],
  pattern: /pul-[a-f0-9]{40}(?![A-Za-z0-9])/y,
  notAfter: TOKEN,
  window: 46,
});

const newRelic = tokenRule({
  id: "new-relic-key",
  family: "new-relic",
  description: "New Relic user API key or insert key (NRAK-, NRII-)",
  keywords: ["NRAK-", "NRII-"],
  pattern: /NR(?:AK-[A-Z0-9]{27}|II-[A-Za-z0-9_-]{32})(?![A-Za-z0-9_-])/y,
  notAfter: TOKEN,
  window: 40,
});

const airtable = tokenRule({
  id: "airtable-token",
  family: "airtable",
  description: "Airtable personal access token (pat…. + 64 hex)",
  keywords: ["pat"],
  // `pat` starts `path` and `pattern` everywhere: the `.` 14 characters on is checked on bytes first.
  precheck: (bytes, after) => bytes[after + 14] === 0x2e,
  pattern: /pat[A-Za-z0-9]{14}\.[a-f0-9]{64}(?![A-Za-z0-9])/y,
  body: (m) => m[0].slice(m[0].indexOf(".") + 1),
  window: 84,
});

const age = tokenRule({
  id: "age-secret-key",
  family: "age",
  description: "age encryption secret key (AGE-SECRET-KEY-1…)",
  keywords: ["AGE-SECRET-KEY-1"],
  pattern: /AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}(?![A-Za-z0-9])/y,
  notAfter: TOKEN,
  window: 76,
});

export const PLATFORM_RULES: readonly SecretRule[] = [
  linear,
  notion,
  atlassian,
  grafana,
  sentry,
  onePassword,
  vault,
  terraformCloud,
  vercel,
  flyio,
  render,
  supabase,
  planetscale,
  databricks,
  figma,
  cloudflare,
  tailscale,
  postman,
  doppler,
  pulumi,
  newRelic,
  airtable,
  age,
];
