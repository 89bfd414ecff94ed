/**
 * Enforces the body cap of the route's policy (app/limits.ts) while the body streams. A declared
 * Content-Length over the cap is refused before a byte is read; otherwise (chunked uploads have no
 * Content-Length, and a declared length is only a claim) the body is re-wrapped in a counting stream
 * that errors the moment the count passes the cap, so whoever is reading — JSON.parse, zod, or an R2
 * upload — stops there and the answer is 413 BODY_TOO_LARGE.
 *
 * Why not Hono's bodyLimit: for a body without Content-Length it reads the whole body into memory
 * before the handler runs, which would defeat streaming an upload to R2 (the control Worker must
 * never hold a whole bundle in its 128 MB).
 */

import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./context.ts";
import { ApiError, BodyTooLarge, errorResponse } from "./errors.ts";
import { BODY_CAPS } from "./limits.ts";

/** A stream that passes `body` through and errors with BodyTooLarge once more than `limit` bytes went by. */
export function capStream(
  body: ReadableStream<Uint8Array>,
  limit: number,
  onExceeded: () => void,
): ReadableStream<Uint8Array> {
  let seen = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > limit) {
          onExceeded();
          controller.error(new BodyTooLarge(limit));
          return;
        }
        controller.enqueue(chunk);
      },
    }),
  );
}

export function limitBodies(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const request = c.req.raw;
    const route = c.get("route");
    if (request.body === null || route === undefined) return next();
    const limit = BODY_CAPS[route.policy.body];
    const tooLarge = () =>
      errorResponse(
        new ApiError(
          "BODY_TOO_LARGE",
          `The request body is larger than this endpoint accepts (${limit} bytes).`,
        ),
      );
    const declared = request.headers.get("content-length");
    if (declared !== null && /^[0-9]+$/.test(declared) && Number(declared) > limit) return tooLarge();
    let exceeded = false;
    const body = capStream(request.body, limit, () => {
      exceeded = true;
    });
    c.req.raw = new Request(request, { body, duplex: "half" } as RequestInit);
    await next();
    // Whoever read the body may have turned the stream error into its own (Hono's JSON validator
    // answers "Malformed JSON"); the cap is the real reason, so it wins.
    if (exceeded) c.res = tooLarge();
  };
}
