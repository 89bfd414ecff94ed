/**
 * Property: no mutation of a valid FIT verifies — any character replaced, inserted or removed, any
 * truncation, any segment swapped with another valid token's. The key set is fetched once and cached,
 * so the properties exercise parsing and signature checks, not the network.
 */

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signFit } from "../../../dev/src/forge/index.ts";
import type { FitVerifier } from "../../src/auth/fit.ts";
import { type ForgeStandIn, macroClaims, OTHER_CLOUD_ID, startForgeStandIn } from "./support.ts";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";

let forge: ForgeStandIn;
let verifier: FitVerifier;
let token: string;
let other: string;

beforeAll(async () => {
  forge = await startForgeStandIn();
  verifier = forge.verifier();
  token = await signFit(forge.signer, macroClaims());
  other = await signFit(forge.signer, macroClaims({ cloudId: OTHER_CLOUD_ID, principal: "someone-else" }));
  expect((await verifier.verify(token)).ok).toBe(true);
});
afterAll(async () => {
  await forge.close();
});

const mutation = () =>
  fc.oneof(
    fc.record({ kind: fc.constant("replace" as const), at: fc.nat(), ch: fc.constantFrom(...ALPHABET) }),
    fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), ch: fc.constantFrom(...ALPHABET) }),
    fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
    fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
    fc.record({ kind: fc.constant("splice" as const), segment: fc.integer({ min: 0, max: 2 }) }),
  );

type Mutation =
  | { kind: "replace" | "insert"; at: number; ch: string }
  | { kind: "delete" | "truncate"; at: number }
  | { kind: "splice"; segment: number };

function apply(text: string, m: Mutation): string {
  switch (m.kind) {
    case "replace": {
      const i = m.at % text.length;
      return text.slice(0, i) + m.ch + text.slice(i + 1);
    }
    case "insert": {
      const i = m.at % (text.length + 1);
      return text.slice(0, i) + m.ch + text.slice(i);
    }
    case "delete": {
      const i = m.at % text.length;
      return text.slice(0, i) + text.slice(i + 1);
    }
    case "truncate":
      return text.slice(0, m.at % text.length);
    case "splice": {
      const mine = text.split(".");
      const theirs = other.split(".");
      mine[m.segment] = theirs[m.segment] ?? "";
      return mine.join(".");
    }
  }
}

describe("mutations of a valid FIT", () => {
  it("never verify (one or several mutations)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutation(), { minLength: 1, maxLength: 3 }), async (mutations) => {
        const mutated = mutations.reduce(apply, token);
        // Splicing every segment of the other token just yields that (valid) token.
        fc.pre(mutated !== token && mutated !== other);
        const result = await verifier.verify(mutated);
        expect(result.ok).toBe(false);
      }),
      { numRuns: 400 },
    );
  });

  it("never fetch the key set again (mutations are refused from the cache)", () => {
    expect(forge.jwks.requests).toBe(1);
  });
});
