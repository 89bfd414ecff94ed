/**
 * The documented rotation procedure (docs/operations.md, "Rotation"), walked through with the real
 * dispatch Worker: at every step, every grant a viewer can still hold — minted by the control Worker
 * at that step or before, and not yet expired — is let in. No viewer sees a 401. And the wrong order
 * (the control Worker switching first) is shown to break viewers, which is why the order is the
 * procedure.
 */

import {
  type DeploymentIdentity,
  KEY_PURPOSE,
  keyringFor,
  mintGrant,
  newSiteId,
  requireIdentity,
} from "@mini-sites/core";
import { describe, expect, it } from "vitest";
import { OTHER_APP_PSK, TENANT, TEST_APP_PID, TEST_APP_PSK } from "./fixtures.ts";
import { send, siteOrigin, testEnv } from "./helpers.ts";

const OLD = TEST_APP_PSK;
const NEW = OTHER_APP_PSK;
const TTL_SECONDS = 600;

type Secrets = { APP_PSK: string; APP_PSK_PREVIOUS?: string };

interface Step {
  readonly name: string;
  readonly control: Secrets;
  readonly dispatch: Secrets;
  /** Seconds since the rotation began. */
  readonly at: number;
}

const PROCEDURE: readonly Step[] = [
  { name: "before", control: { APP_PSK: OLD }, dispatch: { APP_PSK: OLD }, at: 0 },
  {
    name: "1. every dispatch Worker: the new secret, the old one as APP_PSK_PREVIOUS",
    control: { APP_PSK: OLD },
    dispatch: { APP_PSK: NEW, APP_PSK_PREVIOUS: OLD },
    at: 60,
  },
  {
    name: "2. the control Worker: the new secret, the old one as APP_PSK_PREVIOUS",
    control: { APP_PSK: NEW, APP_PSK_PREVIOUS: OLD },
    dispatch: { APP_PSK: NEW, APP_PSK_PREVIOUS: OLD },
    at: 120,
  },
  {
    name: "3. a grant TTL after step 2: APP_PSK_PREVIOUS removed everywhere",
    control: { APP_PSK: NEW },
    dispatch: { APP_PSK: NEW },
    at: 120 + TTL_SECONDS + 1,
  },
];

const identity = (secrets: Secrets): DeploymentIdentity =>
  requireIdentity({ APP_PID: TEST_APP_PID, ...secrets });

async function enter(site: ReturnType<typeof newSiteId>, grant: string, dispatch: Secrets) {
  const env = {
    ...testEnv,
    APP_PID: TEST_APP_PID,
    APP_PSK: dispatch.APP_PSK,
    APP_PSK_PREVIOUS: dispatch.APP_PSK_PREVIOUS,
  };
  const response = await send(`${siteOrigin(site)}/__ms/enter/${grant}`, {}, env);
  return { status: response.status, code: response.headers.get("x-mini-sites-error") };
}

/** The control Worker's grant for `site` at this step, minted now (the steps' clock only decides expiry). */
async function mint(site: ReturnType<typeof newSiteId>, control: Secrets): Promise<string> {
  const keyring = await keyringFor(identity(control), KEY_PURPOSE.grant);
  const minted = await mintGrant(
    keyring,
    { siteId: site, version: 1, tenantId: TENANT, ttlSeconds: TTL_SECONDS },
    Date.now(),
  );
  return minted.text;
}

describe("rotating APP_PSK by the documented procedure", () => {
  it("lets every unexpired grant in at every step", async () => {
    const site = newSiteId();
    const held: { grant: string; mintedAt: Step }[] = [];
    for (const step of PROCEDURE) {
      // A page load or a renewal at this step: the control Worker mints with its current key.
      held.push({ grant: await mint(site, step.control), mintedAt: step });
      // Every grant minted less than a TTL before this step is still in some viewer's cookie.
      for (const { grant, mintedAt } of held.filter((g) => g.mintedAt.at + TTL_SECONDS > step.at)) {
        const answer = await enter(site, grant, step.dispatch);
        expect(answer, `${step.name}: a grant minted at "${mintedAt.name}"`).toEqual({
          status: 303,
          code: null,
        });
      }
    }
    // Step 3 really is past the TTL of everything minted before step 2 (else removing the old key would cut
    // off viewers): the schedule above is the procedure's, not a convenience of the test.
    const last = PROCEDURE[3] as Step;
    expect(PROCEDURE.slice(0, 2).every((s) => s.at + TTL_SECONDS <= last.at)).toBe(true);
  });

  it("breaks viewers when the control Worker switches first — the reason for the order", async () => {
    const site = newSiteId();
    const grant = await mint(site, { APP_PSK: NEW, APP_PSK_PREVIOUS: OLD });
    expect(await enter(site, grant, { APP_PSK: OLD })).toEqual({
      status: 401,
      code: "GRANT_KEY_UNKNOWN",
    });
  });
});
