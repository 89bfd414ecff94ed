/**
 * The Forge app as the stand-in sees it: forge-app/manifest.yml, read the way Forge reads it, with
 * `${VAR}` replaced from the deployment's environment variables (here: the local stack's URLs) or
 * the manifest's own defaults — as `forge variables set` would for a real environment.
 */

import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

export const FORGE_APP_DIR = fileURLToPath(new URL("../../../forge-app/", import.meta.url));
export const MANIFEST_PATH = `${FORGE_APP_DIR}manifest.yml`;

export interface ForgeModule {
  readonly key: string;
  readonly resource?: string;
  readonly resolver?: { readonly function?: string; readonly endpoint?: string };
  readonly function?: string;
  /** A trigger's or preUninstall's endpoint module; an endpoint's own `route` below. */
  readonly endpoint?: string;
  readonly route?: { readonly path: string };
  readonly handler?: string;
  readonly events?: readonly string[];
  readonly remote?: string;
  readonly auth?: {
    readonly appUserToken?: { readonly enabled: boolean };
    readonly appSystemToken?: { readonly enabled: boolean };
  };
  /** A scheduledTrigger's interval. */
  readonly interval?: "fiveMinute" | "hour" | "day" | "week";
  readonly config?: { readonly resource?: string; readonly title?: string } | boolean;
  readonly adfExport?: { readonly function: string };
  readonly title?: string;
  readonly layout?: string;
}

export interface ForgeManifest {
  readonly app: { readonly id: string };
  readonly modules: Readonly<Record<string, readonly ForgeModule[]>>;
  readonly remotes?: readonly {
    readonly key: string;
    readonly baseUrl: string;
    readonly operations?: readonly string[];
    readonly auth?: { readonly appUserToken?: { readonly enabled: boolean } };
  }[];
  readonly resources: readonly { readonly key: string; readonly path: string }[];
  readonly permissions?: Record<string, unknown>;
  readonly environment?: { readonly variables?: readonly (string | { key: string; default: string })[] };
}

/** Reads the manifest, substituting `${VAR}` from `variables`, then the manifest's defaults. */
export async function loadManifest(
  variables: Readonly<Record<string, string>> = {},
  path = MANIFEST_PATH,
): Promise<ForgeManifest> {
  const text = await readFile(path, "utf8");
  const declared = (parse(text) as ForgeManifest).environment?.variables ?? [];
  const defaults: Record<string, string> = {};
  for (const variable of declared)
    if (typeof variable === "object") defaults[variable.key] = variable.default;
  const substituted = text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_whole, name: string) => {
    const value = variables[name] ?? defaults[name];
    if (value === undefined) throw new Error(`manifest.yml uses \${${name}}, which has no value`);
    return value;
  });
  return parse(substituted) as ForgeManifest;
}

export function modulesOf(manifest: ForgeManifest, type: string): readonly ForgeModule[] {
  return manifest.modules[type] ?? [];
}

export function moduleByKey(manifest: ForgeManifest, type: string, key: string): ForgeModule | undefined {
  return modulesOf(manifest, type).find((module) => module.key === key);
}

/** The `function` module's handler (`index.installed` → export `installed` of src/index). */
export function handlerOf(manifest: ForgeManifest, functionKey: string): string | undefined {
  const handler = moduleByKey(manifest, "function", functionKey)?.handler;
  return handler?.split(".").at(-1);
}

/** The remote an endpoint module calls, with its base URL. */
export function remoteOfEndpoint(manifest: ForgeManifest, endpointKey: string) {
  const endpoint = moduleByKey(manifest, "endpoint", endpointKey);
  if (endpoint?.remote === undefined) return undefined;
  const remote = manifest.remotes?.find((r) => r.key === endpoint.remote);
  return remote === undefined ? undefined : { endpoint, remote };
}
