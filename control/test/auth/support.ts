/**
 * Shared fixtures for the auth tests: the dev stack's Forge stand-in (persisted RS256 key + loopback
 * key set), FIT claims shaped like a Confluence macro's, and an in-memory API token store.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type FitClaimsInput,
  type FitSigner,
  type ForgeJwksServer,
  loadOrCreateFitSigner,
  startForgeJwksServer,
} from "../../../dev/src/forge/index.ts";
import type { ApiTokenRecord, ApiTokenStore } from "../../src/auth/api-tokens.ts";
import { createFitVerifier, type FitVerifier, type FitVerifierOptions } from "../../src/auth/fit.ts";

export const APP_ID = "0f5d7a8e-1b2c-4d3e-8f90-a1b2c3d4e5f6";
export const SIBLING_APP_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
export const INSTALLATION_ID = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f";
export const CLOUD_ID = "4869c4ef-cb0d-4108-8243-8929ac7cc1fa";
export const OTHER_CLOUD_ID = "11111111-2222-4333-8444-555555555555";
export const ACCOUNT_ID = "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077";

/** A Confluence macro being viewed by a signed-in user. */
export function macroClaims(overrides: Partial<FitClaimsInput> = {}): FitClaimsInput {
  return {
    appId: APP_ID,
    installationId: INSTALLATION_ID,
    cloudId: CLOUD_ID,
    principal: ACCOUNT_ID,
    context: {
      localId: "b2c5e6f0-macro-local-id",
      moduleKey: "mini-sites-macro",
      siteUrl: "https://example.atlassian.net",
      content: { id: "98765", type: "page" },
      space: { key: "ENG", id: "131073" },
      isEditing: false,
    },
    ...overrides,
  };
}

export interface ForgeStandIn {
  readonly dataDir: string;
  readonly signer: FitSigner;
  readonly jwks: ForgeJwksServer;
  /** A verifier with its own, empty key cache. */
  verifier(options?: FitVerifierOptions & { allowedAppIds?: readonly string[] }): FitVerifier;
  close(): Promise<void>;
}

export async function startForgeStandIn(): Promise<ForgeStandIn> {
  const dataDir = await mkdtemp(join(tmpdir(), "mini-sites-auth-"));
  const signer = await loadOrCreateFitSigner(dataDir);
  const jwks = await startForgeJwksServer(signer);
  return {
    dataDir,
    signer,
    jwks,
    verifier(options = {}) {
      const { allowedAppIds = [APP_ID], ...rest } = options;
      return createFitVerifier({ jwksUrl: jwks.jwksUrl, allowedAppIds }, rest);
    },
    async close() {
      await jwks.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** In-memory ApiTokenStore, for tests only (the control Worker's is D1). */
export class MemoryApiTokenStore implements ApiTokenStore {
  readonly records = new Map<string, ApiTokenRecord>();
  /** Every digest looked up, in order (to show the store never sees a token). */
  readonly lookups: string[] = [];

  async findByHash(hash: string): Promise<ApiTokenRecord | undefined> {
    this.lookups.push(hash);
    return this.records.get(hash);
  }

  async insert(record: ApiTokenRecord): Promise<void> {
    if (this.records.has(record.hash)) throw new Error("duplicate token hash");
    this.records.set(record.hash, record);
  }

  async revoke(tenantId: string, tokenId: string, at: number): Promise<boolean> {
    for (const [hash, record] of this.records) {
      if (record.id === tokenId && record.tenantId === tenantId) {
        this.records.set(hash, { ...record, revokedAt: record.revokedAt ?? at });
        return true;
      }
    }
    return false;
  }
}

/** Base64url of a JSON value (building hand-made tokens). */
export function b64url(value: unknown): string {
  return Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
}
