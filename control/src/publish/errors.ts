/**
 * A bundle refusal as the one error type (app/errors.ts): BUNDLE_REJECTED carrying the core's errors
 * and the redacted secret findings, so the author sees every rule broken and where.
 */

import type { BundleError, SecretFinding } from "@mini-sites/core";
import { ApiError } from "../app/errors.ts";

export function bundleRejected(errors: readonly BundleError[], findings: readonly SecretFinding[]): ApiError {
  const first = errors[0];
  const summary =
    first === undefined
      ? "The bundle cannot be published."
      : `${first.code}${first.path ? ` (${first.path})` : ""}: ${first.message}`;
  return new ApiError(
    "BUNDLE_REJECTED",
    errors.length > 1 ? `${summary} (and ${errors.length - 1} more)` : summary,
    { extra: { errors, findings } },
  );
}
