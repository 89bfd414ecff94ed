/**
 * Secret scanning of bundle files (DESIGN §5). `scanBytes` for each hosted file; a finding has the
 * rule id, its severity, file, line and redacted match; `block` findings become SECRET_DETECTED
 * errors (pipeline.ts). The policy every rule follows is stated in rules/index.ts.
 */

export { redact } from "./redact.ts";
export { SECRET_RULES, type SecretRule, type Severity } from "./rules/index.ts";
export { looksBinary, type SecretFinding, scanBytes, scanText } from "./scan.ts";
export { type RuleSummary, summarizeFindings } from "./summary.ts";
