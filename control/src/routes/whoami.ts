/** `GET /v1/whoami` — which tenant a credential acts for and what it may do (CLI `whoami`, the admin page). */

import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { type AppEnv, accessOf, tenantOf } from "../app/context.ts";
import { getApiToken } from "../db/api-tokens.ts";
import { defineRoute } from "./define.ts";

const WhoAmI = z
  .object({
    tenant: z.object({ id: z.string(), cloudId: z.string(), createdAt: z.string() }),
    kind: z.string().openapi({ description: "`apiToken` or `forgeAdmin`" }),
    actor: z.string(),
    scopes: z.array(z.string()),
    token: z.object({ id: z.string(), label: z.string(), displayPrefix: z.string() }).nullable(),
  })
  .openapi("WhoAmI");

const whoamiRoute = defineRoute({
  method: "get",
  path: "/v1/whoami",
  summary: "The tenant this credential acts for, and its scopes",
  tags: ["identity"],
  responses: { 200: { description: "Who you are", content: { "application/json": { schema: WhoAmI } } } },
});

export function registerWhoAmIRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(whoamiRoute, async (c) => {
    const access = accessOf(c);
    const tenant = tenantOf(c);
    const token =
      access.principal.kind === "apiToken"
        ? await getApiToken(c.env.DB, tenant.id, access.principal.tokenId)
        : undefined;
    return c.json(
      {
        tenant: {
          id: tenant.id,
          cloudId: tenant.cloudId,
          createdAt: new Date(tenant.createdAt).toISOString(),
        },
        kind: access.kind,
        actor: access.actor,
        scopes: [...access.scopes],
        token:
          token === undefined
            ? null
            : { id: token.id, label: token.label, displayPrefix: token.displayPrefix },
      },
      200,
    );
  });
}
