/**
 * The branding fields two routes accept — the owning Forge app's registration and the tenant admin's
 * settings — with ONE check (core/src/branding.ts), so neither door takes a value the other refuses.
 */

import { z } from "@hono/zod-openapi";
import {
  checkDisplayName,
  checkSupportUrl,
  MAX_DISPLAY_NAME_LENGTH,
  MAX_SUPPORT_URL_LENGTH,
} from "@mini-sites/core";
import { ApiError, type ApiIssue } from "../app/errors.ts";
import type { ControlEnv } from "../env.ts";
import { allowsLoopbackHttp } from "../grants.ts";

/**
 * Raw lengths are capped loosely here (a name may arrive with surrounding spaces); the exact rules —
 * characters, trimming, schemes — are core's, applied by `checkBrandingFields`.
 */
export const brandingFields = {
  displayName: z
    .string()
    .max(MAX_DISPLAY_NAME_LENGTH * 4)
    .optional()
    .openapi({
      description: `The name shown as the admin page's heading: 1–${MAX_DISPLAY_NAME_LENGTH} characters, no control characters`,
      example: "Acme Mini-Sites",
    }),
  supportUrl: z.string().max(MAX_SUPPORT_URL_LENGTH).optional().openapi({
    description: "Where the tenant's users get help: an https URL",
    example: "https://support.example.com/mini-sites",
  }),
};

export interface BrandingFields {
  readonly displayName?: string;
  readonly supportUrl?: string;
}

/** The fields as stored (trimmed, URL serialized), or INVALID_REQUEST naming each bad field. */
export function checkBrandingFields(env: ControlEnv, body: BrandingFields): BrandingFields {
  const issues: ApiIssue[] = [];
  const out: { displayName?: string; supportUrl?: string } = {};
  if (body.displayName !== undefined) {
    const name = checkDisplayName(body.displayName);
    if (name.ok) out.displayName = name.value;
    else issues.push({ path: "json.displayName", message: name.problem });
  }
  if (body.supportUrl !== undefined) {
    const url = checkSupportUrl(body.supportUrl, { allowLoopbackHttp: allowsLoopbackHttp(env) });
    if (url.ok) out.supportUrl = url.value;
    else issues.push({ path: "json.supportUrl", message: url.problem });
  }
  const first = issues[0];
  if (first !== undefined) throw new ApiError("INVALID_REQUEST", `${first.path}: ${first.message}`, issues);
  return out;
}
