/**
 * What the Forge host's own tests share: the fixture functions (../fixtures/forge-functions) behind a
 * manifest that names them, installations, a remote on loopback that records what it was sent, and
 * FIT verification with the signer's own key set — as the control Worker verifies them.
 */

import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { createLocalJWKSet, type JWTPayload, jwtVerify } from "jose";
import type { ForgeManifest } from "../../src/forge/app.ts";
import { APP_ARI_PREFIX, FORGE_FIT_ISSUER } from "../../src/forge/fit.ts";
import type { ForgeInstallation } from "../../src/forge/installation.ts";
import type { FitSigner } from "../../src/forge/signer.ts";

export const FIXTURE_ENTRY = fileURLToPath(new URL("../fixtures/forge-functions/index.ts", import.meta.url));
export const APP_ID = "0f0f0f0f-0000-4000-8000-00000000a001";

export function installation(n: number, license: ForgeInstallation["license"] = "none"): ForgeInstallation {
  const cloudId = `c10d0000-0000-4000-8000-00000000000${n}`;
  return {
    appId: APP_ID,
    installationId: `1a570000-0000-4000-8000-00000000000${n}`,
    cloudId,
    apiBaseUrl: `http://127.0.0.1:9/ex/confluence/${cloudId}`,
    siteUrl: `http://site${n}.localhost:9`,
    license,
  };
}

/** Each fixture function as a `function` module (`handler: index.<export>`). */
const FUNCTIONS = [
  "kvsGet",
  "kvsSet",
  "kvsDelete",
  "kvsQueryAll",
  "kvsSecret",
  "kvsSetWithPolicy",
  "callRemote",
  "neverEnds",
  "echoEvent",
];

export function fixtureManifest(remoteUrl: string): ForgeManifest {
  return {
    app: { id: `${APP_ARI_PREFIX}${APP_ID}` },
    modules: {
      function: FUNCTIONS.map((name) => ({ key: name, handler: `index.${name}` })),
      endpoint: [
        { key: "events", remote: "backend", route: { path: "/events" } },
        { key: "goodbye", remote: "backend", route: { path: "/goodbye" } },
        {
          key: "as-app",
          remote: "backend",
          route: { path: "/hourly" },
          auth: { appSystemToken: { enabled: true } },
        },
      ],
      scheduledTrigger: [
        { key: "hourly", endpoint: "as-app", interval: "hour" },
        { key: "daily-plain", endpoint: "events", interval: "day" },
      ],
      trigger: [
        { key: "to-remote", endpoint: "events", events: ["avi:confluence:trashed:page"] },
        { key: "to-function", function: "echoEvent", events: ["avi:confluence:created:page"] },
      ],
      preUninstall: [{ key: "bye", endpoint: "goodbye" }],
    },
    remotes: [
      { key: "backend", baseUrl: remoteUrl, operations: ["compute"] },
      { key: "ui-only", baseUrl: remoteUrl, operations: ["fetch"] },
    ],
    resources: [],
  };
}

export interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A remote on loopback: records each request and answers with `answer` (status, JSON body). */
export async function startRemote(
  answer: (request: Received, n: number) => { status: number; body?: unknown },
) {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const entry: Received = {
        method: request.method ?? "",
        path: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      received.push(entry);
      const { status, body } = answer(entry, received.length);
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body ?? {}));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The claims of a bearer FIT, verified against the signer's key set as the control Worker does. */
export async function verifiedFit(signer: FitSigner, authorization: string | undefined): Promise<JWTPayload> {
  const token = /^Bearer (.+)$/.exec(authorization ?? "")?.[1] ?? "";
  const { payload } = await jwtVerify(token, createLocalJWKSet(signer.jwks()), {
    issuer: FORGE_FIT_ISSUER,
    audience: `${APP_ARI_PREFIX}${APP_ID}`,
    algorithms: ["RS256"],
  });
  return payload;
}
