/**
 * `mini-sites doctor`: checks a deployment's two Workers from outside, the way an operator would
 * (DESIGN §4). The one most likely failure — a control Worker minting grants with a key its dispatch
 * Worker does not hold, so every viewer gets 401 GRANT_KEY_UNKNOWN — is decided exactly as the
 * dispatch Worker decides it: the control Worker's current grant key id must be one the dispatch Worker
 * accepts (its current or, during a rotation, its previous key).
 *
 * Everything read here is public (`/.well-known/mini-sites` on both Workers, the Forge JWKS) except the
 * namespace check, which needs the operator secret (`CONTROL_SHARED_SECRET`) and is skipped, and said
 * so, without it. Each check is one line with a fix when it fails.
 */

import http from "node:http";
import https from "node:https";

export type Verdict = "ok" | "fail" | "skipped";

export interface DoctorCheck {
  readonly id: string;
  readonly verdict: Verdict;
  /** What was found, in one line. */
  readonly summary: string;
  /** What to do, for a failure (and why a check was skipped). */
  readonly fix?: string;
}

export interface DoctorTargets {
  readonly controlUrl: string;
  /** Default: the control Worker's DISPATCH_BASE_URL. */
  readonly dispatchUrl?: string | undefined;
  /** CONTROL_SHARED_SECRET, for the namespace check. */
  readonly operatorSecret?: string | undefined;
  readonly timeoutMs?: number;
}

interface KeyIds {
  readonly current: string;
  readonly previous: string | null;
}

type IdentityReport =
  | {
      readonly status: "ready";
      readonly mode: "shared" | "legacy";
      readonly appPid: string | null;
      readonly keyIds: Readonly<Record<string, KeyIds>>;
      readonly ignored: readonly string[];
    }
  | { readonly status: "missing" | "invalid"; readonly code: string; readonly message: string };

interface ControlReport {
  readonly worker: "control";
  readonly identity: IdentityReport;
  readonly config: {
    readonly sitesDomain: string | null;
    readonly dispatchBaseUrl: string | null;
    readonly wfpNamespace: string | null;
    readonly allowedForgeAppIds: readonly string[];
    readonly forgeJwksUrl?: string;
  };
  readonly secrets: Readonly<Record<string, boolean>>;
}

interface DispatchReport {
  readonly worker: "dispatch";
  readonly identity: IdentityReport;
  readonly config: { readonly sitesDomain: string; readonly embedAncestors: readonly string[] };
}

/** Secrets a control Worker serves without: reported, never a failure. */
const OPTIONAL_SECRETS = new Set(["CONTROL_SHARED_SECRET"]);

const WELL_KNOWN = "/.well-known/mini-sites";

export async function runDoctor(targets: DoctorTargets): Promise<DoctorCheck[]> {
  const timeoutMs = targets.timeoutMs ?? 5_000;
  const checks: DoctorCheck[] = [];
  const add = (check: DoctorCheck) => checks.push(check);

  const control = await getJson(at(targets.controlUrl, WELL_KNOWN), timeoutMs);
  const controlReport =
    control.ok && isReport<ControlReport>(control.body, "control") ? control.body : undefined;
  add(
    controlReport
      ? { id: "control", verdict: "ok", summary: `control Worker answers at ${targets.controlUrl}` }
      : {
          id: "control",
          verdict: "fail",
          summary: `no control Worker report at ${at(targets.controlUrl, WELL_KNOWN)}: ${problemOf(control)}`,
          fix: "Check the URL (--control), that the Worker is deployed, and that the route reaches it.",
        },
  );

  const dispatchUrl = targets.dispatchUrl ?? controlReport?.config.dispatchBaseUrl ?? undefined;
  let dispatchReport: DispatchReport | undefined;
  if (dispatchUrl === undefined || dispatchUrl === "") {
    add({
      id: "dispatch",
      verdict: "fail",
      summary: "no dispatch Worker URL: the control Worker has no DISPATCH_BASE_URL and none was given",
      fix: "Set DISPATCH_BASE_URL in wrangler-control.toml [vars] (e.g. https://gw.<SITES_DOMAIN>), or pass --dispatch URL.",
    });
  } else {
    const dispatch = await getJson(at(dispatchUrl, WELL_KNOWN), timeoutMs);
    dispatchReport =
      dispatch.ok && isReport<DispatchReport>(dispatch.body, "dispatch") ? dispatch.body : undefined;
    add(
      dispatchReport
        ? { id: "dispatch", verdict: "ok", summary: `dispatch Worker answers at ${dispatchUrl}` }
        : {
            id: "dispatch",
            verdict: "fail",
            summary: `no dispatch Worker report at ${at(dispatchUrl, WELL_KNOWN)}: ${problemOf(dispatch)}`,
            fix: "Check DISPATCH_BASE_URL (or --dispatch), that the dispatch Worker is deployed, and its route.",
          },
    );
  }

  for (const [id, report] of [
    ["control-identity", controlReport],
    ["dispatch-identity", dispatchReport],
  ] as const) {
    if (report === undefined) continue;
    const worker = report.worker;
    add(
      report.identity.status === "ready"
        ? {
            id,
            verdict: "ok",
            summary: `${worker}: ${report.identity.mode} identity${report.identity.appPid === null ? "" : ` ${report.identity.appPid}`}, grant key ${report.identity.keyIds.grant?.current ?? "?"}${report.identity.keyIds.grant?.previous ? ` (previous ${report.identity.keyIds.grant.previous} still accepted)` : ""}${report.identity.ignored.length > 0 ? `; ignored: ${report.identity.ignored.join(", ")}` : ""}`,
          }
        : {
            id,
            verdict: "fail",
            summary: `${worker}: ${report.identity.code}: ${report.identity.message}`,
            fix: `Set APP_PID in the ${worker} Worker's [vars] and APP_PSK with \`npx wrangler secret put APP_PSK -c ${worker}/wrangler-${worker}.toml\` (the same values on every Worker of the deployment).`,
          },
    );
  }

  if (controlReport?.identity.status === "ready" && dispatchReport?.identity.status === "ready")
    add(identitiesAgree(controlReport.identity, dispatchReport.identity));

  if (controlReport !== undefined && dispatchReport !== undefined) {
    const same =
      controlReport.config.sitesDomain !== null &&
      controlReport.config.sitesDomain.toLowerCase() === dispatchReport.config.sitesDomain.toLowerCase();
    add(
      same
        ? {
            id: "sites-domain",
            verdict: "ok",
            summary: `both Workers serve sites under ${dispatchReport.config.sitesDomain}`,
          }
        : {
            id: "sites-domain",
            verdict: "fail",
            summary: `SITES_DOMAIN differs: control ${controlReport.config.sitesDomain ?? "(unset)"}, dispatch ${dispatchReport.config.sitesDomain}`,
            fix: "Set the same SITES_DOMAIN [vars] value on both Workers: view URLs point at the control Worker's, the gateway answers only its own.",
          },
    );
  }

  if (controlReport !== undefined) {
    const missing = Object.entries(controlReport.secrets)
      .filter(([name, set]) => !set && !OPTIONAL_SECRETS.has(name))
      .map(([name]) => name);
    add(
      missing.length === 0
        ? { id: "secrets", verdict: "ok", summary: "control: every required secret is set" }
        : {
            id: "secrets",
            verdict: "fail",
            summary: `control: not set: ${missing.join(", ")}`,
            fix: missing
              .map((name) => `npx wrangler secret put ${name} -c control/wrangler-control.toml`)
              .join("; "),
          },
    );
    add(await jwksCheck(controlReport.config.forgeJwksUrl, timeoutMs));
  }

  if (dispatchReport !== undefined)
    add(embedAncestorsCheck(dispatchReport.config.embedAncestors, dispatchUrl));

  add(await namespaceCheck(targets, controlReport !== undefined, timeoutMs));
  return checks;
}

/** Grants minted by the control Worker verify at the dispatch Worker exactly when this check passes. */
export function identitiesAgree(
  control: Extract<IdentityReport, { status: "ready" }>,
  dispatch: Extract<IdentityReport, { status: "ready" }>,
): DoctorCheck {
  const minted = control.keyIds.grant;
  const accepted = dispatch.keyIds.grant;
  if (minted === undefined || accepted === undefined)
    return {
      id: "identities-agree",
      verdict: "fail",
      summary: "a Worker reports no grant key id",
      fix: "Deploy the same version of both Workers.",
    };
  const pids =
    control.appPid === dispatch.appPid
      ? ""
      : ` (APP_PID differs: control ${control.appPid ?? "(unset)"}, dispatch ${dispatch.appPid ?? "(unset)"})`;
  const acceptedIds = [accepted.current, ...(accepted.previous === null ? [] : [accepted.previous])];
  if (!acceptedIds.includes(minted.current))
    return {
      id: "identities-agree",
      verdict: "fail",
      summary: `the control Worker mints grants with key ${minted.current}, the dispatch Worker accepts ${acceptedIds.join(" and ")}${pids}: every viewer gets 401 GRANT_KEY_UNKNOWN`,
      fix: "Give both Workers the same APP_PID and APP_PSK (`npx wrangler secret put APP_PSK` on each, the same value). When rotating, update the dispatch Worker first (new APP_PSK, old one as APP_PSK_PREVIOUS), then the control Worker.",
    };
  if (minted.previous !== null && !acceptedIds.includes(minted.previous))
    return {
      id: "identities-agree",
      verdict: "fail",
      summary: `grants minted before the rotation (key ${minted.previous}) are no longer accepted by the dispatch Worker (${acceptedIds.join(", ")}): open pages get 401 until they reload`,
      fix: "Keep the old secret as APP_PSK_PREVIOUS on the dispatch Worker until the grant TTL has passed since the control Worker switched.",
    };
  const rotating =
    accepted.current !== minted.current
      ? `; rotation in progress (dispatch already holds ${accepted.current})`
      : "";
  return {
    id: "identities-agree",
    verdict: "ok",
    summary: `grants minted with key ${minted.current} verify at the dispatch Worker${pids}${rotating}`,
  };
}

/** Sources that would let any site embed the mini-sites, or make `frame-ancestors` meaningless. */
const OPEN_SOURCES = new Set(["*", "http:", "https:", "'self'", "data:", "blob:"]);

export function embedAncestorsCheck(
  ancestors: readonly string[],
  dispatchUrl: string | undefined,
): DoctorCheck {
  const id = "embed-ancestors";
  if (ancestors.length === 0 || (ancestors.length === 1 && ancestors[0] === "'none'"))
    return {
      id,
      verdict: "fail",
      summary: "EMBED_ANCESTORS is unset: `frame-ancestors 'none'`, so no Confluence page can show a site",
      fix: 'Set EMBED_ANCESTORS in wrangler-dispatch.toml [vars] to the Confluence and Custom UI origins, e.g. "https://*.atlassian.net https://*.cdn.prod.atlassian-dev.net".',
    };
  const open = ancestors.filter((a) => OPEN_SOURCES.has(a.toLowerCase()));
  if (open.length > 0)
    return {
      id,
      verdict: "fail",
      summary: `EMBED_ANCESTORS allows ${open.join(" ")}: any page could frame the sites`,
      fix: "List only the Confluence site and Forge Custom UI origins.",
    };
  const production = dispatchUrl?.startsWith("https:") === true;
  if (production && !ancestors.some((a) => /atlassian\.net$/i.test(a)))
    return {
      id,
      verdict: "fail",
      summary: `EMBED_ANCESTORS (${ancestors.join(" ")}) has no Confluence origin (*.atlassian.net): CSP checks every ancestor, so pages cannot show sites`,
      fix: "Add https://*.atlassian.net and the Custom UI origin (https://*.cdn.prod.atlassian-dev.net).",
    };
  return { id, verdict: "ok", summary: `sites may be framed by ${ancestors.join(" ")}` };
}

async function jwksCheck(url: string | undefined, timeoutMs: number): Promise<DoctorCheck> {
  const id = "jwks";
  if (url === undefined)
    return {
      id,
      verdict: "skipped",
      summary: "the control Worker does not report its FORGE_JWKS_URL (an older version)",
    };
  const answer = await getJson(url, timeoutMs);
  const keys = answer.ok ? (answer.body as { keys?: unknown }).keys : undefined;
  const usable = Array.isArray(keys) ? keys.filter((k) => (k as { kty?: unknown }).kty === "RSA").length : 0;
  return usable > 0
    ? { id, verdict: "ok", summary: `Forge JWKS at ${url} has ${usable} RSA key${usable === 1 ? "" : "s"}` }
    : {
        id,
        verdict: "fail",
        summary: `Forge JWKS at ${url}: ${answer.ok ? "no RSA key in it" : answer.problem}`,
        fix: "FITs cannot be verified: check FORGE_JWKS_URL in wrangler-control.toml (production: https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json).",
      };
}

/** A URL whose host is this machine: the only place a secret may travel over plain http. */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return (
    host === "localhost" ||
    host.endsWith(".localhost") ||
    host === "[::1]" ||
    /^127\.\d+\.\d+\.\d+$/.test(host)
  );
}

async function namespaceCheck(
  targets: DoctorTargets,
  controlUp: boolean,
  timeoutMs: number,
): Promise<DoctorCheck> {
  const id = "namespace";
  if (!controlUp) return { id, verdict: "skipped", summary: "the control Worker did not answer" };
  if (
    targets.operatorSecret !== undefined &&
    !targets.controlUrl.startsWith("https:") &&
    !isLoopbackUrl(targets.controlUrl)
  )
    return {
      id,
      verdict: "fail",
      summary: "the operator secret was not sent: the control URL is plain http off this machine",
      fix: "Use the control Worker's https URL.",
    };
  if (targets.operatorSecret === undefined || targets.operatorSecret === "")
    return {
      id,
      verdict: "skipped",
      summary: "the Workers for Platforms namespace was not checked",
      fix: "Pass the control Worker's CONTROL_SHARED_SECRET (--secret -, or MINI_SITES_OPERATOR_SECRET) to check it.",
    };
  const answer = await getJson(at(targets.controlUrl, "/v1/admin/diagnostics"), timeoutMs, {
    "x-mini-sites-secret": targets.operatorSecret,
  });
  const namespace = answer.ok
    ? (answer.body as { namespace?: { ok?: boolean; code?: string; message?: string } }).namespace
    : undefined;
  if (namespace?.ok === true)
    return {
      id,
      verdict: "ok",
      summary: "the control Worker's token reaches the Workers for Platforms namespace",
    };
  return {
    id,
    verdict: "fail",
    summary: namespace
      ? `the namespace does not answer the control Worker: ${namespace.code ?? "?"}: ${namespace.message ?? ""}`
      : `the diagnostics route did not answer: ${problemOf(answer)}`,
    fix: namespace
      ? "Check WFP_ACCOUNT_ID and WFP_NAMESPACE in wrangler-control.toml and that WFP_API_TOKEN_PROVISIONING has Workers Scripts: Edit on that account."
      : "Check the operator secret (CONTROL_SHARED_SECRET).",
  };
}

/** Text from a remote report, made safe for a terminal: no control characters (escape sequences). */
export function printable(value: unknown): string {
  return String(value)
    .replace(/[\p{Cc}\p{Cf}]/gu, "?")
    .slice(0, 1000);
}

function isReport<T extends { worker: string }>(body: unknown, worker: T["worker"]): body is T {
  return typeof body === "object" && body !== null && (body as { worker?: unknown }).worker === worker;
}

type JsonAnswer = { ok: true; body: unknown } | { ok: false; problem: string };

const problemOf = (answer: JsonAnswer) =>
  answer.ok ? "the answer is not a Mini-Sites report" : answer.problem;

/**
 * GET `url` as JSON. `localhost` and `*.localhost` names connect to 127.0.0.1 with the name kept in
 * Host (RFC 6761 reserves them for loopback; glibc does not resolve subdomains of it), so the dev
 * stack's gateway host answers as it does to a browser.
 */
/** `path` on the origin of `base` (a URL given here or read from a report: parsed later, never trusted). */
const at = (base: string, path: string) => `${base.replace(/\/+$/, "")}${path}`;

function getJson(
  where: URL | string,
  timeoutMs: number,
  headers: Record<string, string> = {},
): Promise<JsonAnswer> {
  let url: URL;
  try {
    url = typeof where === "string" ? new URL(where) : where;
  } catch {
    return Promise.resolve({ ok: false, problem: `not a URL: ${printable(where)}` });
  }
  const loopbackName = url.hostname === "localhost" || url.hostname.endsWith(".localhost");
  const client = url.protocol === "https:" ? https : http;
  if (url.protocol !== "https:" && url.protocol !== "http:")
    return Promise.resolve({ ok: false, problem: `not an http(s) URL: ${url.href}` });
  return new Promise((resolve) => {
    const request = client.request(
      {
        host: loopbackName ? "127.0.0.1" : url.hostname,
        port: url.port === "" ? undefined : Number(url.port),
        path: url.pathname + url.search,
        method: "GET",
        servername: loopbackName ? undefined : url.hostname,
        headers: { host: url.host, accept: "application/json", ...headers },
        timeout: timeoutMs,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on("data", (chunk: Buffer) => {
          size += chunk.length;
          // A report is a few KiB; anything this large is not one.
          if (size > 1_048_576) request.destroy(new Error("answer larger than 1 MiB"));
          else chunks.push(chunk);
        });
        response.on("end", () => {
          const status = response.statusCode ?? 0;
          if (status !== 200) return resolve({ ok: false, problem: `HTTP ${status}` });
          try {
            resolve({ ok: true, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
          } catch {
            resolve({ ok: false, problem: "the answer is not JSON" });
          }
        });
        response.on("error", (error) => resolve({ ok: false, problem: error.message }));
      },
    );
    request.on("timeout", () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on("error", (error) => resolve({ ok: false, problem: error.message }));
    request.end();
  });
}
