/**
 * DESIGN §6 invariant 3 for the Macro API: a tenant is one installation (Forge app id + installation +
 * cloudId). A FIT of tenant A never gets a grant for, binds, uploads to or reads the state of tenant B's
 * site, even when every page id and macro local id is the same.
 *
 * What "never" answers: requests that NAME a site (bind, an upload ticket) answer 404, exactly as for a
 * site that does not exist. Requests that find the site through the macro (serve-url, state) answer
 * NOT_PUBLISHED: the binding lookup is keyed by A's tenant and cloudId from A's signed FIT, so B's
 * binding is simply not there for A — the same answer as an unbound macro, hence no oracle either.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  APP_ID,
  CLOUD_ID,
  type Harness,
  INSTALLATION_ID,
  type Installation,
  OTHER_CLOUD_ID,
  OTHER_INSTALLATION_ID,
  PAGE,
  SIBLING_APP_ID,
  startHarness,
  TENANT_A,
} from "./support.ts";

const OTHER_CLOUD: Installation = {
  appId: APP_ID,
  installationId: OTHER_INSTALLATION_ID,
  cloudId: OTHER_CLOUD_ID,
};
const SIBLING_APP: Installation = {
  appId: SIBLING_APP_ID,
  installationId: OTHER_INSTALLATION_ID,
  cloudId: CLOUD_ID,
};
/** The same app and cloud under a new installation id (reinstalled while the old tenant is still recorded). */
const REINSTALLED: Installation = { appId: APP_ID, installationId: OTHER_INSTALLATION_ID, cloudId: CLOUD_ID };

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const cases: [string, Installation, Installation][] = [
  ["another Confluence site (cloudId)", TENANT_A, OTHER_CLOUD],
  ["a sibling app installed on the same site", TENANT_A, SIBLING_APP],
];

describe.each(cases)("a FIT of %s", (_name, victim, attacker) => {
  it("gets NOT_PUBLISHED, never a grant, for the victim's macro (same page id, same local id)", async () => {
    await h.seedSite({ installation: victim, bindTo: { content: PAGE, localId: "iso-serve" } });
    const own = await h.call("POST", "/serve-url", { installation: victim, localId: "iso-serve" });
    expect(await own.json()).toMatchObject({ state: "PUBLISHED" }); // the control: the owner is served
    const response = await h.call("POST", "/serve-url", { installation: attacker, localId: "iso-serve" });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ state: "NOT_PUBLISHED" });
  });

  it("cannot read the victim macro's state", async () => {
    await h.seedSite({ installation: victim, bindTo: { content: PAGE, localId: "iso-state" } });
    const response = await h.call("GET", "/state", {
      installation: attacker,
      user: "editor",
      localId: "iso-state",
    });
    expect(await response.json()).toMatchObject({ state: "NOT_PUBLISHED", bound: false, site: null });
  });

  it("cannot bind the victim's site: 404, like a site that does not exist", async () => {
    const { siteId } = await h.seedSite({
      installation: victim,
      bindTo: { content: PAGE, localId: "iso-bind-source" },
    });
    const response = await h.call("POST", "/bind", {
      installation: attacker,
      user: "editor",
      localId: "iso-bind",
      body: { siteId },
    });
    expect(response.status).toBe(404);
    const missing = await h.call("POST", "/bind", {
      installation: attacker,
      user: "editor",
      localId: "iso-bind",
      body: { siteId: "aaaaaaaaaaaaa" },
    });
    expect(await response.clone().text()).toBe(await missing.text());
    const owner = await h.call("POST", "/bind", {
      installation: victim,
      user: "editor",
      localId: "iso-bind",
      body: { siteId },
    });
    expect(owner.status).toBe(200); // the control: in its own tenant, the owner's editor may (fork and) bind it
    const serve = await h.call("POST", "/serve-url", { installation: attacker, localId: "iso-bind" });
    expect(await serve.json()).toEqual({ state: "NOT_PUBLISHED" });
  });

  it("cannot fork the victim's site from a copied page either", async () => {
    const { siteId } = await h.seedSite({
      installation: victim,
      bindTo: { content: PAGE, localId: "iso-fork" },
    });
    const response = await h.call("POST", "/bind", {
      installation: attacker,
      user: "editor",
      content: { id: "1002", type: "page" },
      localId: "iso-fork",
      body: { siteId },
    });
    expect(response.status).toBe(404);
  });

  it("cannot upload with the victim's ticket: 404", async () => {
    await h.seedSite({ installation: victim, bindTo: { content: PAGE, localId: "iso-upload" } });
    const issued = await h.call("POST", "/upload-ticket", {
      installation: victim,
      user: "editor",
      localId: "iso-upload",
      body: { size: 3 },
    });
    const { ticket } = (await issued.json()) as { ticket: string };
    const put = await h.call("PUT", `/uploads/${ticket}/chunks/1`, {
      installation: attacker,
      user: "editor",
      userToken: null,
      localId: "iso-upload",
      rawBody: new Uint8Array(3),
    });
    expect(put.status).toBe(404);
    const complete = await h.call("POST", `/uploads/${ticket}/complete`, {
      installation: attacker,
      user: "editor",
      userToken: null,
      localId: "iso-upload",
    });
    expect(complete.status).toBe(404);
  });
});

describe("a reinstalled app (same app and cloud, new installation id)", () => {
  it("does not inherit the recorded installation's sites", async () => {
    expect(REINSTALLED.installationId).not.toBe(INSTALLATION_ID);
    const { siteId } = await h.seedSite({
      installation: TENANT_A,
      bindTo: { content: PAGE, localId: "iso-reinstall" },
    });
    // The FIT's installation is not the tenant's: refused outright, before any lookup (no grant, no site).
    const serve = await h.call("POST", "/serve-url", { installation: REINSTALLED, localId: "iso-reinstall" });
    expect(serve.status).toBe(403);
    expect(await serve.json()).toMatchObject({ error: { code: "INSTALLATION_MISMATCH" } });
    const bind = await h.call("POST", "/bind", {
      installation: REINSTALLED,
      user: "editor",
      localId: "iso-reinstall-2",
      body: { siteId },
    });
    expect(bind.status).toBe(403);
    expect(JSON.stringify(await bind.json())).not.toContain(siteId);
  });
});
