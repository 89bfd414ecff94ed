/**
 * The Confluence permission client against the dev stack's Confluence stand-in: fail-closed answers,
 * the 60 s cache and what its keys carry (DESIGN §3 Serve; §6 invariants 3, 4, 7).
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ConfluenceStandIn,
  RESTRICTED_PAGE_ID,
  startConfluenceStandIn,
} from "../../../dev/src/confluence/index.ts";
import {
  acceptableApiBaseUrl,
  createPermissionClient,
  PERMISSION_CACHE_TTL_MS,
  parseOperations,
} from "../../src/confluence/permissions.ts";

let confluence: ConfluenceStandIn;
beforeAll(async () => {
  confluence = await startConfluenceStandIn();
});
afterAll(async () => {
  await confluence?.close();
});

const page = { id: "1001", type: "page" } as const;
const check = (
  user: string,
  overrides: Partial<Parameters<ReturnType<typeof createPermissionClient>["canRead"]>[0]> = {},
) => ({
  tenant: "forge:app:inst:cloud",
  content: page,
  userToken: confluence.tokenFor(user),
  apiBaseUrl: confluence.url,
  ...overrides,
});

describe("Confluence stand-in", () => {
  it("answers like Confluence: 401 for a bad token, 404 for unknown or unreadable content, the user's operations otherwise", async () => {
    const get = (path: string, token?: string) =>
      fetch(confluence.url + path, {
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      });
    expect((await get("/wiki/api/v2/pages/1001/operations")).status).toBe(401);
    expect((await get("/wiki/api/v2/pages/1001/operations", "nope")).status).toBe(401);
    expect((await get("/wiki/api/v2/pages/9999/operations", confluence.tokenFor("editor"))).status).toBe(404);
    expect(
      (await get(`/wiki/api/v2/pages/${RESTRICTED_PAGE_ID}/operations`, confluence.tokenFor("editor")))
        .status,
    ).toBe(404);
    expect((await get("/wiki/api/v2/blogposts/1001/operations", confluence.tokenFor("editor"))).status).toBe(
      404,
    );
    const editor = await get("/wiki/api/v2/pages/1001/operations", confluence.tokenFor("editor"));
    expect(await editor.json()).toEqual({
      operations: [
        { operation: "read", targetType: "page" },
        { operation: "update", targetType: "page" },
      ],
    });
    const blog = await get("/wiki/api/v2/blogposts/2001/operations", confluence.tokenFor("viewer"));
    expect(await blog.json()).toEqual({ operations: [{ operation: "read", targetType: "blogpost" }] });
  });
});

describe("permission client", () => {
  it("allows read to a viewer and editor, update to the editor only", async () => {
    const client = createPermissionClient({ allowLoopbackHttp: true });
    expect((await client.canRead(check("viewer"))).allowed).toBe(true);
    expect(await client.canUpdate(check("viewer"))).toMatchObject({
      allowed: false,
      reason: "NOT_PERMITTED",
      unavailable: false,
    });
    expect((await client.canUpdate(check("editor"))).allowed).toBe(true);
    expect(await client.canRead(check("outsider"))).toMatchObject({
      allowed: false,
      reason: "CONTENT_NOT_FOUND",
    });
  });

  it("answers read and update from one Confluence call", async () => {
    const client = createPermissionClient({ allowLoopbackHttp: true });
    const before = confluence.requests;
    await client.canRead(check("editor"));
    await client.canUpdate(check("editor"));
    expect(confluence.requests).toBe(before + 1);
  });

  it("keys the cache by tenant: the same user and page in another tenant asks Confluence again", async () => {
    const client = createPermissionClient({ allowLoopbackHttp: true });
    const before = confluence.requests;
    await client.canRead(check("viewer", { tenant: "forge:app:inst:cloud-a" }));
    await client.canRead(check("viewer", { tenant: "forge:app:inst:cloud-b" }));
    expect(confluence.requests).toBe(before + 2);
  });

  it("expires answers after 60 s at most, whatever TTL it is given", async () => {
    let now = 1_000_000;
    const client = createPermissionClient({
      allowLoopbackHttp: true,
      now: () => now,
      ttlMs: 10 * PERMISSION_CACHE_TTL_MS,
    });
    const before = confluence.requests;
    await client.canRead(check("viewer"));
    now += PERMISSION_CACHE_TTL_MS - 1;
    expect((await client.canRead(check("viewer"))).cached).toBe(true);
    now += 1;
    expect((await client.canRead(check("viewer"))).cached).toBe(false);
    expect(confluence.requests).toBe(before + 2);
  });

  it("refuses plain http to a non-loopback host always, and to loopback unless the dev flag is on", async () => {
    expect(acceptableApiBaseUrl("https://api.atlassian.com/ex/confluence/abc", false)).toBeDefined();
    expect(acceptableApiBaseUrl("http://api.atlassian.com/ex/confluence/abc", true)).toBeUndefined();
    expect(acceptableApiBaseUrl("http://127.0.0.1:1234", false)).toBeUndefined();
    expect(acceptableApiBaseUrl("http://127.0.0.1:1234", true)).toBeDefined();
    expect(acceptableApiBaseUrl("https://user:pw@api.atlassian.com", false)).toBeUndefined();
    const production = createPermissionClient();
    expect(await production.canRead(check("viewer"))).toMatchObject({
      allowed: false,
      reason: "API_BASE_URL_REJECTED",
    });
  });

  it("refuses a non-numeric content id or an unknown content type before calling anyone", async () => {
    const client = createPermissionClient({ allowLoopbackHttp: true });
    const before = confluence.requests;
    expect(
      await client.canRead(check("viewer", { content: { id: "../../admin", type: "page" } })),
    ).toMatchObject({
      reason: "INVALID_CONTENT",
    });
    expect(
      await client.canRead(check("viewer", { content: { id: "1001", type: "attachment" as never } })),
    ).toMatchObject({ reason: "INVALID_CONTENT" });
    expect(confluence.requests).toBe(before);
  });

  it("reads only operations on the content's own type, and refuses shapes it does not know", () => {
    expect([
      ...(parseOperations({ operations: [{ operation: "update", targetType: "comment" }] }, "page") ?? []),
    ]).toEqual([]);
    expect(parseOperations({ operations: "read" }, "page")).toBeUndefined();
    expect(parseOperations({ operations: [{ operation: 1, targetType: "page" }] }, "page")).toBeUndefined();
    expect(parseOperations([], "page")).toBeUndefined();
  });
});
