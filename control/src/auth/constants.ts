/**
 * Every number the authentication code relies on, each with the reason for its value. Changing one
 * changes a security property; the reason says which.
 */

// --- Forge Invocation Tokens --------------------------------------------------------------------

/** Forge's production key set (DESIGN §6 invariant 2). `FORGE_JWKS_URL` overrides it (dev stand-in). */
export const FORGE_PRODUCTION_JWKS_URL = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json";

/** The `iss` of every FIT (Forge remote contract, developer.atlassian.com/platform/forge/remote/essentials). */
export const FORGE_FIT_ISSUER = "forge/invocation-token";

/**
 * A FIT's `aud` and `app.id` are the app's ARI, `ari:cloud:ecosystem::app/<uuid>` — the same form the
 * Forge invocation-context API returns for `app.id` (developer.atlassian.com/platform/forge/rest/v2/
 * api-group-forge-context). `ALLOWED_FORGE_APP_IDS` may list either the bare id or the ARI.
 */
export const FORGE_APP_ARI_PREFIX = "ari:cloud:ecosystem::app/";
export const FORGE_INSTALLATION_ARI_PREFIX = "ari:cloud:ecosystem::installation/";

/**
 * RS256 only. Forge signs FITs with RSA keys; accepting any other `alg` would open the classic JWT
 * attacks: `none` (no signature), HS256 keyed with the RSA public key (HS/RS confusion — the public
 * key is public, so anyone could sign), and ES/PS variants we have never seen Forge use. jose checks
 * `alg` against this list before it looks up a key (jose docs, `JWTVerifyOptions.algorithms`).
 */
export const FIT_ALGORITHMS = ["RS256"] as const;

/**
 * 16 KiB. A FIT travels in the Authorization header and carries the module's context, which Forge
 * itself says can grow "large enough to exceed individual or combined header limit sizes in common
 * infrastructure" (Forge RFC-138, community.developer.atlassian.com, June 2026). A Confluence macro
 * FIT (app, environment, page, space, principal) is a few KiB; 16 KiB is several times that, so a
 * large context is never refused. The cap exists because everything before the signature check
 * (base64 decoding, JSON parsing of the header, an RSA verification) is work an anonymous caller can
 * make us do, and a bigger token buys an attacker nothing but more of it.
 */
export const MAX_FIT_BYTES = 16 * 1024;

/**
 * 60 s either side for `exp`, `nbf` and `iat` (jose `clockTolerance`). Forge's clock and the Worker's
 * are both NTP-disciplined; a minute absorbs skew and request latency without meaningfully extending a
 * token's life.
 */
export const FIT_CLOCK_TOLERANCE_SECONDS = 60;

/**
 * A ceiling on `now - iat` (jose `maxTokenAge`), independent of `exp`. FITs live minutes; the exact
 * lifetime is not documented in a page we could cite, so this is a generous ceiling, not a tight one:
 * it bounds the replay window of a leaked FIT even if a token ever carried a far-future `exp`.
 */
export const MAX_FIT_AGE_SECONDS = 60 * 60;

/**
 * Cached keys are trusted for 10 minutes (jose's own default `cacheMaxAge`; jose docs,
 * RemoteJWKSetOptions). This is both how long a key Forge removes from its key set stays trusted here
 * and how long a running isolate survives a key-set outage; after it, verification fails closed.
 */
export const JWKS_CACHE_MAX_AGE_MS = 10 * 60 * 1000;

/**
 * After a successful fetch, a token naming an unknown `kid` does not trigger another fetch for 30 s
 * (jose `cooldownDuration`, also its default). Anyone can put any `kid` in a token, so without this
 * each forged token would make us fetch Forge's key set: a refetch storm driven by attackers. Key
 * rotation still works: a genuinely new key is fetched at most 30 s after its first use.
 */
export const JWKS_REFETCH_COOLDOWN_MS = 30 * 1000;

/**
 * After a FAILED fetch, no new fetch for 5 s: every request in that window is denied at once with
 * AUTH_JWKS_UNAVAILABLE. jose's cooldown only starts after a success, and on Workers jose does not
 * share one in-flight fetch between requests, so without this an outage would turn every incoming
 * request into an outgoing fetch (amplifying the outage, DESIGN §6 invariant 9).
 */
export const JWKS_FAILURE_COOLDOWN_MS = 5 * 1000;

/**
 * 3 s to fetch the key set (jose `timeoutDuration`). Forge gives a UI remote call 25 s in total
 * (Forge remote contract); a hung CDN must not eat that budget.
 */
export const JWKS_FETCH_TIMEOUT_MS = 3 * 1000;

/** A key set larger than 64 KiB is refused unread: Forge's holds a few RSA keys (~0.5 KiB each). */
export const MAX_JWKS_BYTES = 64 * 1024;

/** Longest id-like claim we accept (app, installation, cloud, content ids, account ids, keys). */
export const MAX_CLAIM_ID_LENGTH = 256;

// --- API tokens ---------------------------------------------------------------------------------

/** `ms_` marks our tokens for people and for secret scanners (the same idea as GitHub's `ghp_`). */
export const API_TOKEN_PREFIX = "ms_";

/**
 * 32 random bytes = 256 bits. At that entropy neither online nor offline guessing is possible, which
 * is what lets the store keep a plain SHA-256 of the token (see api-tokens.ts).
 */
export const API_TOKEN_SECRET_BYTES = 32;

/**
 * The first characters shown in lists so people can tell tokens apart: the prefix plus 8 base32
 * characters (40 bits). That leaves 216 secret bits, still far beyond guessing.
 */
export const API_TOKEN_DISPLAY_CHARS = 8;

// --- Shared secret ------------------------------------------------------------------------------

export const SHARED_SECRET_HEADER = "x-mini-sites-secret";

/** A presented header longer than this is refused unhashed (the configured secret is 32–256 bytes). */
export const MAX_SHARED_SECRET_HEADER_BYTES = 1024;
