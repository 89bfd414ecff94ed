/**
 * What the stand-in keeps on disk, laid out so that a crash at any instant leaves nothing half-done
 * visible after a restart:
 *
 *   <dataDir>/assets/<hash>                       content-addressed asset bytes (write, fsync, rename)
 *   <dataDir>/sessions/<sid>.json                 upload sessions (so a restart mid-upload can resume)
 *   <dataDir>/scripts/<name>/versions/<v>/files/  a materialized Worker version: its assets at their paths
 *   <dataDir>/scripts/<name>/versions/<v>/script.json
 *   <dataDir>/scripts/<name>/current              {"versionId"}: the one live version, switched by rename
 *   <dataDir>/tmp/                                scratch for the renames; emptied at start
 *
 * A version folder is complete before `current` names it, and `current` changes by an atomic rename,
 * so a reader (or a restart) sees the old version or the new one, never a mix. A script without
 * `current` does not exist; start-up removes such leftovers and versions nobody points at.
 */

import { randomBytes, randomUUID } from "node:crypto";
import { constants } from "node:fs";
import { copyFile, link, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { AssetConfig, AssetManifest, NamespaceScript } from "./types.ts";
import { ASSET_HASH, SCRIPT_NAME } from "./validate.ts";

export interface UploadSession {
  readonly sid: string;
  readonly script: string;
  /** The dispatch namespace, or null for the account-level (non-namespace) session endpoint. */
  readonly namespace: string | null;
  readonly manifest: AssetManifest;
  /** Hashes the client was asked to upload, grouped as it must send them. */
  readonly buckets: readonly (readonly string[])[];
  readonly expiresAt: number;
}

/** What `script.json` holds: the script minus its absolute folder (the data folder may move). */
interface ScriptRecord {
  readonly name: string;
  readonly tags: readonly string[];
  readonly manifest: AssetManifest;
  readonly config: AssetConfig;
  readonly createdOn: string;
  readonly modifiedOn: string;
  readonly versionId: string;
  readonly etag: string;
  readonly compatibilityDate?: string;
  readonly mainModule?: string;
}

export interface NewVersion extends Omit<ScriptRecord, "versionId" | "etag"> {
  /** Module parts of a script with code, by name. */
  readonly modules: ReadonlyMap<string, Uint8Array>;
}

const isMissing = (error: unknown): boolean => (error as NodeJS.ErrnoException).code === "ENOENT";

/** File operations in flight at once: enough to keep the disk and libuv's threads busy, few descriptors. */
const FILE_CONCURRENCY = 32;

async function inBatches<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += FILE_CONCURRENCY) {
    await Promise.all(items.slice(i, i + FILE_CONCURRENCY).map(work));
  }
}

export class Store {
  readonly assetsDir: string;
  private readonly sessionsDir: string;
  private readonly scriptsDir: string;
  private readonly tmpDir: string;
  /** Hashes present in the asset store; assets are only ever added. */
  private readonly stored = new Set<string>();

  readonly dataDir: string;

  constructor(dataDir: string) {
    this.dataDir = dataDir;
    this.assetsDir = join(dataDir, "assets");
    this.sessionsDir = join(dataDir, "sessions");
    this.scriptsDir = join(dataDir, "scripts");
    this.tmpDir = join(dataDir, "tmp");
  }

  async init(): Promise<void> {
    await rm(this.tmpDir, { recursive: true, force: true });
    for (const dir of [this.assetsDir, this.sessionsDir, this.scriptsDir, this.tmpDir]) {
      await mkdir(dir, { recursive: true });
    }
    for (const name of await readdir(this.assetsDir)) {
      if (ASSET_HASH.test(name)) this.stored.add(name);
    }
  }

  /** The HS256 key for tokens: given, or random and kept here so tokens survive a restart. */
  async tokenSecret(given: string | undefined): Promise<Buffer> {
    if (given !== undefined) return Buffer.from(given, "utf8");
    const path = join(this.dataDir, "token-secret");
    try {
      return await readFile(path);
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
    const secret = randomBytes(32);
    await this.writeAtomic(path, secret, 0o600);
    return secret;
  }

  assetPath(hash: string): string {
    if (!ASSET_HASH.test(hash)) throw new Error(`not an asset hash: ${hash}`);
    return join(this.assetsDir, hash);
  }

  hasAsset(hash: string): boolean {
    return this.stored.has(hash);
  }

  async writeAsset(hash: string, bytes: Uint8Array): Promise<void> {
    if (this.stored.has(hash)) return;
    await this.writeAtomic(this.assetPath(hash), bytes);
    this.stored.add(hash);
  }

  /**
   * Several at once: each write waits for its fsync, so one after the other a 200-file bucket spent
   * most of its time waiting on the disk. Two writers of one hash are harmless (same bytes, and the
   * rename is atomic).
   */
  async writeAssets(assets: readonly { readonly hash: string; readonly bytes: Uint8Array }[]): Promise<void> {
    await inBatches(assets, ({ hash, bytes }) => this.writeAsset(hash, bytes));
  }

  /** Write to scratch, fsync, then rename over the target: the target is old or new, never partial. */
  private async writeAtomic(path: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
    const scratch = join(this.tmpDir, randomUUID());
    const handle = await open(scratch, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(scratch, path);
  }

  // ── upload sessions ────────────────────────────────────────────────────────────────────────────

  async saveSession(session: UploadSession): Promise<void> {
    await this.writeAtomic(join(this.sessionsDir, `${session.sid}.json`), JSON.stringify(session));
  }

  /** Live sessions; expired ones are deleted. */
  async loadSessions(nowMs: number): Promise<UploadSession[]> {
    const live: UploadSession[] = [];
    for (const file of await readdir(this.sessionsDir)) {
      const path = join(this.sessionsDir, file);
      try {
        const session = JSON.parse(await readFile(path, "utf8")) as UploadSession;
        if (session.expiresAt > nowMs) {
          live.push(session);
          continue;
        }
      } catch {
        // An unreadable session is treated as expired: the client just starts a new one.
      }
      await rm(path, { force: true });
    }
    return live;
  }

  async deleteSession(sid: string): Promise<void> {
    await rm(join(this.sessionsDir, `${sid}.json`), { force: true });
  }

  // ── scripts ────────────────────────────────────────────────────────────────────────────────────

  private scriptDir(name: string): string {
    if (!SCRIPT_NAME.test(name)) throw new Error(`not a script name: ${name}`);
    return join(this.scriptsDir, name);
  }

  private versionDir(name: string, versionId: string): string {
    return join(this.scriptDir(name), "versions", versionId);
  }

  private toScript(record: ScriptRecord): NamespaceScript {
    const { manifest, config, ...rest } = record;
    return {
      ...rest,
      assets: { manifest, config },
      directory: join(this.versionDir(record.name, record.versionId), "files"),
    };
  }

  /** Every live script, after removing what a crash may have left behind. */
  async loadScripts(log: (line: string) => void): Promise<NamespaceScript[]> {
    const scripts: NamespaceScript[] = [];
    for (const name of await readdir(this.scriptsDir)) {
      const dir = join(this.scriptsDir, name);
      if (!SCRIPT_NAME.test(name)) {
        log(`cloudflare-api: ignoring unexpected folder ${dir}`);
        continue;
      }
      let versionId: string | undefined;
      try {
        versionId = (JSON.parse(await readFile(join(dir, "current"), "utf8")) as { versionId: string })
          .versionId;
        const record = JSON.parse(
          await readFile(join(this.versionDir(name, versionId), "script.json"), "utf8"),
        ) as ScriptRecord;
        scripts.push(this.toScript(record));
      } catch (error) {
        if (!isMissing(error))
          log(`cloudflare-api: script ${name} is unreadable (${String(error)}); removing it`);
        // No pointer: an upload that never went live, or a delete that did. Either way, not a script.
        await rm(dir, { recursive: true, force: true });
        continue;
      }
      await this.pruneVersions(name, versionId);
    }
    return scripts.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Build a complete version folder (files hard-linked from the asset store, copied across devices)
   * without making it live; `activate` does that.
   */
  async materialize(version: NewVersion): Promise<NamespaceScript> {
    const versionId = randomUUID().replaceAll("-", "");
    const dir = this.versionDir(version.name, versionId);
    const files = join(dir, "files");
    const entries = Object.entries(version.manifest).map(([path, { hash }]) => ({
      hash,
      target: join(files, path.slice(1)),
    }));
    for (const folder of new Set([files, ...entries.map(({ target }) => dirname(target))])) {
      await mkdir(folder, { recursive: true });
    }
    await inBatches(entries, async ({ hash, target }) => {
      try {
        await link(this.assetPath(hash), target);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== "EXDEV" && code !== "EPERM" && code !== "EMLINK") throw error;
        await copyFile(this.assetPath(hash), target);
      }
    });
    if (version.modules.size > 0) {
      for (const [moduleName, bytes] of version.modules) {
        const target = join(dir, "modules", moduleName);
        await mkdir(dirname(target), { recursive: true });
        await this.writeAtomic(target, bytes);
      }
    }
    const { modules: _modules, ...rest } = version;
    const record: ScriptRecord = { ...rest, versionId, etag: randomBytes(16).toString("hex") };
    await this.writeAtomic(join(dir, "script.json"), JSON.stringify(record));
    return this.toScript(record);
  }

  /** Make `versionId` the live version of `name` (one atomic rename). */
  async activate(name: string, versionId: string): Promise<void> {
    await this.writeAtomic(join(this.scriptDir(name), "current"), JSON.stringify({ versionId }));
  }

  /** Take `name` offline (one unlink); its folders are removed later by `removeScript`. */
  async deactivate(name: string): Promise<void> {
    try {
      await unlink(join(this.scriptDir(name), "current"));
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  async removeScript(name: string): Promise<void> {
    await rm(this.scriptDir(name), { recursive: true, force: true });
  }

  /** Remove every version of `name` except `keep` (undefined: the current one, read from disk). */
  async pruneVersions(name: string, keep: string | undefined): Promise<void> {
    const versions = join(this.scriptDir(name), "versions");
    let entries: string[];
    try {
      entries = await readdir(versions);
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    for (const entry of entries) {
      if (entry !== keep) await rm(join(versions, entry), { recursive: true, force: true });
    }
  }

  async assetSize(hash: string): Promise<number> {
    return (await stat(this.assetPath(hash))).size;
  }
}
