/**
 * The unauthenticated service endpoints: identity fingerprints for `mini-sites doctor` (DESIGN §4)
 * without any secret, and health.
 */

import { describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import { TEST_APP_PID, TEST_APP_PSK } from "./fixtures.ts";
import { testEnv } from "./helpers.ts";

const get = (path: string, env = testEnv) => worker.fetch(new Request(`http://control.test${path}`), env, {});

describe("/.well-known/mini-sites", () => {
  it("reports the identity's mode, public id and key ids, the config, and which secrets are set — no secret", async () => {
    const env = { ...testEnv, CONTROL_SHARED_SECRET: "ci-secret-value-that-must-not-appear-000000" };
    const response = await get("/.well-known/mini-sites", env);
    expect(response.status).toBe(200);
    const text = await response.text();
    const body = JSON.parse(text) as {
      worker: string;
      identity: { status: string; mode: string; appPid: string; keyIds: Record<string, { current: string }> };
      config: { sitesDomain: string; allowedForgeAppIds: string[] };
      secrets: Record<string, boolean>;
    };
    expect(body.worker).toBe("control");
    expect(body.identity).toMatchObject({ status: "ready", mode: "shared", appPid: TEST_APP_PID });
    expect(body.identity.keyIds.audit?.current).toMatch(/^[0-9a-f]{6}$/);
    expect(body.config.sitesDomain).toBe("localhost");
    expect(body.config.allowedForgeAppIds).toHaveLength(1);
    expect(body.secrets).toEqual({ WFP_API_TOKEN_PROVISIONING: false, CONTROL_SHARED_SECRET: true });
    expect(text).not.toContain(TEST_APP_PSK);
    expect(text).not.toContain("ci-secret-value");
  });

  it("says which variable is missing when the deployment secret is unset", async () => {
    const { APP_PSK: _omitted, ...env } = testEnv;
    const body = (await (await get("/.well-known/mini-sites", env as typeof testEnv)).json()) as {
      identity: { status: string; code: string };
    };
    expect(body.identity).toMatchObject({ status: "missing", code: "IDENTITY_SECRET_MISSING" });
  });
});

describe("/healthz", () => {
  it("is healthy when the identity is configured and D1 answers", async () => {
    const response = await get("/healthz");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, checks: { identity: true, database: true } });
  });

  it("answers 503 without a deployment secret", async () => {
    const { APP_PSK: _omitted, ...env } = testEnv;
    const response = await get("/healthz", env as typeof testEnv);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ ok: false, checks: { identity: false } });
  });
});
