/**
 * Bundle limits (DESIGN §5). Every number is deployment configuration; these are the defaults.
 */

const MiB = 1024 * 1024;

export interface BundleLimits {
  /** Files hosted, after ignored junk (`__MACOSX/`, `.DS_Store`) is dropped. */
  readonly maxFiles: number;
  /** Cloudflare refuses a static asset over 25 MiB (developers.cloudflare.com/workers/platform/limits). */
  readonly maxFileBytes: number;
  /** Sum of the uncompressed sizes of all hosted files. */
  readonly maxBundleBytes: number;
  /**
   * Largest uncompressed:compressed ratio accepted for one zip entry that inflates to more than
   * `ratioCheckMinBytes`. Real minified JS and JSON compress 3–15×; a bomb's entries compress ~1000×.
   */
  readonly maxCompressionRatio: number;
  /** Entries smaller than this are not ratio-checked: a 1 KiB run of spaces is harmless. */
  readonly ratioCheckMinBytes: number;
  /** Longest path accepted, in UTF-8 bytes. Cloudflare asset paths are URLs; nobody needs more. */
  readonly maxPathBytes: number;
}

export const DEFAULT_LIMITS: BundleLimits = {
  maxFiles: 2_000,
  maxFileBytes: 25 * MiB,
  maxBundleBytes: 100 * MiB,
  maxCompressionRatio: 200,
  ratioCheckMinBytes: 1 * MiB,
  maxPathBytes: 1_024,
};

export function resolveLimits(overrides?: Partial<BundleLimits>): BundleLimits {
  return { ...DEFAULT_LIMITS, ...overrides };
}
