/**
 * Asset and bundle hashes.
 *
 * Cloudflare treats an asset hash as an opaque 32-hex-character key: its direct-upload guide hashes
 * base64(bytes) + extension with SHA-256, wrangler hashes bytes + extension with BLAKE3. What matters
 * is the property both keep: the hash covers the bytes AND the extension, so the same bytes served
 * with two different content types never share a key. We hash utf8(extension) ‖ 0x00 ‖ bytes: the NUL
 * cannot occur in an extension, so no (extension, bytes) pair can be re-split into another. SHA-256 is
 * native (crypto.subtle) in Workers, Node and browsers; BLAKE3 would need WebAssembly compiled from
 * bytes at run time, which Workers forbid, or a pure-JS hash about ten times slower.
 */

const encoder = new TextEncoder();

/** The lowercase extension without its dot: `app.JS` → `js`; `README`, `.nojekyll` → "". */
export function extensionOf(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot <= 0 ? "" : base.slice(dot + 1).toLowerCase();
}

function hex(digest: ArrayBuffer): string {
  let out = "";
  for (const byte of new Uint8Array(digest)) out += byte.toString(16).padStart(2, "0");
  return out;
}

/** First 32 hex characters of SHA-256(utf8(extension) ‖ 0x00 ‖ bytes). */
export async function assetHash(path: string, bytes: Uint8Array): Promise<string> {
  const ext = encoder.encode(extensionOf(path));
  const input = new Uint8Array(ext.length + 1 + bytes.length);
  input.set(ext, 0);
  input.set(bytes, ext.length + 1);
  return hex(await crypto.subtle.digest("SHA-256", input)).slice(0, 32);
}

/**
 * SHA-256 hex over the lines `path\0hash\n` sorted by path: the same for the same hosted content
 * whether it arrived as a zip, a folder or a single file, and whatever the order of its entries.
 */
export async function bundleHashOf(
  files: readonly { readonly path: string; readonly hash: string }[],
): Promise<string> {
  const lines = files
    .map((f) => `${f.path}\0${f.hash}\n`)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .join("");
  return hex(await crypto.subtle.digest("SHA-256", encoder.encode(lines)));
}
