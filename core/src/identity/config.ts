/**
 * The deployment identity (DESIGN §4): which secret every key of this deployment is derived from.
 *
 * - Shared identity (recommended): `APP_PID` (public, a `[vars]` value) + `APP_PSK` (secret). Keys are
 *   HKDF-SHA256(APP_PSK, salt bound to APP_PID, info = purpose label + key version), so every sibling
 *   Worker built from the same pair derives the same keys byte for byte, by construction.
 * - Legacy (APP_PSK unset): `K_GRANT` is the grant key itself, unchanged from single-deployment setups.
 * - Rotation: `APP_PSK_PREVIOUS` / `K_GRANT_PREVIOUS` hold the secret being retired; keys derived
 *   from it still verify during the overlap window and never sign.
 *
 * Threats: a weak secret (its public key ids let anyone test guesses offline, so < 32 bytes is
 * refused); a missing secret (must fail closed — every request 401 — and say which variable is
 * missing, never fall back to a default key); leaking the secret (it lives in private fields, so
 * `JSON.stringify`, `console.log` and error messages cannot show it).
 */

import { KEY_PURPOSE, type KeyPurpose, keyLabel } from "./purposes.ts";

/**
 * How a secret string becomes key bytes: the UTF-8 encoding of the string with leading and trailing
 * whitespace removed — nothing else. Why not decode hex or base64: a string that is valid hex is often
 * also valid base64 with a different decoding, so auto-detection is a guess, and the single most
 * likely operational failure is sibling Workers (or `doctor`, or a script) disagreeing about the key
 * bytes. UTF-8 has one answer everywhere and accepts what operators actually generate:
 * `openssl rand -base64 32` (44 characters, 256 bits) or `openssl rand -hex 32` (64 characters).
 * Why trim: `echo "$S" | wrangler secret put` stores a trailing newline, typing it at the prompt does
 * not; trimming keeps those two Workers equal. A generated secret has no meaningful edge whitespace.
 */
export function secretToBytes(value: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(value.trim()) as Uint8Array<ArrayBuffer>;
}

/**
 * Counted in bytes after `secretToBytes`. Length cannot measure entropy — a 32-character phrase
 * passes — so the docs say to generate the secret; 32 characters of hex or base64 already carry
 * 128–192 bits, beyond offline guessing from a published key id.
 */
export const MIN_SECRET_BYTES = 32;

/** Longest `APP_PID` accepted: an id, not a document. */
export const MAX_APP_PID_LENGTH = 128;

export type IdentityVariable = "APP_PID" | "APP_PSK" | "APP_PSK_PREVIOUS" | "K_GRANT" | "K_GRANT_PREVIOUS";

/** What a Worker's env offers; bindings of other types are read as unset. */
export type IdentityEnv = { readonly [K in IdentityVariable]?: unknown };

export const IDENTITY_ERROR_CODES = [
  /** No secret at all: neither APP_PSK nor K_GRANT. Serve fails closed. */
  "IDENTITY_SECRET_MISSING",
  /** APP_PSK is set but APP_PID is not: the HKDF salt would be unbound. */
  "IDENTITY_PID_MISSING",
  /** A secret shorter than MIN_SECRET_BYTES. */
  "IDENTITY_SECRET_WEAK",
  /** APP_PID with whitespace, control characters or over MAX_APP_PID_LENGTH. */
  "IDENTITY_PID_INVALID",
] as const;

export type IdentityErrorCode = (typeof IDENTITY_ERROR_CODES)[number];

export interface IdentityProblem {
  readonly code: IdentityErrorCode;
  /** The variables to set or fix, in the order an operator should look at them. */
  readonly variables: readonly IdentityVariable[];
  /** Says which variable and what to do; never contains secret material. */
  readonly message: string;
}

/**
 * The three states a Worker can be in. `missing` is distinct from `invalid` so the dispatch Worker
 * fails closed quietly on an unconfigured deployment while start-up checks refuse a weak secret loudly.
 */
export type IdentityState =
  | { readonly status: "ready"; readonly identity: DeploymentIdentity }
  | ({ readonly status: "missing" } & IdentityProblem)
  | ({ readonly status: "invalid" } & IdentityProblem);

/** Thrown by `requireIdentity` at start-up; carries the same code and variables as the state. */
export class IdentityConfigError extends Error {
  readonly code: IdentityErrorCode;
  readonly variables: readonly IdentityVariable[];
  constructor(problem: IdentityProblem) {
    super(`${problem.code}: ${problem.message}`);
    this.name = "IdentityConfigError";
    this.code = problem.code;
    this.variables = problem.variables;
  }
}

export type IdentityMode = "shared" | "legacy";

/** Salt for HKDF in shared mode: bound to APP_PID, so two deployments sharing a PSK by mistake still differ. */
function sharedSalt(appPid: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`mini-sites/app-pid/${appPid}`) as Uint8Array<ArrayBuffer>;
}

/** Legacy mode has no APP_PID; keys other than the grant key are derived from K_GRANT under this salt. */
const LEGACY_SALT = new TextEncoder().encode("mini-sites/legacy/k-grant");

export type KeyGeneration = "current" | "previous";

/**
 * One deployment's secrets, held in private fields. Derives raw key bytes per purpose; callers import
 * them once as CryptoKeys (see keyring.ts) and keep the CryptoKeys, not the bytes.
 */
export class DeploymentIdentity {
  readonly mode: IdentityMode;
  /** The public id in shared mode; `undefined` in legacy mode. */
  readonly appPid: string | undefined;
  /** Variables that were set but are ignored (e.g. K_GRANT next to APP_PSK), for `doctor`. */
  readonly ignored: readonly IdentityVariable[];
  readonly #current: Uint8Array<ArrayBuffer>;
  readonly #previous: Uint8Array<ArrayBuffer> | undefined;

  constructor(args: {
    mode: IdentityMode;
    appPid: string | undefined;
    current: Uint8Array<ArrayBuffer>;
    previous: Uint8Array<ArrayBuffer> | undefined;
    ignored: readonly IdentityVariable[];
  }) {
    this.mode = args.mode;
    this.appPid = args.appPid;
    this.ignored = args.ignored;
    this.#current = args.current.slice();
    this.#previous = args.previous?.slice();
  }

  get hasPrevious(): boolean {
    return this.#previous !== undefined;
  }

  /**
   * Raw key bytes for one purpose and key version, from the current or the previous secret
   * (`undefined` when there is no previous secret). Legacy grant keys are K_GRANT itself whatever
   * the version: a legacy deployment rotates by moving K_GRANT to K_GRANT_PREVIOUS.
   */
  async deriveKey(
    purpose: KeyPurpose,
    options: { version?: number; generation?: KeyGeneration } = {},
  ): Promise<Uint8Array<ArrayBuffer> | undefined> {
    const secret = options.generation === "previous" ? this.#previous : this.#current;
    if (secret === undefined) return undefined;
    const info = new TextEncoder().encode(keyLabel(purpose, options.version ?? 1));
    if (this.mode === "legacy" && purpose === KEY_PURPOSE.grant) return secret.slice();
    const salt = this.mode === "shared" ? sharedSalt(this.appPid as string) : LEGACY_SALT;
    const ikm = await crypto.subtle.importKey("raw", secret, "HKDF", false, ["deriveBits"]);
    const bits = await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, ikm, 256);
    return new Uint8Array(bits);
  }

  /** What logs and JSON may show. */
  toJSON(): { mode: IdentityMode; appPid: string | null; hasPrevious: boolean } {
    return { mode: this.mode, appPid: this.appPid ?? null, hasPrevious: this.hasPrevious };
  }

  toString(): string {
    return `DeploymentIdentity(${this.mode}${this.appPid ? ` ${this.appPid}` : ""})`;
  }
}

function readVar(env: IdentityEnv, name: IdentityVariable): string | undefined {
  const value = env[name];
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}

function weak(variable: IdentityVariable, bytes: number): IdentityState {
  return {
    status: "invalid",
    code: "IDENTITY_SECRET_WEAK",
    variables: [variable],
    message:
      `${variable} is ${bytes} bytes; at least ${MIN_SECRET_BYTES} are required, because key ids are public and ` +
      `would let anyone test guesses of a short secret offline. Generate one with \`openssl rand -base64 32\`.`,
  };
}

/** Reads the identity from a Worker env (or `process.env`). Never throws; never returns secret material. */
export function readIdentity(env: IdentityEnv): IdentityState {
  const psk = readVar(env, "APP_PSK");
  const pskPrevious = readVar(env, "APP_PSK_PREVIOUS");
  const kGrant = readVar(env, "K_GRANT");
  const kGrantPrevious = readVar(env, "K_GRANT_PREVIOUS");
  const shared = psk !== undefined;
  const currentVar: IdentityVariable = shared ? "APP_PSK" : "K_GRANT";
  const previousVar: IdentityVariable = shared ? "APP_PSK_PREVIOUS" : "K_GRANT_PREVIOUS";
  const currentText = shared ? psk : kGrant;
  const previousText = shared ? pskPrevious : kGrantPrevious;

  if (currentText === undefined) {
    return {
      status: "missing",
      code: "IDENTITY_SECRET_MISSING",
      variables: ["APP_PSK", "K_GRANT"],
      message:
        "No deployment secret is set, so no grant can be made or verified and every request is refused. " +
        "Set APP_PSK (with APP_PID) on every Worker of the deployment: `wrangler secret put APP_PSK`.",
    };
  }

  let appPid: string | undefined;
  if (shared) {
    const pid = typeof env.APP_PID === "string" ? env.APP_PID.trim() : "";
    if (pid === "") {
      return {
        status: "missing",
        code: "IDENTITY_PID_MISSING",
        variables: ["APP_PID"],
        message:
          "APP_PSK is set but APP_PID is not; set the same APP_PID [vars] value on every Worker of the deployment.",
      };
    }
    if (pid.length > MAX_APP_PID_LENGTH || !/^[\x21-\x7e]+$/.test(pid)) {
      return {
        status: "invalid",
        code: "IDENTITY_PID_INVALID",
        variables: ["APP_PID"],
        message: `APP_PID must be 1–${MAX_APP_PID_LENGTH} printable ASCII characters without spaces.`,
      };
    }
    appPid = pid;
  }

  const current = secretToBytes(currentText);
  if (current.length < MIN_SECRET_BYTES) return weak(currentVar, current.length);
  const previous = previousText === undefined ? undefined : secretToBytes(previousText);
  if (previous !== undefined && previous.length < MIN_SECRET_BYTES) return weak(previousVar, previous.length);

  const ignored: IdentityVariable[] = [];
  if (shared && kGrant !== undefined) ignored.push("K_GRANT");
  if (shared && kGrantPrevious !== undefined) ignored.push("K_GRANT_PREVIOUS");
  if (!shared && pskPrevious !== undefined) ignored.push("APP_PSK_PREVIOUS");

  return {
    status: "ready",
    identity: new DeploymentIdentity({
      mode: shared ? "shared" : "legacy",
      appPid,
      current,
      previous,
      ignored,
    }),
  };
}

/** For start-up code that should refuse to run misconfigured (control Worker, CLI, dev stack). */
export function requireIdentity(env: IdentityEnv): DeploymentIdentity {
  const state = readIdentity(env);
  if (state.status === "ready") return state.identity;
  throw new IdentityConfigError(state);
}
