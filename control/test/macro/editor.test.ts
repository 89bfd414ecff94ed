/**
 * The editor's side of the Macro API: bind (incl. copy semantics), upload tickets and chunked uploads,
 * state (DESIGN §3 Copy semantics; §6 invariant 4: publishing to a page's macro needs update permission
 * on that page, checked with the user's own token).
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PERMISSION_CACHE_TTL_MS } from "../../src/confluence/permissions.ts";
import { getBinding } from "../../src/macro/store.ts";
import { UPLOAD_CHUNK_BYTES } from "../../src/macro/uploads.ts";
import {
  BLOG_POST,
  CLOUD_ID,
  COPIED_PAGE,
  type Harness,
  LOCAL_ID,
  PAGE,
  startHarness,
  TEST_APP_PSK,
} from "./support.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  h.confluence.setPermission("editor", COPIED_PAGE.id, ["read", "update"]);
});
afterAll(async () => {
  await h?.close();
});
beforeEach(() => {
  h.confluence.setFault("none");
  h.clock.now += 10 * PERMISSION_CACHE_TTL_MS;
});

const errorCode = async (response: Response) =>
  ((await response.json()) as { error: { code: string } }).error.code;

interface Ticket {
  ticket: string;
  siteId: string;
  siteCreated: boolean;
  chunkBytes: number;
  chunks: number;
  uploadPath: string;
}

describe("bind", () => {
  it("needs update permission on the page: a viewer gets 403 NO_ACCESS and nothing is bound", async () => {
    const { siteId } = await h.seedSite({ bindTo: null });
    const response = await h.call("POST", "/bind", {
      user: "viewer",
      localId: "bind-viewer",
      body: { siteId },
    });
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe("NO_ACCESS");
    const serve = await h.call("POST", "/serve-url", { user: "viewer", localId: "bind-viewer" });
    expect(await serve.json()).toEqual({ state: "NOT_PUBLISHED" });
  });

  it("denies when Confluence cannot answer the update check (503), and binds nothing", async () => {
    const { siteId } = await h.seedSite({ bindTo: null });
    h.confluence.setFault("unavailable");
    const response = await h.call("POST", "/bind", {
      user: "editor",
      localId: "bind-outage",
      body: { siteId },
    });
    expect(response.status).toBe(503);
    h.confluence.setFault("none");
    expect(await (await h.call("POST", "/serve-url", { localId: "bind-outage" })).json()).toEqual({
      state: "NOT_PUBLISHED",
    });
  });

  it("never binds a site that no page shows (published from the CLI or API): 404, and nothing changes", async () => {
    const { tenantId, siteId } = await h.seedSite({ bindTo: null });
    const response = await h.call("POST", "/bind", {
      user: "editor",
      localId: "bind-claim",
      body: { siteId },
    });
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe("NOT_FOUND");
    expect(
      await getBinding(h.db, tenantId, { cloudId: CLOUD_ID, contentId: PAGE.id, localId: "bind-claim" }),
    ).toBeUndefined();
    expect(
      await (await h.call("POST", "/serve-url", { user: "viewer", localId: "bind-claim" })).json(),
    ).toEqual({
      state: "NOT_PUBLISHED",
    });
  });

  it("forks a site shown on a page the editor may read — the macro shows the fork, the source keeps its page", async () => {
    const source = await h.seedSite({ bindTo: { content: PAGE, localId: "bind-source" } });
    const response = await h.call("POST", "/bind", {
      user: "editor",
      content: BLOG_POST,
      localId: "bind-target",
      body: { siteId: source.siteId },
    });
    expect(response.status).toBe(200);
    const bound = (await response.json()) as { siteId: string; forkedFrom: string };
    expect(bound.forkedFrom).toBe(source.siteId);
    expect(bound.siteId).not.toBe(source.siteId);
    const original = await getBinding(h.db, source.tenantId, {
      cloudId: CLOUD_ID,
      contentId: PAGE.id,
      localId: "bind-source",
    });
    expect(original?.siteId).toBe(source.siteId);
    expect((await h.audits()).at(-1)).toMatchObject({
      action: "macro.bind",
      target: `site:${bound.siteId}`,
      actor: expect.stringMatching(/^forge:/),
      detail: { forkedFrom: source.siteId },
    });
    expect(
      (await h.audits()).some((a) => a.action === "site.create" && a.target === `site:${bound.siteId}`),
    ).toBe(true);
  });

  it("answers 404 for a site id that does not exist", async () => {
    const response = await h.call("POST", "/bind", { user: "editor", body: { siteId: "aaaaaaaaaaaaa" } });
    expect(response.status).toBe(404);
  });

  it("forks on a copied page: the copy gets a new site started from the source's live bundle, the source is untouched", async () => {
    const source = await h.seedSite({ bindTo: { content: PAGE, localId: "macro-copied" } });

    // The copy is unbound: viewers see NOT_PUBLISHED.
    expect(
      await (await h.call("POST", "/serve-url", { content: COPIED_PAGE, localId: "macro-copied" })).json(),
    ).toEqual({
      state: "NOT_PUBLISHED",
    });
    // The first authorized edit on the copy names the source (from the copied macro config) and forks.
    const response = await h.call("POST", "/bind", {
      user: "editor",
      content: COPIED_PAGE,
      localId: "macro-copied",
      body: { siteId: source.siteId },
    });
    expect(response.status).toBe(200);
    const fork = (await response.json()) as { siteId: string; forkedFrom: string; copied: string };
    expect(fork.forkedFrom).toBe(source.siteId);
    expect(fork.siteId).not.toBe(source.siteId);
    expect(fork.copied).toBe("live");
    expect(h.publisher.copies.at(-1)).toEqual({
      tenant: source.tenantId,
      fromSite: source.siteId,
      version: 1,
      toSite: fork.siteId,
      actor: expect.stringMatching(/^forge:/),
    });
    const original = await getBinding(h.db, source.tenantId, {
      cloudId: CLOUD_ID,
      contentId: PAGE.id,
      localId: "macro-copied",
    });
    expect(original?.siteId).toBe(source.siteId);
    // The copy shows its own fork (not live until the copy job finishes), never the source's site.
    expect(
      await (await h.call("POST", "/serve-url", { content: COPIED_PAGE, localId: "macro-copied" })).json(),
    ).toEqual({ state: "NOT_PUBLISHED" });
    const sourceView = (await (await h.call("POST", "/serve-url", { localId: "macro-copied" })).json()) as {
      siteId: string;
    };
    expect(sourceView.siteId).toBe(source.siteId);
  });

  it("refuses to fork a site the user cannot see on any page (404, not an oracle)", async () => {
    const source = await h.seedSite({ bindTo: { content: { id: "3001" }, localId: "macro-secret" } });
    const response = await h.call("POST", "/bind", {
      user: "editor",
      content: COPIED_PAGE,
      localId: "macro-secret-copy",
      body: { siteId: source.siteId },
    });
    expect(response.status).toBe(404);
  });
});

describe("upload tickets and chunked uploads", () => {
  async function ticketFor(localId: string, size: number): Promise<Ticket> {
    const response = await h.call("POST", "/upload-ticket", { user: "editor", localId, body: { size } });
    expect(response.status).toBe(200);
    return (await response.json()) as Ticket;
  }
  const upload = (ticket: Ticket, path: string, options: Parameters<Harness["call"]>[2] = {}) =>
    h.call(path.startsWith("/complete") ? "POST" : "PUT", `/uploads/${ticket.ticket}${path}`, {
      user: "editor",
      userToken: null, // requestRemote carries no user token
      localId: "upload-1",
      ...options,
    });

  it("needs update permission: a viewer gets no ticket", async () => {
    const response = await h.call("POST", "/upload-ticket", { user: "viewer", body: { size: 10 } });
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe("NO_ACCESS");
  });

  it("refuses a bundle larger than the deployment allows before asking anyone", async () => {
    const response = await h.call("POST", "/upload-ticket", {
      user: "editor",
      body: { size: 200 * 1024 * 1024 },
    });
    expect(response.status).toBe(413);
  });

  it("creates a site for an unbound macro, takes chunks under the tenant's R2 prefix and hands the bundle to the publish pipeline", async () => {
    const size = UPLOAD_CHUNK_BYTES + 3;
    const ticket = await ticketFor("upload-1", size);
    expect(ticket).toMatchObject({ siteCreated: true, chunks: 2, chunkBytes: UPLOAD_CHUNK_BYTES });

    // Nothing to assemble yet.
    const early = await upload(ticket, "/complete");
    expect(early.status).toBe(409);
    expect(await early.json()).toMatchObject({
      error: { code: "UPLOAD_INCOMPLETE", detail: { missing: [1, 2] } },
    });

    // A chunk of the wrong size is refused.
    const wrong = await upload(ticket, "/chunks/2", { rawBody: new Uint8Array(4) });
    expect(wrong.status).toBe(400);

    const first = new Uint8Array(UPLOAD_CHUNK_BYTES).fill(7);
    expect((await upload(ticket, "/chunks/1", { rawBody: first })).status).toBe(200);
    expect((await upload(ticket, "/chunks/2", { rawBody: new Uint8Array([1, 2, 3]) })).status).toBe(200);
    const done = await upload(ticket, "/complete");
    expect(done.status).toBe(202);
    const published = h.publisher.published.at(-1);
    expect(published?.site).toBe(ticket.siteId);
    expect(published?.key).toMatch(new RegExp(`^t/${published?.tenant}/editor-uploads/${ticket.siteId}/`));
    const stored = await h.bucket.head(published?.key as string);
    expect(stored?.size).toBe(size);

    // Completing again answers the same job, and publishes nothing a second time.
    const first_ = (await done.json()) as { jobId: string };
    const again = await upload(ticket, "/complete");
    expect(again.status).toBe(202);
    expect(await again.json()).toMatchObject({ jobId: first_.jobId, replayed: true });
    expect(h.publisher.published.filter((p) => p.key === published?.key)).toHaveLength(1);
    // The next ticket for the same macro reuses its site.
    expect((await ticketFor("upload-1", 10)).siteId).toBe(ticket.siteId);
  });

  it("hands the editor's status feed choice to the pipeline, none when it made none, and refuses any other value", async () => {
    const cases = [
      ["?statusFeed=true", true],
      ["?statusFeed=false", false],
      ["", undefined],
    ] as const;
    for (const [query, expected] of cases) {
      const localId = `feed${query.length}`;
      const ticket = await ticketFor(localId, 3);
      expect((await upload(ticket, "/chunks/1", { localId, rawBody: new Uint8Array(3) })).status).toBe(200);
      if (query === "?statusFeed=true") {
        const refused = await upload(ticket, "/complete?statusFeed=yes", { localId });
        expect(refused.status).toBe(400);
        expect(await errorCode(refused)).toBe("INVALID_REQUEST");
      }
      const done = await upload(ticket, `/complete${query}`, { localId });
      expect(done.status, query).toBe(202);
      const published = h.publisher.published.at(-1);
      expect(published?.site).toBe(ticket.siteId);
      expect(published?.statusFeed, query).toBe(expected);
    }
  });

  it("takes a chunk as one multipart file part — how requestRemote carries binary — byte for byte, and refuses any other multipart shape", async () => {
    const bytes = new Uint8Array([0, 255, 128, 10, 13, 0xc3, 0x28]); // not valid UTF-8: text would mangle it
    const ticket = await ticketFor("upload-multipart", bytes.length);
    const form = (parts: [string, Blob | string, string?][]) => {
      const data = new FormData();
      for (const [name, value, filename] of parts)
        if (typeof value === "string") data.append(name, value);
        else data.append(name, value, filename);
      return data;
    };
    const put = (data: FormData) => upload(ticket, "/chunks/1", { localId: "upload-multipart", form: data });
    expect((await put(form([["file", "not a file part"]]))).status).toBe(400);
    expect((await put(form([["file", new Blob([bytes.slice(1)]), "chunk-1"]]))).status).toBe(400);
    expect(
      (
        await put(
          form([
            ["file", new Blob([bytes]), "chunk-1"],
            ["file2", new Blob([bytes]), "x"],
          ]),
        )
      ).status,
    ).toBe(400);
    expect((await put(form([["file", new Blob([bytes]), "chunk-1"]]))).status).toBe(200);
    expect((await upload(ticket, "/complete", { localId: "upload-multipart" })).status).toBe(202);
    const published = h.publisher.published.at(-1);
    const stored = await h.bucket.get(published?.key as string);
    expect(new Uint8Array(await (stored as { arrayBuffer(): Promise<ArrayBuffer> }).arrayBuffer())).toEqual(
      bytes,
    );
  });

  it("binds a ticket to its user and page: another user's or another page's FIT gets 404", async () => {
    const ticket = await ticketFor("upload-1", 3);
    const otherUser = await upload(ticket, "/chunks/1", { user: "viewer", rawBody: new Uint8Array(3) });
    expect(otherUser.status).toBe(404);
    const otherPage = await upload(ticket, "/chunks/1", { content: COPIED_PAGE, rawBody: new Uint8Array(3) });
    expect(otherPage.status).toBe(404);
  });

  it("refuses an altered ticket with 404", async () => {
    const ticket = await ticketFor("upload-1", 3);
    const [payload, mac] = ticket.ticket.split(".") as [string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
    const forged = `${Buffer.from(JSON.stringify({ ...claims, size: 4 })).toString("base64url")}.${mac}`;
    const response = await upload({ ...ticket, ticket: forged }, "/chunks/1", { rawBody: new Uint8Array(4) });
    expect(response.status).toBe(404);
  });

  it("refuses an expired ticket", async () => {
    const ticket = await ticketFor("upload-1", 3);
    h.clock.now += 31 * 60 * 1000;
    const response = await upload(ticket, "/chunks/1", { rawBody: new Uint8Array(3) });
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe("UPLOAD_TICKET_EXPIRED");
  });
});

describe("editor uploads are publishes: bounded like every other", () => {
  it("keeps a ticket issued before a key rotation working with the previous key", async () => {
    const ticket = (await (
      await h.call("POST", "/upload-ticket", { user: "editor", localId: "rotate", body: { size: 3 } })
    ).json()) as Ticket;
    const rotated = {
      APP_PSK: ["rotated", "deployment", "secret", "of", "enough", "bytes"].join("-"),
      APP_PSK_PREVIOUS: TEST_APP_PSK,
    };
    const put = await h.call("PUT", `/uploads/${ticket.ticket}/chunks/1`, {
      user: "editor",
      userToken: null,
      localId: "rotate",
      rawBody: new Uint8Array(3),
      env: rotated,
    });
    expect(put.status, await put.clone().text()).toBe(200);
    // A ticket of a key that is no longer current or previous is nobody's.
    const retired = await h.call("PUT", `/uploads/${ticket.ticket}/chunks/1`, {
      user: "editor",
      userToken: null,
      localId: "rotate",
      rawBody: new Uint8Array(3),
      env: {
        APP_PSK: rotated.APP_PSK,
        APP_PSK_PREVIOUS: ["a", "third", "deployment", "secret", "value", "here"].join("-"),
      },
    });
    expect(retired.status).toBe(404);
  });

  it("counts a ticket against the tenant's publish rate, and a site the first upload makes against its site quota", async () => {
    const bounded = await startHarness({ env: { RATE_PUBLISHES_PER_WINDOW: "2", QUOTA_MAX_SITES: "2" } });
    try {
      const ticket = (localId: string, content = PAGE) =>
        bounded.call("POST", "/upload-ticket", { user: "editor", localId, content, body: { size: 3 } });
      expect((await ticket("rate-1")).status).toBe(200);
      expect((await ticket("rate-2")).status).toBe(200);
      const third = await ticket("rate-3");
      expect(third.status).toBe(429);
      expect(third.headers.get("retry-after")).toMatch(/^[0-9]+$/);
      // Two macros made two sites, each audited as created; the quota allows no third.
      bounded.clock.now += 10 * 60 * 1000;
      const quota = await ticket("rate-3");
      expect(quota.status).toBe(403);
      expect(await errorCode(quota)).toBe("QUOTA_SITES");
      const created = (await bounded.audits()).filter((a) => a.action === "site.create");
      expect(created).toHaveLength(2);
      expect(created[0]?.detail).toMatchObject({ origin: "macro" });
    } finally {
      await bounded.close();
    }
  });
});

describe("state", () => {
  it("shows the editor the bound site, its live version and whether they may edit", async () => {
    const { siteId } = await h.seedSite({ bindTo: { content: PAGE, localId: "state-1" } });
    const editor = await (await h.call("GET", "/state", { user: "editor", localId: "state-1" })).json();
    expect(editor).toMatchObject({
      state: "PUBLISHED",
      bound: true,
      canEdit: true,
      site: { id: siteId, liveVersion: 1 },
    });
    const viewer = await (await h.call("GET", "/state", { user: "viewer", localId: "state-1" })).json();
    expect(viewer).toMatchObject({ canEdit: false });
    const unbound = await (
      await h.call("GET", "/state", { user: "editor", localId: `${LOCAL_ID}-none` })
    ).json();
    expect(unbound).toMatchObject({ state: "NOT_PUBLISHED", bound: false, site: null });
  });

  it("refuses a user who may not read the page", async () => {
    const response = await h.call("GET", "/state", { user: "outsider", localId: "state-1" });
    expect(response.status).toBe(403);
  });
});
