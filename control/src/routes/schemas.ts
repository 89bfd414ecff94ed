/**
 * Request and response schemas shared by the /v1 routes. zod validates requests; the same schemas
 * generate the OpenAPI document (`GET /v1/openapi.json`), so the document cannot drift from the code.
 */

import { z } from "@hono/zod-openapi";
import { MAX_SITE_VERSION, parseSiteId, SITE_ID_LENGTH } from "@mini-sites/core";
import { API_ERROR_CODES, API_ERRORS, type ApiErrorCode } from "../app/errors.ts";
import { MAX_CURSOR_LENGTH } from "../db/cursor.ts";
import { MAX_SITE_NAME_LENGTH, NOT_FOUND_HANDLING } from "../db/sites.ts";
import { MAX_VERSION_MESSAGE_LENGTH, VERSION_STATUSES } from "../db/versions.ts";

/** Largest page a listing returns; the default is smaller so a first page is quick. */
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 50;

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(API_ERROR_CODES as [ApiErrorCode, ...ApiErrorCode[]]),
      message: z.string(),
      issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      requestId: z.string().optional(),
      errors: z
        .array(z.object({ code: z.string(), path: z.string(), message: z.string() }))
        .optional()
        .openapi({ description: "BUNDLE_REJECTED: every rule the bundle breaks (DESIGN §5)" }),
      findings: z
        .array(z.record(z.string(), z.unknown()))
        .optional()
        .openapi({ description: "BUNDLE_REJECTED: secrets found, redacted" }),
      detail: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .openapi("Error");

export const SiteParam = z
  .string()
  .refine((value) => parseSiteId(value) !== undefined, {
    message: `must be a site id: ${SITE_ID_LENGTH} lowercase base32 characters`,
  })
  .openapi({ param: { name: "site", in: "path" }, example: "abcdefghijklm" });

export const SiteParams = z.object({ site: SiteParam });

export const PageQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_SIZE)
    .default(DEFAULT_PAGE_SIZE)
    .openapi({ param: { name: "limit", in: "query" }, example: DEFAULT_PAGE_SIZE }),
  cursor: z
    .string()
    .min(1)
    .max(MAX_CURSOR_LENGTH)
    .optional()
    .openapi({
      param: { name: "cursor", in: "query" },
      description: "`nextCursor` of the previous page; opaque.",
    }),
});

/**
 * A site's name as a caller gives it: trimmed, 1–200 characters, no control characters (it is shown
 * in terminals and the Confluence UI). Unique in the tenant, ignoring case (migration 0003).
 */
export const SiteNameSchema = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(MAX_SITE_NAME_LENGTH, `must be at most ${MAX_SITE_NAME_LENGTH} characters`)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point.
  .refine((name) => !/[\u0000-\u001f\u007f]/.test(name), "must not contain control characters");

/** `GET /v1/sites`: a page of sites, or with `name` the one site of that name (or none). */
export const SiteListQuery = PageQuery.extend({
  name: z
    .string()
    .min(1)
    .max(MAX_SITE_NAME_LENGTH)
    .optional()
    .openapi({
      param: { name: "name", in: "query" },
      description: "Only the site of this name (ignoring case): a list of one, or empty.",
    }),
});

const Timestamp = z.string().openapi({ description: "RFC 3339, UTC", example: "2026-11-20T10:00:00.000Z" });

export const SiteSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    enabled: z.boolean(),
    liveVersion: z.number().int().nullable(),
    notFoundHandling: z.enum(NOT_FOUND_HANDLING),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("Site");

export const SiteListSchema = z
  .object({ sites: z.array(SiteSchema), nextCursor: z.string().nullable() })
  .openapi("SiteList");

export const VersionSchema = z
  .object({
    number: z.number().int(),
    status: z.enum(VERSION_STATUSES),
    failureCode: z.string().nullable(),
    message: z.string().nullable(),
    sizeBytes: z.number().int(),
    fileCount: z.number().int(),
    publishedBy: z.string(),
    contentHash: z.string(),
    createdAt: Timestamp,
    live: z.boolean(),
    statusFeed: z.boolean().openapi({
      description: "Published with `statusFeed`: may read the tenant's monitor feed at `/__ms/status.json`",
    }),
  })
  .openapi("Version");

export const VersionListSchema = z
  .object({ versions: z.array(VersionSchema), nextCursor: z.string().nullable() })
  .openapi("VersionList");

export const RollbackBody = z
  .object({ version: z.number().int().min(1).max(MAX_SITE_VERSION) })
  .strict()
  .openapi("RollbackRequest");

export const SiteUpdateBody = z.object({ enabled: z.boolean() }).strict().openapi("SiteUpdate");

export const PublishQuery = z.object({
  message: z
    .string()
    .max(MAX_VERSION_MESSAGE_LENGTH)
    .optional()
    .openapi({ param: { name: "message", in: "query" } }),
  name: z
    .string()
    .max(MAX_SITE_NAME_LENGTH)
    .optional()
    .openapi({
      param: { name: "name", in: "query" },
      description:
        "A new site's name (site `new`): unique in the tenant ignoring case, else 409 NAME_TAKEN. Without one: `Untitled site`, numbered.",
    }),
  notFoundHandling: z
    .enum(NOT_FOUND_HANDLING)
    .optional()
    .openapi({ param: { name: "notFoundHandling", in: "query" } }),
  statusFeed: z
    .enum(["true", "false"])
    .optional()
    .openapi({
      param: { name: "statusFeed", in: "query" },
      description:
        "`true`: this version may read its tenant's monitor feed (names, states, latency, uptime, recent results — never URLs) at `/__ms/status.json` on the site's own origin, with the viewer's grant. Part of the version: a rollback brings back that version's choice. Default `false`; also a multipart field. NOT_CONFIGURED when the deployment has no SITE_FEEDS namespace.",
    }),
});

export const JobParams = z.object({
  job: z
    .string()
    .regex(/^[A-Za-z0-9_-]{16,64}$/)
    .openapi({ param: { name: "job", in: "path" } }),
});

/** The error responses every authenticated route can give, for the OpenAPI document. */
export function errorResponses(...codes: ApiErrorCode[]) {
  return errorResponsesOf(API_ERRORS, codes);
}

function errorResponsesOf<Code extends string>(
  table: Readonly<Record<Code, number>>,
  codes: readonly Code[],
) {
  const out: Record<
    number,
    { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }
  > = {};
  for (const code of codes) {
    const status = table[code];
    const previous = out[status]?.description;
    out[status] = {
      description: previous === undefined ? code : `${previous} | ${code}`,
      content: { "application/json": { schema: ErrorSchema } },
    };
  }
  return out;
}
