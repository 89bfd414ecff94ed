/**
 * Errors are values with a stable code and a message a non-developer understands. The same code
 * reaches the CLI, the API response, the Forge UI and the audit log, so codes never change meaning.
 */

/** Why a bundle may not be hosted (DESIGN §5). */
export const BUNDLE_ERROR_CODES = [
  "MISSING_INDEX_HTML",
  "PATH_TRAVERSAL",
  "ABSOLUTE_PATH",
  "INVALID_PATH",
  "SYMLINK",
  "DUPLICATE_PATH",
  "TOO_MANY_FILES",
  "FILE_TOO_LARGE",
  "BUNDLE_TOO_LARGE",
  "ZIP_BOMB",
  "UNSUPPORTED_FILE_TYPE",
  "INVALID_ZIP",
  "RESERVED_PATH",
  "SECRET_DETECTED",
] as const;

export type BundleErrorCode = (typeof BUNDLE_ERROR_CODES)[number];

export interface BundleError {
  readonly code: BundleErrorCode;
  /** The offending path inside the bundle, as the author wrote it; "" when the bundle as a whole is at fault. */
  readonly path: string;
  readonly message: string;
}

export function bundleError(code: BundleErrorCode, path: string, message: string): BundleError {
  return { code, path, message };
}

/**
 * Thrown (never returned) when reading must stop at once: the rest of the input cannot be trusted or
 * would cost more than the caps allow. Carries the same shape as a returned BundleError.
 */
export class BundleRejected extends Error {
  readonly error: BundleError;
  constructor(error: BundleError) {
    super(`${error.code}: ${error.message}`);
    this.name = "BundleRejected";
    this.error = error;
  }
}
