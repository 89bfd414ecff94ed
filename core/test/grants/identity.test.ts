import { createHmac, hkdfSync } from "node:crypto";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { base64urlEncode, hexEncode } from "../../src/crypto.ts";
import { mintGrant, verifyGrant } from "../../src/grants/index.ts";
import {
  type DeploymentIdentity,
  IdentityConfigError,
  identityReport,
  KEY_PURPOSE,
  KEY_PURPOSES,
  keyringFor,
  MIN_SECRET_BYTES,
  readIdentity,
  requireIdentity,
} from "../../src/identity/index.ts";
import { K_GRANT, NOW, PSK, SITE_A, TENANT } from "./support.ts";

async function keyIds(identity: DeploymentIdentity): Promise<string[]> {
  return Promise.all(KEY_PURPOSES.map(async (purpose) => (await keyringFor(identity, purpose)).current.id));
}

describe("secrets shorter than 32 bytes are refused at start-up", () => {
  it.each(["APP_PSK", "K_GRANT"] as const)("refuses a 31-byte %s and names it", (variable) => {
    const env = { APP_PID: "app-1", [variable]: "x".repeat(MIN_SECRET_BYTES - 1) };
    const state = readIdentity(env);
    expect(state).toMatchObject({ status: "invalid", code: "IDENTITY_SECRET_WEAK", variables: [variable] });
    expect(() => requireIdentity(env)).toThrow(IdentityConfigError);
    expect(() => requireIdentity(env)).toThrow(new RegExp(`IDENTITY_SECRET_WEAK: ${variable} is 31 bytes`));
  });

  it("refuses a weak previous secret even when the current one is strong", () => {
    const state = readIdentity({ APP_PID: "app-1", APP_PSK: PSK, APP_PSK_PREVIOUS: "short" });
    expect(state).toMatchObject({
      status: "invalid",
      code: "IDENTITY_SECRET_WEAK",
      variables: ["APP_PSK_PREVIOUS"],
    });
  });

  it("counts UTF-8 bytes after trimming edge whitespace, not characters", () => {
    expect(readIdentity({ K_GRANT: "é".repeat(16) }).status).toBe("ready");
    expect(readIdentity({ K_GRANT: `${"é".repeat(15)}a` }).status).toBe("invalid");
    expect(readIdentity({ K_GRANT: `   ${"x".repeat(31)}\n\n` }).status).toBe("invalid");
  });

  it("never repeats the refused secret in the error", () => {
    const secret = "hunter2-but-longer-secret";
    const state = readIdentity({ K_GRANT: secret });
    expect(JSON.stringify(state)).not.toContain(secret);
  });
});

describe("a missing secret is a distinct state, so serving fails closed", () => {
  it("says both variables that could be set when neither is", () => {
    const state = readIdentity({});
    expect(state).toMatchObject({
      status: "missing",
      code: "IDENTITY_SECRET_MISSING",
      variables: ["APP_PSK", "K_GRANT"],
    });
    expect(() => requireIdentity({})).toThrow(/IDENTITY_SECRET_MISSING/);
  });

  it("treats empty or whitespace-only values and non-string bindings as unset", () => {
    for (const env of [
      { APP_PSK: "", K_GRANT: "" },
      { K_GRANT: "  \n" },
      { K_GRANT: 12345 },
      { APP_PSK: { secret: PSK } },
    ]) {
      expect(readIdentity(env).status).toBe("missing");
    }
  });

  it("says APP_PID is missing when APP_PSK is set without it, rather than deriving with an unbound salt", () => {
    expect(readIdentity({ APP_PSK: PSK })).toMatchObject({
      status: "missing",
      code: "IDENTITY_PID_MISSING",
      variables: ["APP_PID"],
    });
  });

  it("refuses an APP_PID with spaces or control characters", () => {
    expect(readIdentity({ APP_PID: "my app", APP_PSK: PSK })).toMatchObject({ code: "IDENTITY_PID_INVALID" });
    expect(readIdentity({ APP_PID: "app\u0000", APP_PSK: PSK })).toMatchObject({
      code: "IDENTITY_PID_INVALID",
    });
  });

  it("reports the missing state on /.well-known/mini-sites with the variables to set", async () => {
    expect(await identityReport(readIdentity({}))).toMatchObject({
      status: "missing",
      variables: ["APP_PSK", "K_GRANT"],
    });
  });
});

describe("keys derived from the deployment identity", () => {
  it("follow DESIGN §4 exactly: HKDF-SHA256(APP_PSK, salt bound to APP_PID, info = mini-sites/<purpose>/v<n>)", async () => {
    const identity = requireIdentity({ APP_PID: "app-1", APP_PSK: PSK });
    const expected = hkdfSync("sha256", PSK, "mini-sites/app-pid/app-1", "mini-sites/grant/v1", 32);
    expect(await identity.deriveKey(KEY_PURPOSE.grant)).toEqual(new Uint8Array(expected));
    const v2 = hkdfSync("sha256", PSK, "mini-sites/app-pid/app-1", "mini-sites/audit/v2", 32);
    expect(await identity.deriveKey(KEY_PURPOSE.audit, { version: 2 })).toEqual(new Uint8Array(v2));
  });

  it("use legacy K_GRANT itself as the grant key, and its key id is HMAC(K_GRANT, 'mini-sites key id') truncated", async () => {
    const identity = requireIdentity({ K_GRANT });
    expect(await identity.deriveKey(KEY_PURPOSE.grant)).toEqual(new TextEncoder().encode(K_GRANT));
    const expectedId = createHmac("sha256", K_GRANT).update("mini-sites key id").digest("hex").slice(0, 6);
    expect((await keyringFor(identity, KEY_PURPOSE.grant)).current.id).toBe(expectedId);
  });

  it("are identical byte for byte in two sibling Workers built from the same APP_PID and APP_PSK", async () => {
    const control = requireIdentity({ APP_PID: "app-1", APP_PSK: PSK });
    const dispatch = requireIdentity({ APP_PID: "app-1", APP_PSK: `${PSK}\n` });
    for (const purpose of KEY_PURPOSES) {
      expect(await control.deriveKey(purpose)).toEqual(await dispatch.deriveKey(purpose));
    }
    const minted = await mintGrant(
      await keyringFor(control, KEY_PURPOSE.grant),
      { siteId: SITE_A, version: 1, tenantId: TENANT },
      NOW,
    );
    const verdict = await verifyGrant(await keyringFor(dispatch, KEY_PURPOSE.grant), minted.text, {
      siteId: SITE_A,
      now: NOW,
    });
    expect(verdict.ok).toBe(true);
  });

  it("differ when APP_PID differs, so two deployments sharing a PSK by mistake do not share keys", async () => {
    const a = await keyIds(requireIdentity({ APP_PID: "app-1", APP_PSK: PSK }));
    const b = await keyIds(requireIdentity({ APP_PID: "app-2", APP_PSK: PSK }));
    for (let i = 0; i < a.length; i++) expect(a[i]).not.toBe(b[i]);
  });

  it("differ between APP_PSK and K_GRANT set to the same string", async () => {
    const shared = await keyIds(requireIdentity({ APP_PID: "app-1", APP_PSK: PSK }));
    const legacy = await keyIds(requireIdentity({ K_GRANT: PSK }));
    for (let i = 0; i < shared.length; i++) expect(shared[i]).not.toBe(legacy[i]);
  });

  it("differ per purpose and per key version, so no key can stand in for another", async () => {
    for (const env of [{ APP_PID: "app-1", APP_PSK: PSK }, { K_GRANT }]) {
      const identity = requireIdentity(env);
      const ids = new Set(await keyIds(identity));
      ids.add((await keyringFor(identity, KEY_PURPOSE.audit, 2)).current.id);
      expect(ids.size).toBe(KEY_PURPOSES.length + 1);
    }
  });

  it("come from APP_PSK when both APP_PSK and K_GRANT are set, and say K_GRANT is ignored", async () => {
    const both = requireIdentity({ APP_PID: "app-1", APP_PSK: PSK, K_GRANT });
    const sharedOnly = requireIdentity({ APP_PID: "app-1", APP_PSK: PSK });
    expect(both.mode).toBe("shared");
    expect(both.ignored).toEqual(["K_GRANT"]);
    expect(await keyIds(both)).toEqual(await keyIds(sharedOnly));
  });
});

describe("identity fingerprints hold no secret material", () => {
  it("shows mode, APP_PID and key ids, and no spelling of the secret or of any derived key", async () => {
    const identity = requireIdentity({ APP_PID: "app-1", APP_PSK: PSK, APP_PSK_PREVIOUS: `${PSK}-old` });
    const report = await identityReport({ status: "ready", identity });
    expect(report).toMatchObject({ status: "ready", mode: "shared", appPid: "app-1" });
    const published = JSON.stringify(report);
    const forbidden = [PSK, hexEncode(new TextEncoder().encode(PSK))];
    for (const purpose of KEY_PURPOSES) {
      for (const generation of ["current", "previous"] as const) {
        const key = (await identity.deriveKey(purpose, { generation })) as Uint8Array;
        forbidden.push(hexEncode(key), base64urlEncode(key), Buffer.from(key).toString("base64"));
      }
    }
    for (const secret of forbidden) expect(published).not.toContain(secret);
    if (report.status === "ready") {
      expect(report.keyIds.grant.current).toMatch(/^[0-9a-f]{6}$/);
      expect(report.keyIds.grant.previous).toMatch(/^[0-9a-f]{6}$/);
    }
  });

  it("cannot be logged by accident: JSON, string and console forms of an identity omit the secret", () => {
    const identity = requireIdentity({ APP_PID: "app-1", APP_PSK: PSK });
    for (const shown of [
      JSON.stringify(identity),
      String(identity),
      inspect(identity, { showHidden: true, depth: 9 }),
    ]) {
      expect(shown).not.toContain(PSK);
      expect(shown).not.toContain("Uint8Array");
      expect(shown).not.toContain(hexEncode(new TextEncoder().encode(PSK)).slice(0, 16));
    }
  });
});
