/** Messages between the publisher and its check worker (check.worker.ts). */

import type {
  AcceptedFinding,
  BundleError,
  BundleFinding,
  IgnoredEntry,
  ManifestEntry,
} from "@mini-sites/core";

export type CheckRequest =
  /** A dropped or picked folder: each file with its path relative to the folder. */
  (
    | { readonly kind: "files"; readonly files: readonly { readonly path: string; readonly file: File }[] }
    | { readonly kind: "zip"; readonly file: File }
    | { readonly kind: "html"; readonly file: File }
  ) & {
    /** The findings the tenant's admins accepted (`GET /v1/macro/accepted-findings`): not refusing here. */
    readonly accepted?: readonly AcceptedFinding[];
  };

export interface CheckResult {
  readonly ok: boolean;
  readonly files: readonly ManifestEntry[];
  readonly bytes: number;
  readonly errors: readonly BundleError[];
  readonly findings: readonly BundleFinding[];
  /** Findings the tenant's admins accepted: shown, never refusing. */
  readonly accepted: readonly BundleFinding[];
  readonly ignored: readonly IgnoredEntry[];
  readonly externalHosts: readonly string[];
  /** What is uploaded: the zip as dropped, the single .html, or a zip the worker made of the folder. */
  readonly upload: Blob;
  readonly uploadName: string;
}

export type CheckMessage =
  | { readonly type: "progress"; readonly filesDone: number; readonly filesTotal: number }
  | { readonly type: "done"; readonly result: CheckResult }
  | { readonly type: "failed"; readonly message: string };
