/**
 * The Sites API's read side (issue 4 item 5) against a real D1: tenant-scoped listings with opaque
 * cursors, and tenant isolation — another tenant's site answers exactly like a missing one (DESIGN §6.3).
 */

import { describe, expect, it } from "vitest";
import { createSite } from "../../src/db/sites.ts";
import worker from "../../src/index.ts";
import {
  as,
  expectError,
  NO_SUCH_SITE,
  newTenant,
  principalFor,
  siteWithVersions,
  testEnv,
} from "./helpers.ts";

interface SiteJson {
  id: string;
  name: string;
  enabled: boolean;
  liveVersion: number | null;
  notFoundHandling: string;
  createdAt: string;
  updatedAt: string;
}

interface VersionJson {
  number: number;
  status: string;
  message: string | null;
  sizeBytes: number;
  fileCount: number;
  publishedBy: string;
  live: boolean;
}

describe("GET /v1/sites", () => {
  it("lists only the caller's tenant's sites, newest first", async () => {
    const mine = await newTenant();
    const theirs = await newTenant();
    const a = await createSite(testEnv.DB, mine, { name: "first" }, { now: () => 1_000 });
    const b = await createSite(testEnv.DB, mine, { name: "second" }, { now: () => 2_000 });
    await createSite(testEnv.DB, theirs, { name: "not yours" });
    const response = await as(principalFor(mine))("/v1/sites");
    expect(response.status).toBe(200);
    const body = (await response.json()) as { sites: SiteJson[]; nextCursor: string | null };
    expect(body.sites.map((s) => s.id)).toEqual([b.id, a.id]);
    expect(body.nextCursor).toBeNull();
    expect(body.sites[1]).toEqual({
      id: a.id,
      name: "first",
      enabled: true,
      liveVersion: null,
      notFoundHandling: "none",
      createdAt: "1970-01-01T00:00:01.000Z",
      updatedAt: "1970-01-01T00:00:01.000Z",
    });
  });

  it("pages through 230 sites with opaque cursors, every site exactly once", async () => {
    const tenant = await newTenant();
    const created = new Set<string>();
    for (let i = 0; i < 230; i += 23) {
      const batch = await Promise.all(
        Array.from({ length: 23 }, (_, j) =>
          // Shared timestamps on purpose: ties are broken by id, so no row is skipped or repeated.
          createSite(
            testEnv.DB,
            tenant,
            { name: `s${i + j}` },
            { now: () => 10_000 + Math.floor((i + j) / 3) },
          ),
        ),
      );
      for (const site of batch) created.add(site.id);
    }
    const request = as(principalFor(tenant));
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string =
        cursor === null ? "?limit=100" : `?limit=100&cursor=${encodeURIComponent(cursor)}`;
      const response = await request(`/v1/sites${query}`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { sites: SiteJson[]; nextCursor: string | null };
      pageSizes.push(body.sites.length);
      seen.push(...body.sites.map((s) => s.id));
      cursor = body.nextCursor;
    } while (cursor !== null);
    expect(pageSizes).toEqual([100, 100, 30]);
    expect(new Set(seen).size).toBe(230);
    expect(new Set(seen)).toEqual(created);
  });

  it("defaults to 50 per page", async () => {
    const tenant = await newTenant();
    await Promise.all(
      Array.from({ length: 51 }, (_, i) => createSite(testEnv.DB, tenant, { name: `s${i}` })),
    );
    const body = (await (await as(principalFor(tenant))("/v1/sites")).json()) as {
      sites: unknown[];
      nextCursor: string | null;
    };
    expect(body.sites).toHaveLength(50);
    expect(body.nextCursor).not.toBeNull();
  });

  it.each([
    ["limit=0", "query.limit"],
    ["limit=101", "query.limit"],
    ["limit=ten", "query.limit"],
    ["cursor=", "query.cursor"],
  ])("refuses %s with 400 INVALID_REQUEST naming %s", async (query, path) => {
    const response = await as(principalFor(await newTenant()))(`/v1/sites?${query}`);
    const body = await expectError(response, 400, "INVALID_REQUEST");
    expect(body.error.message).toContain(path);
    expect(body.error.issues?.[0]?.path).toBe(path);
  });

  it("refuses an edited cursor, and a versions cursor, with 400 INVALID_REQUEST on query.cursor", async () => {
    const tenant = await newTenant();
    await Promise.all([1, 2, 3].map((i) => createSite(testEnv.DB, tenant, { name: `s${i}` })));
    const request = as(principalFor(tenant));
    const first = (await (await request("/v1/sites?limit=1")).json()) as { nextCursor: string };
    const edited = `${first.nextCursor.slice(0, -2)}zz`;
    const { site } = await siteWithVersions(tenant, 3);
    const versions = (await (await request(`/v1/sites/${site.id}/versions?limit=1`)).json()) as {
      nextCursor: string;
    };
    for (const cursor of [edited, versions.nextCursor, "not-a-cursor!"]) {
      const body = await expectError(
        await request(`/v1/sites?cursor=${encodeURIComponent(cursor)}`),
        400,
        "INVALID_REQUEST",
      );
      expect(body.error.issues?.[0]?.path).toBe("query.cursor");
    }
  });

  it("answers 401 AUTH_MISSING through the deployed Worker to a request without credentials", async () => {
    const response = await worker.fetch(new Request("http://control.test/v1/sites"), testEnv, {});
    await expectError(response, 401, "AUTH_MISSING");
  });

  it("answers 403 FORBIDDEN to a credential without the sites:read scope", async () => {
    const response = await as(principalFor(await newTenant(), ["tokens:manage"]))("/v1/sites");
    await expectError(response, 403, "INSUFFICIENT_SCOPE");
  });
});

describe("GET /v1/sites/{site}", () => {
  it("returns the caller's own site", async () => {
    const tenant = await newTenant();
    const { site } = await siteWithVersions(tenant, 2, { name: "dashboard", live: 2 });
    const response = await as(principalFor(tenant))(`/v1/sites/${site.id}`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as SiteJson;
    expect(body).toMatchObject({ id: site.id, name: "dashboard", enabled: true, liveVersion: 2 });
  });

  it("answers another tenant's site exactly as it answers a site that does not exist: 404", async () => {
    const owner = await newTenant();
    const stranger = await newTenant();
    const { site } = await siteWithVersions(owner, 1);
    const request = as(principalFor(stranger));
    const theirs = await request(`/v1/sites/${site.id}`);
    const missing = await request(`/v1/sites/${NO_SUCH_SITE}`);
    const theirsBody = await expectError(theirs, 404, "NOT_FOUND");
    const missingBody = await expectError(missing, 404, "NOT_FOUND");
    expect(theirsBody).toEqual(missingBody);
    expect(JSON.stringify(theirsBody)).not.toContain(site.id);
  });

  it.each(["ABCDEFGHIJKLM", "short", "abcdefghijklmn", "abcdefghijkl1"])(
    "refuses the malformed site id %s with 400 naming param.site",
    async (id) => {
      const body = await expectError(
        await as(principalFor(await newTenant()))(`/v1/sites/${id}`),
        400,
        "INVALID_REQUEST",
      );
      expect(body.error.issues?.[0]?.path).toBe("param.site");
    },
  );
});

describe("GET /v1/sites/{site}/versions", () => {
  it("lists versions newest first with message, size, file count, publisher and which one is live", async () => {
    const tenant = await newTenant();
    const { site } = await siteWithVersions(tenant, 3, { live: 2 });
    const response = await as(principalFor(tenant))(`/v1/sites/${site.id}/versions`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { versions: VersionJson[]; nextCursor: string | null };
    expect(body.nextCursor).toBeNull();
    expect(body.versions.map((v) => [v.number, v.status, v.live])).toEqual([
      [3, "staging", false],
      [2, "live", true],
      [1, "staging", false],
    ]);
    expect(body.versions[2]).toMatchObject({
      message: "release 1",
      sizeBytes: 1000,
      fileCount: 2,
      publishedBy: "api-token:publisher-1",
    });
  });

  it("pages through versions with a cursor", async () => {
    const tenant = await newTenant();
    const { site } = await siteWithVersions(tenant, 5);
    const request = as(principalFor(tenant));
    const numbers: number[] = [];
    let cursor: string | null = null;
    do {
      const suffix: string = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`;
      const body = (await (await request(`/v1/sites/${site.id}/versions?limit=2${suffix}`)).json()) as {
        versions: VersionJson[];
        nextCursor: string | null;
      };
      numbers.push(...body.versions.map((v) => v.number));
      cursor = body.nextCursor;
    } while (cursor !== null);
    expect(numbers).toEqual([5, 4, 3, 2, 1]);
  });

  it("answers 404 for another tenant's site's versions, revealing nothing", async () => {
    const owner = await newTenant();
    const { site } = await siteWithVersions(owner, 2);
    const response = await as(principalFor(await newTenant()))(`/v1/sites/${site.id}/versions`);
    const body = await expectError(response, 404, "NOT_FOUND");
    expect(JSON.stringify(body)).not.toMatch(/release|publisher/);
  });
});
