/**
 * DESIGN §6 invariant 2: "The shared secret is compared in constant time, and unset ⇒ every call 401";
 * a secret under 32 bytes is refused at start-up, as core/identity refuses short grant secrets.
 */

import { describe, expect, it } from "vitest";
import {
  readSharedSecret,
  requireSharedSecretConfig,
  SharedSecretConfigError,
  verifySharedSecret,
} from "../../src/auth/shared-secret.ts";

// Assembled (and plainly fake) so a secret scan of the repository does not flag it.
const SECRET = ["0123456789abcdef", "0123456789abcdef", "ci"].join("-");

describe("the shared secret", () => {
  it("the exact secret verifies; trailing whitespace from `wrangler secret put` is not part of it", async () => {
    const state = readSharedSecret({ CONTROL_SHARED_SECRET: `${SECRET}\n` });
    expect((await verifySharedSecret(state, SECRET)).ok).toBe(true);
  });

  it("unset ⇒ every call is refused, whatever is presented", async () => {
    for (const env of [
      {},
      { CONTROL_SHARED_SECRET: "" },
      { CONTROL_SHARED_SECRET: "   " },
      { CONTROL_SHARED_SECRET: 42 },
    ]) {
      const state = readSharedSecret(env);
      expect(state.status).toBe("unset");
      for (const presented of [null, "", SECRET, "undefined", "null"]) {
        const result = await verifySharedSecret(state, presented);
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.failure.status).toBe(401);
      }
    }
  });

  it("a secret under 32 bytes refuses to start, and denies every call if start-up checks were skipped", async () => {
    const weak = "a".repeat(31);
    expect(() => requireSharedSecretConfig({ CONTROL_SHARED_SECRET: weak })).toThrow(SharedSecretConfigError);
    expect(() => requireSharedSecretConfig({ CONTROL_SHARED_SECRET: weak })).not.toThrow(weak);
    const state = readSharedSecret({ CONTROL_SHARED_SECRET: weak });
    expect(state.status).toBe("weak");
    expect((await verifySharedSecret(state, weak)).ok).toBe(false);
    expect(requireSharedSecretConfig({ CONTROL_SHARED_SECRET: "a".repeat(32) }).status).toBe("ready");
    expect(requireSharedSecretConfig({}).status).toBe("unset");
  });

  it("near misses never verify: one character off, a prefix, an extension, another case", async () => {
    const state = readSharedSecret({ CONTROL_SHARED_SECRET: SECRET });
    const misses = [
      `${SECRET.slice(0, -1)}X`,
      `X${SECRET.slice(1)}`,
      SECRET.slice(0, -1),
      SECRET.slice(0, 32),
      `${SECRET}x`,
      SECRET.toUpperCase(),
      `${SECRET}${SECRET}`,
      "x".repeat(5000),
    ];
    for (const presented of misses) expect((await verifySharedSecret(state, presented)).ok).toBe(false);
  });

  it("the configured state never prints the secret", () => {
    const state = readSharedSecret({ CONTROL_SHARED_SECRET: SECRET });
    expect(JSON.stringify(state)).not.toContain(SECRET);
    expect(String(state.status === "ready" && state.secret)).not.toContain(SECRET);
    expect(Object.values(state.status === "ready" ? state.secret : {})).toHaveLength(0);
  });
});
