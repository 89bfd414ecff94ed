/**
 * The one pipeline every publish entry point runs (DESIGN §3, "there is no second door"):
 * read the bundle → validate → secret-scan, one file at a time. The control Worker, the CLI's
 * `validate` and the editor's pre-check all call `checkBundle`, so a verdict is the same everywhere.
 */

import { externalHostsOf, readBundle } from "./bundle/index.ts";
import type { BundleInput, IgnoredEntry, ManifestEntry, ReadBundleOptions } from "./bundle/types.ts";
import { hexEncode } from "./crypto.ts";
import { type BundleError, bundleError } from "./errors.ts";
import { type SecretFinding, scanBytes } from "./secrets/index.ts";

/**
 * A finding a tenant admin accepted: this rule, in the file with exactly these bytes. Accepting is
 * per file content, never per rule or per site: change one byte of the file and the finding is new
 * again, and the rule keeps refusing every other file (there is no switch that turns a rule off).
 */
export interface AcceptedFinding {
  readonly ruleId: string;
  /** SHA-256 of the file's bytes, 64 lowercase hex characters. */
  readonly fileHash: string;
}

/** A secret finding in a bundle, with the hash an admin names to accept it. */
export interface BundleFinding extends SecretFinding {
  /** SHA-256 of the file's bytes, 64 lowercase hex characters (see AcceptedFinding). */
  readonly fileHash: string;
}

export interface CheckReport {
  /** True when the bundle may be hosted: no structural error and no `block` finding left. */
  readonly ok: boolean;
  readonly files: readonly ManifestEntry[];
  readonly bytes: number;
  readonly bundleHash: string;
  /** Structural errors, then one `SECRET_DETECTED` per file with `block` findings. */
  readonly errors: readonly BundleError[];
  /**
   * Every finding not accepted, `block` and `warn` (the author sees both; only `block` refuses),
   * in file order.
   */
  readonly findings: readonly BundleFinding[];
  /** Findings that matched the tenant's accepted list: shown, never refusing. */
  readonly accepted: readonly BundleFinding[];
  /** Entries left out on purpose (macOS metadata, folder entries), with the reason. */
  readonly ignored: readonly IgnoredEntry[];
  /** Hosts the bundle's HTML, CSS and JS load from (information for the CSP report). */
  readonly externalHosts: readonly string[];
}

export interface CheckOptions extends ReadBundleOptions {
  /** Findings the tenant's admins accepted; a matching finding is reported in `accepted`. */
  readonly accepted?: readonly AcceptedFinding[];
}

/** SHA-256 of a file's bytes, lowercase hex: what an AcceptedFinding names. */
export async function fileHashOf(bytes: Uint8Array): Promise<string> {
  return hexEncode(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>)));
}

export async function checkBundle(input: BundleInput, options: CheckOptions = {}): Promise<CheckReport> {
  const findings: BundleFinding[] = [];
  const hosts = new Set<string>();
  const report = await readBundle(input, {
    ...options,
    onFile: async (entry, bytes) => {
      const found = scanBytes(entry.path, bytes);
      if (found.length > 0) {
        // Hashed only when something was found: most files have nothing to accept.
        const fileHash = await fileHashOf(bytes);
        for (const finding of found) findings.push({ ...finding, fileHash });
      }
      for (const host of externalHostsOf(entry.path, entry.contentType, bytes)) hosts.add(host);
      await options.onFile?.(entry, bytes);
    },
  });
  const checked: CheckReport = {
    ok: report.errors.length === 0,
    files: report.files,
    bytes: report.bytes,
    bundleHash: report.bundleHash,
    errors: report.errors,
    findings: [],
    accepted: [],
    ignored: report.ignored,
    externalHosts: [...hosts].sort(),
  };
  return withAcceptedFindings({ ...checked, findings }, options.accepted ?? []);
}

/**
 * The verdict on a checked bundle given the findings a tenant accepted: matching findings (same rule,
 * same file bytes) move to `accepted`, and `errors`/`ok` are worked out again from what is left. The
 * one place that decides what a secret finding does to a publish — checkBundle uses it, and so do the
 * CLI and the editor when they learn the tenant's list after checking (no second scan).
 */
export function withAcceptedFindings(report: CheckReport, accepted: readonly AcceptedFinding[]): CheckReport {
  const acceptedKeys = new Set(accepted.map((a) => `${a.ruleId} ${a.fileHash.toLowerCase()}`));
  const all = [...report.findings, ...report.accepted];
  const isAccepted = (f: BundleFinding) => acceptedKeys.has(`${f.rule} ${f.fileHash}`);
  const findings = all.filter((f) => !isAccepted(f));
  const structural = report.errors.filter((e) => e.code !== "SECRET_DETECTED");
  const errors = [...structural, ...secretErrors(findings.filter((f) => f.severity === "block"))];
  return { ...report, ok: errors.length === 0, errors, findings, accepted: all.filter(isAccepted) };
}

function secretErrors(findings: readonly SecretFinding[]): BundleError[] {
  const byPath = new Map<string, SecretFinding[]>();
  for (const finding of findings) {
    const list = byPath.get(finding.path) ?? [];
    list.push(finding);
    byPath.set(finding.path, list);
  }
  return [...byPath].map(([path, list]) => {
    const where = list.map((f) => `line ${f.line} (${f.rule})`).join(", ");
    return bundleError(
      "SECRET_DETECTED",
      path,
      `This file contains what looks like a secret at ${where}. Anyone who can view the page could read it: remove it, rotate it, and load it from a server instead.`,
    );
  });
}
