/**
 * POST /v1/macro/serve-url — the viewer's path (DESIGN §3 Serve; §6 invariants 3, 4, 7). Each test names
 * the rule it defends.
 */

import { parseSiteId, verifyGrant } from "@mini-sites/core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PERMISSION_CACHE_TTL_MS } from "../../src/confluence/permissions.ts";
import {
  BLOG_POST,
  COPIED_PAGE,
  captureConsole,
  DISPATCH_BASE_URL,
  type Harness,
  PAGE,
  RESTRICTED_PAGE,
  startHarness,
} from "./support.ts";

interface Published {
  state: "PUBLISHED";
  siteId: string;
  version: number;
  url: string;
  renewUrl: string;
  expiresAt: string;
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});
beforeEach(() => {
  h.confluence.setFault("none");
  // Each test starts past every cached answer of the ones before.
  h.clock.now += 10 * PERMISSION_CACHE_TTL_MS;
});

const errorCode = async (response: Response) =>
  ((await response.json()) as { error: { code: string } }).error.code;

describe("serve-url", () => {
  it("gives a viewer who may read the page a grant URL for the bound site's live version, on the site's own origin", async () => {
    const { siteId, tenantId } = await h.seedSite({ bindTo: { content: PAGE } });
    const response = await h.call("POST", "/serve-url", { user: "viewer" });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Published;
    expect(body.state).toBe("PUBLISHED");
    expect(body.siteId).toBe(siteId);
    expect(body.version).toBe(1);
    const port = new URL(DISPATCH_BASE_URL).port;
    const match = new RegExp(`^http://s-${siteId}\\.localhost:${port}/__ms/enter/([a-z2-7]+)$`).exec(
      body.url,
    );
    expect(match).not.toBeNull();
    expect(body.renewUrl).toBe(body.url.replace("/__ms/enter/", "/__ms/renew/"));
    const verdict = await verifyGrant(await h.grantKeyring(), match?.[1] as string, {
      siteId: parseSiteId(siteId) as never,
      now: h.clock.now,
    });
    expect(verdict).toMatchObject({ ok: true, claims: { siteId, version: 1, tenantId } });
    expect(Date.parse(body.expiresAt)).toBe((Math.floor(h.clock.now / 1000) + 600) * 1000);
  });

  it("works for a macro on a blog post (the blogposts operations endpoint)", async () => {
    await h.seedSite({ bindTo: { content: BLOG_POST } });
    const response = await h.call("POST", "/serve-url", { user: "viewer", content: BLOG_POST });
    expect(response.status).toBe(200);
    expect(((await response.json()) as Published).state).toBe("PUBLISHED");
  });

  it("honours a configured grant TTL", async () => {
    const short = await startHarness({ env: { GRANT_TTL_SECONDS: "120" } });
    try {
      await short.seedSite({ bindTo: { content: PAGE } });
      const body = (await (await short.call("POST", "/serve-url")).json()) as Published;
      expect(Date.parse(body.expiresAt)).toBe((Math.floor(short.clock.now / 1000) + 120) * 1000);
    } finally {
      await short.close();
    }
  });

  it("answers NOT_PUBLISHED for a macro that is bound to nothing", async () => {
    const response = await h.call("POST", "/serve-url", { localId: "a-macro-never-bound" });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ state: "NOT_PUBLISHED" });
  });

  it("answers NOT_PUBLISHED on a copied page: a new content id has no binding, even with the same macro local id", async () => {
    await h.seedSite({ bindTo: { content: PAGE } });
    const response = await h.call("POST", "/serve-url", { content: COPIED_PAGE });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ state: "NOT_PUBLISHED" });
  });

  it("answers NOT_PUBLISHED while the bound site has no live version yet", async () => {
    await h.seedSite({ live: false, bindTo: { content: PAGE, localId: "macro-not-live" } });
    const response = await h.call("POST", "/serve-url", { localId: "macro-not-live" });
    expect(await response.json()).toEqual({ state: "NOT_PUBLISHED" });
  });

  it("refuses a disabled site with 409 SITE_DISABLED (the admin kill switch)", async () => {
    await h.seedSite({ enabled: false, bindTo: { content: PAGE, localId: "macro-disabled" } });
    const response = await h.call("POST", "/serve-url", { localId: "macro-disabled" });
    expect(response.status).toBe(409);
    expect(await errorCode(response)).toBe("SITE_DISABLED");
  });

  it("refuses a FIT without a principal with 403 NO_PRINCIPAL, never 401", async () => {
    await h.seedSite({ bindTo: { content: PAGE } });
    const response = await h.call("POST", "/serve-url", { noPrincipal: true });
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe("NO_PRINCIPAL");
  });

  it("refuses a user who may not read the page (a restricted page) with 403 NO_ACCESS", async () => {
    await h.seedSite({ bindTo: { content: RESTRICTED_PAGE } });
    const response = await h.call("POST", "/serve-url", { user: "viewer", content: RESTRICTED_PAGE });
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe("NO_ACCESS");
  });

  it("refuses an outsider, and says nothing about whether the page holds a site", async () => {
    const bound = await h.call("POST", "/serve-url", { user: "outsider" });
    const unbound = await h.call("POST", "/serve-url", { user: "outsider", localId: "never-bound-here" });
    expect([bound.status, unbound.status]).toEqual([403, 403]);
    expect(await bound.json()).toEqual(await unbound.json());
  });

  it("refuses a call without the user's token (no x-forge-oauth-user) with 403", async () => {
    await h.seedSite({ bindTo: { content: PAGE } });
    const response = await h.call("POST", "/serve-url", { userToken: null });
    expect(response.status).toBe(403);
  });

  it("refuses a Confluence token that Confluence rejects", async () => {
    const response = await h.call("POST", "/serve-url", { userToken: "cst_not-a-real-token" });
    expect(response.status).toBe(403);
  });

  for (const fault of ["unavailable", "hang", "malformed", "reset"] as const) {
    it(`denies when Confluence is down (${fault}): 503 PERMISSION_CHECK_UNAVAILABLE and no URL`, async () => {
      await h.seedSite({ bindTo: { content: PAGE } });
      h.confluence.setFault(fault);
      const response = await h.call("POST", "/serve-url");
      expect(response.status).toBe(503);
      const body = (await response.json()) as { error: { code: string }; url?: string };
      expect(body.error.code).toBe("PERMISSION_CHECK_UNAVAILABLE");
      expect(body.url).toBeUndefined();
    });
  }

  it("does not cache a failed check: once Confluence is back, the next view is allowed", async () => {
    await h.seedSite({ bindTo: { content: PAGE } });
    h.confluence.setFault("unavailable");
    expect((await h.call("POST", "/serve-url")).status).toBe(503);
    h.confluence.setFault("none");
    expect((await h.call("POST", "/serve-url")).status).toBe(200);
  });

  it("reuses a read permission for up to 60 s, and asks Confluence again after that", async () => {
    await h.seedSite({ bindTo: { content: PAGE } });
    const first = await h.call("POST", "/serve-url", { user: "editor" });
    expect(first.status).toBe(200);
    const requests = h.confluence.requests;

    // The editor loses access; within the cache window the answer is reused (no new Confluence call)...
    h.confluence.setPermission("editor", PAGE.id, []);
    h.clock.now += PERMISSION_CACHE_TTL_MS - 1_000;
    expect((await h.call("POST", "/serve-url", { user: "editor" })).status).toBe(200);
    expect(h.confluence.requests).toBe(requests);

    // ...and once it has expired, the revocation takes effect.
    h.clock.now += 2_000;
    const after = await h.call("POST", "/serve-url", { user: "editor" });
    expect(after.status).toBe(403);
    expect(h.confluence.requests).toBe(requests + 1);
    h.confluence.setPermission("editor", PAGE.id, undefined);
  });

  it("renews a version replaced by a publish for one grant lifetime — never past it, never after a rollback away from it", async () => {
    const { siteId, tenantId } = await h.seedSite({ bindTo: { content: PAGE, localId: "macro-renew" } });
    const ttlMs = 600 * 1000; // GRANT_TTL_SECONDS default
    const supersede = async (by: "publish" | "rollback") => {
      await h.db.prepare("DELETE FROM versions WHERE site_id = ? AND number = 2").bind(siteId).run();
      await h.db
        .prepare(
          `INSERT INTO versions (tenant_id, site_id, number, content_hash, status, size_bytes, file_count, published_by, created_at, status_at)
           VALUES (?, ?, 2, ?, 'live', 1, 1, 'forge:seed', 0, 0)`,
        )
        .bind(tenantId, siteId, "b".repeat(64))
        .run();
      await h.db
        .prepare(
          "UPDATE versions SET status = 'superseded', status_at = ?, superseded_by = ? WHERE site_id = ? AND number = 1",
        )
        .bind(h.clock.now, by, siteId)
        .run();
      await h.db.prepare("UPDATE sites SET live_version = 2 WHERE id = ?").bind(siteId).run();
    };
    const renew = async (version: number) =>
      (await (
        await h.call("POST", "/serve-url", { localId: "macro-renew", body: { version } })
      ).json()) as Published;

    await supersede("publish");
    const renewed = await renew(1);
    expect(renewed.version).toBe(1);
    // The renewed grant ends when the version stops being servable, not a full lifetime later.
    expect(Date.parse(renewed.expiresAt)).toBeLessThanOrEqual(h.clock.now + ttlMs);
    expect(
      (await (await h.call("POST", "/serve-url", { localId: "macro-renew" })).json()) as Published,
    ).toMatchObject({
      version: 2,
    });
    // One grant lifetime after v1 stopped being live, an open page is moved to the live version.
    h.clock.now += ttlMs + 1;
    expect((await renew(1)).version).toBe(2);

    // Rolled back AWAY from: never renewed, not even a moment later.
    await h.db
      .prepare("UPDATE versions SET status = 'live', superseded_by = NULL WHERE site_id = ? AND number = 1")
      .bind(siteId)
      .run();
    await supersede("rollback");
    expect((await renew(1)).version).toBe(2);

    // A version that never went live (or does not exist) is never served: the live one is.
    expect((await renew(7)).version).toBe(2);

    // A disabled site gets no renewal at all.
    await h.db.prepare("UPDATE sites SET enabled = 0 WHERE id = ?").bind(siteId).run();
    const disabled = await h.call("POST", "/serve-url", { localId: "macro-renew", body: { version: 2 } });
    expect(disabled.status).toBe(409);
  });

  it("never writes the user's token to the log, whatever the outcome", async () => {
    await h.seedSite({ bindTo: { content: PAGE } });
    const token = h.confluence.tokenFor("outsider");
    const viewerToken = h.confluence.tokenFor("viewer");
    const { output } = await captureConsole(async () => {
      await h.call("POST", "/serve-url", { user: "outsider" });
      await h.call("POST", "/serve-url", { user: "viewer" });
      h.confluence.setFault("unavailable");
      await h.call("POST", "/serve-url", { user: "viewer" });
      h.clock.now += 10 * PERMISSION_CACHE_TTL_MS;
      h.confluence.setFault("reset");
      await h.call("POST", "/serve-url", { user: "outsider" });
      h.confluence.setFault("none");
    });
    expect(output).toContain("policy.confluence_denied"); // the denials were logged…
    expect(output).not.toContain(token); // …without the token
    expect(output).not.toContain(viewerToken);
    expect(output).not.toContain(token.slice(4, 20));
  });
});
