/**
 * One line per rule: what the CLI, the publish response and the editor show first, so an author
 * sees at a glance what blocked them and what is only a warning.
 */

import type { Severity } from "./rules/index.ts";
import type { SecretFinding } from "./scan.ts";

export interface RuleSummary {
  readonly rule: string;
  readonly severity: Severity;
  /** Findings of this rule. */
  readonly count: number;
  /** Distinct files they are in. */
  readonly files: number;
}

/** Per-rule counts, `block` rules first, then by count (largest first), then by rule id. */
export function summarizeFindings(findings: readonly SecretFinding[]): RuleSummary[] {
  const byRule = new Map<string, { severity: Severity; count: number; paths: Set<string> }>();
  for (const f of findings) {
    const entry = byRule.get(f.rule) ?? { severity: f.severity, count: 0, paths: new Set<string>() };
    entry.count += 1;
    entry.paths.add(f.path);
    byRule.set(f.rule, entry);
  }
  return [...byRule]
    .map(([rule, e]) => ({ rule, severity: e.severity, count: e.count, files: e.paths.size }))
    .sort(
      (a, b) =>
        (a.severity === b.severity ? 0 : a.severity === "block" ? -1 : 1) ||
        b.count - a.count ||
        a.rule.localeCompare(b.rule),
    );
}
