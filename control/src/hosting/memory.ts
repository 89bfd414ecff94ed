/**
 * An in-memory HostingProvider for unit tests of the code above it (publish pipeline, rollback,
 * reconcile, purge). It keeps the promises the contract suite checks, dedupes content by hash across
 * Workers as the Cloudflare upload session does, and can be told to fail the next calls so callers'
 * error paths (no half state, retryable vs not) are testable without a network.
 */

import type { ManifestEntry } from "@mini-sites/core";
import {
  type CreateWorkerRequest,
  fail,
  type HostedWorker,
  type HostingError,
  type HostingProvider,
  type HostingResult,
  ok,
  readVerified,
  type StaticAssetsConfig,
  type UploadReport,
  validateCreateRequest,
  validateTag,
  validateWorkerName,
} from "./provider.ts";

export interface InMemoryWorker {
  readonly name: string;
  readonly tags: readonly string[];
  readonly assets: StaticAssetsConfig;
  /** Path (no leading slash) → manifest entry. */
  readonly files: ReadonlyMap<string, ManifestEntry>;
}

export type HostingOperation = "createWorker" | "exists" | "listByTag" | "delete" | "deleteByTag";

export class InMemoryHostingProvider implements HostingProvider {
  readonly #workers = new Map<string, InMemoryWorker>();
  /** Content by hash, shared by every Worker (what the upload session dedupes against). */
  readonly #contents = new Map<string, Uint8Array>();
  readonly #failures: { operation: HostingOperation; error: HostingError; count: number }[] = [];

  /** The next `count` calls of `operation` answer `error`, having changed nothing. */
  failNext(operation: HostingOperation, error: HostingError, count = 1): void {
    this.#failures.push({ operation, error, count });
  }

  /** A snapshot of one Worker, for assertions. */
  worker(name: string): InMemoryWorker | undefined {
    return this.#workers.get(name);
  }

  /** The bytes a Worker serves at `path` (no leading slash), as a real user Worker would. */
  readAsset(name: string, path: string): Uint8Array | undefined {
    const entry = this.#workers.get(name)?.files.get(path);
    return entry ? this.#contents.get(entry.hash) : undefined;
  }

  #injected(operation: HostingOperation): HostingError | undefined {
    const index = this.#failures.findIndex((failure) => failure.operation === operation);
    if (index < 0) return undefined;
    const failure = this.#failures[index] as { error: HostingError; count: number };
    failure.count -= 1;
    if (failure.count <= 0) this.#failures.splice(index, 1);
    return failure.error;
  }

  async createWorker(request: CreateWorkerRequest): Promise<HostingResult<UploadReport>> {
    const invalid = validateCreateRequest(request) ?? this.#injected("createWorker");
    if (invalid) return fail(invalid);
    const missing = new Map<string, ManifestEntry>();
    for (const file of request.files) if (!this.#contents.has(file.hash)) missing.set(file.hash, file);
    const bytesTotal = [...missing.values()].reduce((sum, file) => sum + file.size, 0);
    let filesDone = 0;
    let bytesDone = 0;
    request.onProgress?.({ phase: "session", filesTotal: 0, filesDone: 0, bytesTotal: 0, bytesDone: 0 });
    // Read everything first and store nothing until all reads succeeded, as a failed upload at
    // Cloudflare leaves no Worker (stored content, like Cloudflare's, may outlive a failure).
    const received = new Map<string, Uint8Array>();
    for (const [hash, file] of missing) {
      const bytes = await readVerified(request, file);
      if (!bytes.ok) return bytes;
      received.set(hash, bytes.value.slice());
      filesDone += 1;
      bytesDone += file.size;
      request.onProgress?.({ phase: "upload", filesTotal: missing.size, filesDone, bytesTotal, bytesDone });
    }
    for (const [hash, bytes] of received) this.#contents.set(hash, bytes);
    request.onProgress?.({
      phase: "deploy",
      filesTotal: missing.size,
      filesDone,
      bytesTotal,
      bytesDone,
    });
    this.#workers.set(request.name, {
      name: request.name,
      tags: [...request.tags],
      assets: { ...request.assets },
      files: new Map(request.files.map((file) => [file.path, file])),
    });
    return ok({
      name: request.name,
      files: request.files.length,
      uploadedFiles: missing.size,
      uploadedBytes: bytesTotal,
      skippedFiles: request.files.filter((file) => !missing.has(file.hash)).length,
      requests: 0,
    });
  }

  async exists(name: string): Promise<HostingResult<boolean>> {
    const invalid = validateWorkerName(name) ?? this.#injected("exists");
    return invalid ? fail(invalid) : ok(this.#workers.has(name));
  }

  async listByTag(tag: string): Promise<HostingResult<readonly HostedWorker[]>> {
    const invalid = validateTag(tag) ?? this.#injected("listByTag");
    if (invalid) return fail(invalid);
    return ok(
      [...this.#workers.values()]
        .filter((worker) => worker.tags.includes(tag))
        .map((worker) => ({ name: worker.name, tags: [...worker.tags] })),
    );
  }

  async delete(name: string): Promise<HostingResult<{ readonly deleted: boolean }>> {
    const invalid = validateWorkerName(name) ?? this.#injected("delete");
    return invalid ? fail(invalid) : ok({ deleted: this.#workers.delete(name) });
  }

  async deleteByTag(tag: string): Promise<HostingResult<void>> {
    const invalid = validateTag(tag) ?? this.#injected("deleteByTag");
    if (invalid) return fail(invalid);
    for (const worker of [...this.#workers.values()])
      if (worker.tags.includes(tag)) this.#workers.delete(worker.name);
    return ok(undefined);
  }
}
