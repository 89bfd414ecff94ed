/**
 * Deployment-wide operator routes, for the CI secret only (policy/table.ts) and showing no tenant's
 * data: `GET /v1/admin/denials` — the counted unauthenticated denials (policy/denials.ts) of the last
 * hours, so an operator can see a flood without it ever touching an audit chain.
 */

import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../app/context.ts";
import { flushDenialCounts } from "../policy/authorize.ts";
import { recentDenials } from "../policy/denials.ts";
import { defineRoute } from "./define.ts";

const DenialsQuery = z.object({
  hours: z.coerce
    .number()
    .int()
    .min(1)
    .max(168)
    .default(24)
    .openapi({ param: { name: "hours", in: "query" } }),
});

const denialsRoute = defineRoute(
  {
    method: "get",
    path: "/v1/admin/denials",
    summary: "Counted denials of requests without a valid credential, per minute, code and method",
    tags: ["operators"],
    request: { query: DenialsQuery },
    responses: {
      200: {
        description: "Counts, newest window first",
        content: {
          "application/json": {
            schema: z
              .object({
                windows: z.array(
                  z.object({
                    windowStart: z.string(),
                    code: z.string(),
                    method: z.string(),
                    count: z.number().int(),
                  }),
                ),
              })
              .openapi("DenialCounts"),
          },
        },
      },
    },
  },
  "INVALID_REQUEST",
);

export function registerOperatorRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(denialsRoute, async (c) => {
    const since = Date.now() - c.req.valid("query").hours * 3_600_000;
    await flushDenialCounts(c.env.DB);
    const windows = await recentDenials(c.env.DB, since);
    return c.json(
      { windows: windows.map((w) => ({ ...w, windowStart: new Date(w.windowStart).toISOString() })) },
      200,
    );
  });
}
