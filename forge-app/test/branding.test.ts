/**
 * The branding the app proposes at registration (src/branding.ts): taken from its Forge variables,
 * and never a value the control Worker would refuse — a typo must not keep a tenant from registering.
 */

import { describe, expect, it } from "vitest";
import { appBranding, DEFAULT_DISPLAY_NAME } from "../src/branding.ts";

describe("appBranding", () => {
  it("proposes the configured name and https support link", () => {
    expect(
      appBranding({
        MINI_SITES_DISPLAY_NAME: " Acme Sites ",
        MINI_SITES_SUPPORT_URL: "https://help.acme.example/",
      }),
    ).toEqual({ displayName: "Acme Sites", supportUrl: "https://help.acme.example/" });
  });

  it("falls back to the product name and leaves out a link that is unset or would be refused", () => {
    expect(appBranding({})).toEqual({ displayName: DEFAULT_DISPLAY_NAME });
    for (const bad of ["javascript:alert(1)", "http://help.acme.example/", "not a url"])
      expect(appBranding({ MINI_SITES_DISPLAY_NAME: "Acme\u202e", MINI_SITES_SUPPORT_URL: bad })).toEqual({
        displayName: DEFAULT_DISPLAY_NAME,
      });
  });
});
