/**
 * The editor's upload: a bundle too large for invokeRemote goes up in chunks through `requestRemote`
 * (DESIGN §3 Publish; macro/ticket.ts explains why a ticket carries the permission), then through the
 * one publish pipeline.
 *
 *   POST /v1/macro/upload-ticket {size, name?}   update check on the page → a ticket (site made if unbound)
 *   PUT  /v1/macro/uploads/{ticket}/chunks/{n}   one chunk (the ticket, bound to tenant, page and user):
 *                                                raw bytes, or one multipart file part — Forge's bridge
 *                                                sends a requestRemote body as text unless it is FormData,
 *                                                whose file parts it carries as base64 and the platform
 *                                                sends on as multipart/form-data
 *   POST /v1/macro/uploads/{ticket}/complete     assemble and publish (`?statusFeed=true|false`: the new
 *                                                version's status feed choice, else the live one's);
 *                                                repeated, it answers the same job
 *
 * Abuse bounds, the same as any publish (DESIGN §6.9): issuing a ticket IS a publish attempt — it is
 * refused by the tenant's publish rate limit and, with its declared size, by the byte quota; a site the
 * first upload creates counts against the site quota and is audited (publish/sites.ts); a chunk is
 * stored once (a retried PUT is acknowledged, not stored again) and must have exactly its size.
 */

import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { SiteId } from "@mini-sites/core";
import { type AppEnv, accessOf, macroOf, tenantOf, ticketOf } from "../app/context.ts";
import { ApiError } from "../app/errors.ts";
import { MAX_CHUNK_BODY_BYTES } from "../app/limits.ts";
import { audit } from "../audit/log.ts";
import { readCapped, readExactly } from "../http.ts";
import { controlKeys } from "../identity.ts";
import type { MacroPublisher } from "../macro/publisher.ts";
import { bindMacro, completeUploadTicket, getUploadTicket, insertUploadTicket } from "../macro/store.ts";
import { signUploadTicket, UPLOAD_TICKET_TTL_SECONDS } from "../macro/ticket.ts";
import {
  assemble,
  bundleKeyOf,
  chunkCount,
  chunkStored,
  expectedChunkSize,
  storeChunk,
  UPLOAD_CHUNK_BYTES,
  uploadPrefix,
} from "../macro/uploads.ts";
import { readPublishConfig } from "../publish/config.ts";
import { boundaryOf, MultipartError, readMultipart } from "../publish/multipart.ts";
import { rateLimit } from "../publish/pipeline.ts";
import { createTenantSite } from "../publish/sites.ts";
import { storedBytes } from "../publish/store.ts";
import { defineRoute } from "./define.ts";
import { bindAudit } from "./macro-binding.ts";

const UploadTicketBody = z
  .object({ size: z.number().int().min(1), name: z.string().min(1).max(200).optional() })
  .strict()
  .openapi("UploadTicketRequest");

const Ticket = z
  .object({
    ticket: z.string(),
    siteId: z.string(),
    siteCreated: z.boolean(),
    chunkBytes: z.number().int(),
    chunks: z.number().int(),
    uploadPath: z.string(),
    expiresAt: z.string(),
  })
  .openapi("UploadTicket");

const TicketParams = z.object({ ticket: z.string().openapi({ param: { name: "ticket", in: "path" } }) });
const ChunkParams = TicketParams.extend({
  n: z
    .string()
    .regex(/^[0-9]{1,5}$/, "must be a chunk number")
    .openapi({ param: { name: "n", in: "path" } }),
});

const ticketRoute = defineRoute(
  {
    method: "post",
    path: "/v1/macro/upload-ticket",
    summary: "Editor: a short-lived ticket for a chunked upload (a publish attempt: rate-limited)",
    tags: ["macro"],
    request: { body: { content: { "application/json": { schema: UploadTicketBody } }, required: true } },
    responses: {
      200: {
        description: "The ticket and chunk layout",
        content: { "application/json": { schema: Ticket } },
      },
    },
  },
  "BUNDLE_TOO_LARGE",
  "RATE_LIMITED",
  "QUOTA_SITES",
  "QUOTA_BYTES",
  "NOT_CONFIGURED",
);

const chunkRoute = defineRoute(
  {
    method: "put",
    path: "/v1/macro/uploads/{ticket}/chunks/{n}",
    summary: "Browser (requestRemote): one chunk of an editor upload",
    tags: ["macro"],
    request: {
      params: ChunkParams,
      body: {
        content: {
          "application/octet-stream": { schema: { type: "string", format: "binary" } },
          "multipart/form-data": {
            schema: { type: "object", properties: { file: { type: "string", format: "binary" } } },
          },
        },
        required: true,
      },
    },
    responses: {
      200: {
        description: "Stored (or stored already)",
        content: {
          "application/json": { schema: z.object({ chunk: z.number().int(), received: z.number().int() }) },
        },
      },
    },
  },
  "INVALID_REQUEST",
  "UPLOAD_TICKET_EXPIRED",
);

const completeRoute = defineRoute(
  {
    method: "post",
    path: "/v1/macro/uploads/{ticket}/complete",
    summary: "Browser (requestRemote): assemble the upload and publish it through the publish pipeline",
    tags: ["macro"],
    request: {
      params: TicketParams,
      query: z.object({
        statusFeed: z
          .enum(["true", "false"])
          .optional()
          .openapi({
            param: { name: "statusFeed", in: "query" },
            description:
              "The new version may read the tenant's monitor feed at `/__ms/status.json` (as the publish API's `statusFeed`). Absent: the live version's choice.",
          }),
      }),
    },
    responses: {
      202: {
        description: "Publishing (a repeated call answers the same job)",
        content: {
          "application/json": {
            schema: z.object({
              jobId: z.string(),
              version: z.number().int(),
              statusUrl: z.string(),
              replayed: z.boolean().optional(),
            }),
          },
        },
      },
    },
  },
  "UPLOAD_INCOMPLETE",
  "BUNDLE_REJECTED",
  "UPLOAD_TICKET_EXPIRED",
  "RATE_LIMITED",
  "QUOTA_BYTES",
  "INVALID_REQUEST",
  "NOT_CONFIGURED",
);

export function registerMacroUploadRoutes(
  app: OpenAPIHono<AppEnv>,
  options: { publisher: MacroPublisher; now?: () => number },
): void {
  const now = options.now ?? Date.now;

  app.openapi(ticketRoute, async (c) => {
    const macro = macroOf(c);
    const tenant = tenantOf(c);
    const actor = accessOf(c).actor;
    const config = readPublishConfig(c.env);
    const { size, name } = c.req.valid("json");
    if (size > config.bundle.maxBundleBytes)
      throw new ApiError(
        "BUNDLE_TOO_LARGE",
        `A bundle may be at most ${config.bundle.maxBundleBytes} bytes.`,
      );
    const keys = await controlKeys(c.env);
    if (!keys.ready)
      throw new ApiError(
        "NOT_CONFIGURED",
        "This Mini-Sites deployment is not fully configured; see /.well-known/mini-sites.",
      );
    await rateLimit(c.env, config, tenant.id, now());
    const stored = await storedBytes(c.env.DB, tenant.id, now());
    if (stored + size > config.maxStoredBytesPerTenant)
      throw new ApiError(
        "QUOTA_BYTES",
        `This upload (${size} bytes) would take the tenant over its ${config.maxStoredBytesPerTenant}-byte quota.`,
      );

    // The first upload on an unbound macro (a new macro, or a copied page) makes the macro its own
    // site: a copy never writes to its source's site (DESIGN §3 Copy semantics).
    let siteId: SiteId | undefined = macro.site?.id;
    let created = false;
    if (siteId === undefined) {
      const site = await createTenantSite(
        c.env,
        config,
        { tenant: tenant.id, actor },
        {
          name: name ?? `Mini-site on ${macro.content.type} ${macro.content.id}`,
          origin: "macro",
          onNameTaken: "suffix",
        },
        { now: now() },
      );
      const bound = await bindMacro(c.env.DB, tenant.id, macro.key, site.id, actor, now());
      if (bound === undefined) throw new ApiError("NOT_FOUND", "No such site.");
      await audit(c.env, bindAudit(c, site.id, null));
      siteId = site.id;
      created = true;
    }

    const id = crypto.randomUUID();
    const key = bundleKeyOf(uploadPrefix(tenant.id, siteId, id));
    const upload = await c.env.BUNDLES.createMultipartUpload(key);
    const expiresAt = Math.floor(now() / 1000) + UPLOAD_TICKET_TTL_SECONDS;
    await insertUploadTicket(c.env.DB, {
      id,
      tenantId: tenant.id,
      siteId,
      sizeBytes: size,
      createdBy: actor,
      createdAt: now(),
      expiresAt: expiresAt * 1000,
    });
    const ticket = await signUploadTicket(keys.uploadTicket.current.hmac, {
      id,
      tenant: tenant.id,
      site: siteId,
      contentId: macro.content.id,
      account: (accessOf(c).principal as { ctx: { accountId: string } }).ctx.accountId,
      key,
      uploadId: upload.uploadId,
      size,
      chunkBytes: UPLOAD_CHUNK_BYTES,
      expiresAt,
    });
    return c.json(
      {
        ticket,
        siteId,
        siteCreated: created,
        chunkBytes: UPLOAD_CHUNK_BYTES,
        chunks: chunkCount(size, UPLOAD_CHUNK_BYTES),
        uploadPath: `/v1/macro/uploads/${ticket}`,
        expiresAt: new Date(expiresAt * 1000).toISOString(),
      },
      200,
    );
  });

  app.openapi(chunkRoute, async (c) => {
    const claims = ticketOf(c);
    const n = Number(c.req.valid("param").n);
    const count = chunkCount(claims.size, claims.chunkBytes);
    if (n < 1 || n > count) throw new ApiError("INVALID_REQUEST", `Chunk numbers run from 1 to ${count}.`);
    const expected = expectedChunkSize(claims.size, claims.chunkBytes, n);
    if (await chunkStored(c.env.BUNDLES, claims, n)) {
      await c.req.raw.body?.cancel().catch(() => undefined);
      return c.json({ chunk: n, received: expected }, 200);
    }
    const bytes = await readChunk(c.req.raw, expected);
    if (bytes === undefined)
      throw new ApiError("INVALID_REQUEST", `Chunk ${n} must be exactly ${expected} bytes.`);
    await storeChunk(c.env.BUNDLES, claims, n, bytes);
    return c.json({ chunk: n, received: bytes.byteLength }, 200);
  });

  app.openapi(completeRoute, async (c) => {
    const claims = ticketOf(c);
    const tenant = tenantOf(c);
    const row = await getUploadTicket(c.env.DB, tenant.id, claims.id);
    if (row === undefined) throw new ApiError("NOT_FOUND", "No such upload.");
    if (row.completedJobId !== null) {
      // Completed before (a retry after a lost answer): the same job, never a second version.
      const jobId = row.completedJobId;
      return c.json(
        { jobId, version: row.completedVersion ?? 0, statusUrl: `/v1/jobs/${jobId}`, replayed: true },
        202,
      );
    }
    const assembled = await assemble(c.env.BUNDLES, claims);
    if (!assembled.ok)
      throw new ApiError("UPLOAD_INCOMPLETE", "Some chunks have not arrived.", {
        extra: { detail: { missing: assembled.missing } },
      });
    const choice = c.req.valid("query").statusFeed;
    const accepted = await options.publisher.publishFromR2(c.env, {
      tenant: tenant.id,
      site: claims.site as SiteId,
      key: claims.key,
      actor: accessOf(c).actor,
      statusFeed: choice === undefined ? undefined : choice === "true",
    });
    await completeUploadTicket(c.env.DB, tenant.id, claims.id, accepted);
    return c.json(accepted, 202);
  });
}

/**
 * A chunk's bytes: the raw body, or the one file part of a multipart body (what `requestRemote` with
 * FormData arrives as). Either way it must be exactly `expected` bytes; anything else is undefined.
 */
async function readChunk(request: Request, expected: number): Promise<Uint8Array | undefined> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^multipart\/form-data/i.test(type)) return readExactly(request.body, expected);
  const boundary = boundaryOf(type);
  if (boundary === undefined) return undefined;
  // The body is read whole first (it is capped at one chunk plus one part's framing by the route's
  // policy), so a refused shape never leaves the request stream half-read and cancelled.
  const raw = await readCapped(request.body, MAX_CHUNK_BODY_BYTES);
  if (raw === undefined) return undefined;
  let found: Uint8Array | undefined;
  try {
    const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream();
    for await (const part of readMultipart(stream, boundary, expected, { maxParts: 1 })) {
      if (part.filename === undefined) return undefined;
      found = part.bytes;
    }
  } catch (error) {
    if (error instanceof MultipartError) return undefined;
    throw error;
  }
  return found !== undefined && found.byteLength === expected ? found : undefined;
}
