/** Bundle reading and validation (DESIGN §5): the public API of `core/src/bundle`. */

export { contentTypeFor, DEFAULT_CONTENT_TYPE, unsupportedFileReason } from "./content-type.ts";
export { externalHostsOf } from "./external-hosts.ts";
export { assetHash, bundleHashOf, extensionOf } from "./hash.ts";
export { readBundle } from "./read.ts";
export { bytesSource } from "./source.ts";
export type {
  BundleInput,
  BundleReport,
  IgnoredEntry,
  InputFile,
  ManifestEntry,
  Progress,
  RandomAccessSource,
  ReadBundleOptions,
} from "./types.ts";
