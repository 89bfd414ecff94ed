/**
 * Secret scanning of bundle files (DESIGN §5). `scanBytes` for each hosted file; a finding is a
 * SECRET_DETECTED error with the rule id, file, line and redacted match.
 */

export { redact } from "./redact.ts";
export { SECRET_RULES, type SecretRule, type Severity } from "./rules/index.ts";
export { looksBinary, type SecretFinding, scanBytes, scanText } from "./scan.ts";
