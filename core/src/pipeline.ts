/**
 * The one pipeline every publish entry point runs (DESIGN §3, "there is no second door"):
 * read the bundle → validate → secret-scan, one file at a time. The control Worker, the CLI's
 * `validate` and the editor's pre-check all call `checkBundle`, so a verdict is the same everywhere.
 */

import { externalHostsOf, readBundle } from "./bundle/index.ts";
import type { BundleInput, IgnoredEntry, ManifestEntry, ReadBundleOptions } from "./bundle/types.ts";
import { type BundleError, bundleError } from "./errors.ts";
import { type SecretFinding, scanBytes } from "./secrets/index.ts";

export interface CheckReport {
  /** True when the bundle may be hosted: no structural error and no secret. */
  readonly ok: boolean;
  readonly files: readonly ManifestEntry[];
  readonly bytes: number;
  readonly bundleHash: string;
  /** Structural errors, then one `SECRET_DETECTED` per file with findings. */
  readonly errors: readonly BundleError[];
  readonly findings: readonly SecretFinding[];
  /** Entries left out on purpose (macOS metadata, folder entries), with the reason. */
  readonly ignored: readonly IgnoredEntry[];
  /** Hosts the bundle's HTML, CSS and JS load from (information for the CSP report). */
  readonly externalHosts: readonly string[];
}

export interface CheckOptions extends ReadBundleOptions {}

export async function checkBundle(input: BundleInput, options: CheckOptions = {}): Promise<CheckReport> {
  const findings: SecretFinding[] = [];
  const hosts = new Set<string>();
  const report = await readBundle(input, {
    ...options,
    onFile: async (entry, bytes) => {
      for (const finding of scanBytes(entry.path, bytes)) findings.push(finding);
      for (const host of externalHostsOf(entry.path, entry.contentType, bytes)) hosts.add(host);
      await options.onFile?.(entry, bytes);
    },
  });
  const errors = [...report.errors, ...secretErrors(findings)];
  return {
    ok: errors.length === 0,
    files: report.files,
    bytes: report.bytes,
    bundleHash: report.bundleHash,
    errors,
    findings,
    ignored: report.ignored,
    externalHosts: [...hosts].sort(),
  };
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
