/** `GET /v1/openapi.json`: an OpenAPI 3.1 document generated from the route definitions themselves. */

import { describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import { testEnv } from "./helpers.ts";

interface OpenApiDocument {
  openapi: string;
  info: { title: string };
  paths: Record<
    string,
    Record<
      string,
      {
        responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }>;
        security?: unknown[];
      }
    >
  >;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
}

async function document(): Promise<OpenApiDocument> {
  const response = await worker.fetch(new Request("http://control.test/v1/openapi.json"), testEnv, {});
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  return JSON.parse(await response.text()) as OpenApiDocument;
}

describe("GET /v1/openapi.json", () => {
  it("is a public OpenAPI 3.1 document listing the Sites API routes", async () => {
    const doc = await document();
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/v1/sites",
        "/v1/sites/{site}",
        "/v1/sites/{site}/versions",
        "/v1/sites/{site}/rollback",
        "/v1/jobs/{job}",
        "/.well-known/mini-sites",
        "/healthz",
      ]),
    );
    expect(Object.keys(doc.paths["/v1/sites/{site}/versions"] ?? {}).sort()).toEqual(["get", "post"]);
  });

  it("describes every /v1 error response with the one Error schema and requires a credential", async () => {
    const doc = await document();
    expect(doc.components.schemas.Error).toBeDefined();
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual([
      "apiToken",
      "forgeInvocationToken",
      "sharedSecret",
    ]);
    for (const [path, operations] of Object.entries(doc.paths)) {
      if (!path.startsWith("/v1/")) continue;
      for (const operation of Object.values(operations)) {
        expect(operation.security?.length).toBeGreaterThan(0);
        const errors = Object.entries(operation.responses).filter(([status]) => Number(status) >= 400);
        expect(errors.map(([status]) => status)).toContain("401");
        for (const [, response] of errors)
          expect(response.content?.["application/json"]?.schema.$ref).toBe("#/components/schemas/Error");
      }
    }
  });
});
